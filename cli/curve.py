"""`treeseq curve`: a run's dev metric by epoch, as a table and optionally a picture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.table import Table

from treeseq.cli.common import Verbose, cli_errors, console
from treeseq.curves import metric_names, metric_value, plot_curve, read_epochs, read_steps
from treeseq.errors import ConfigError


def curve(
    metrics: Annotated[list[Path], typer.Argument(help="Training runs' metrics logs (<output stem>.metrics.jsonl); several are drawn over each other.", exists=True, dir_okay=False)],
    metric: Annotated[Optional[str], typer.Option("--metric", help="Dev metric to show (default: the one the first run selected models on, e.g. root_acc, f1, bleu).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also draw the curves: a .png or .svg file.", dir_okay=False)] = None,
    title: Annotated[str, typer.Option(help="Title of the picture.")] = "",
    format: Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text (a table per run) or jsonl (one record an epoch).")] = "text",
    steps: Annotated[bool, typer.Option("--steps", help="Draw the training loss of every logged step, not one point an epoch.")] = False,
    verbose: Verbose = False,
) -> None:
    """Print the dev metric and training loss of every epoch; with --output, draw them (the best epoch marked).

    Example: treeseq curve runs/lstm.metrics.jsonl runs/rntn.metrics.jsonl -o compare.png
    """
    with cli_errors(verbose):
        if output is not None and output.suffix.lower() not in (".png", ".svg"):
            raise ConfigError(f"--output {output}: the file name must end in .png or .svg")
        runs = [(path.name.removesuffix(".metrics.jsonl") if len(metrics) > 1 else "", read_epochs(path)) for path in metrics]
        first = runs[0][1]
        chosen = metric or first[-1].get("metric") or metric_names(first)[0]  # the run's selection metric
        for path, (name, epochs) in zip(metrics, runs):
            if chosen not in metric_names(epochs):
                raise ConfigError(f"--metric {chosen!r}: {path} has {', '.join(metric_names(epochs))}")
            if format == "jsonl":
                for record in epochs:
                    typer.echo(json.dumps({**({"run": name} if name else {}), "epoch": record["epoch"], chosen: metric_value(record, chosen),
                                           "train_loss": record.get("train_loss"), "seconds": record.get("seconds")}))  # fmt: skip
                continue
            table = Table("epoch", f"dev {chosen}", "train loss", "seconds", title=name or None)
            for record in epochs:
                value = metric_value(record, chosen)
                loss = record.get("train_loss")
                table.add_row(str(record["epoch"]), "" if value is None else f"{value:.2f}",
                              f"{loss:.4f}" if isinstance(loss, (int, float)) else "", f"{record.get('seconds') or 0:.0f}")  # fmt: skip
            console.print(table)
        if output is not None:
            step_losses = [read_steps(path) for path in metrics] if steps else None
            plot_curve(runs if len(runs) > 1 else first, chosen, output, title, step_losses)
            if format == "text":
                console.print(f"wrote {output}", markup=False)
