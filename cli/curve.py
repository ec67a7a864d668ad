"""`treeseq curve`: a run's dev metric by epoch, as a table and optionally a picture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.table import Table

from treeseq.cli.common import Verbose, cli_errors, console
from treeseq.curves import metric_names, metric_value, plot_curve, read_epochs
from treeseq.errors import ConfigError


def curve(
    metrics: Annotated[Path, typer.Argument(help="A training run's metrics log (<output stem>.metrics.jsonl).", exists=True, dir_okay=False)],
    metric: Annotated[Optional[str], typer.Option("--metric", help="Dev metric to show (default: the one the run selected models on, e.g. root_acc, f1, bleu).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also draw the curve: a .png or .svg file.", dir_okay=False)] = None,
    title: Annotated[str, typer.Option(help="Title of the picture.")] = "",
    format: Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text (a table) or jsonl (one record an epoch).")] = "text",
    verbose: Verbose = False,
) -> None:
    """Print the dev metric and training loss of every epoch; with --output, draw them.

    Example: treeseq curve runs/de-en.metrics.jsonl -o curve.png
    """
    with cli_errors(verbose):
        if output is not None and output.suffix.lower() not in (".png", ".svg"):
            raise ConfigError(f"--output {output}: the file name must end in .png or .svg")
        epochs = read_epochs(metrics)
        names = metric_names(epochs)
        chosen = metric or epochs[-1].get("metric") or names[0]  # the run's selection metric
        if chosen not in names:
            raise ConfigError(f"--metric {chosen!r}: this log has {', '.join(names)}")
        if format == "jsonl":
            for record in epochs:
                typer.echo(json.dumps({"epoch": record["epoch"], chosen: metric_value(record, chosen),
                                       "train_loss": record.get("train_loss"), "seconds": record.get("seconds")}))  # fmt: skip
        table = Table("epoch", f"dev {chosen}", "train loss", "seconds")
        for record in epochs:
            value = metric_value(record, chosen)
            table.add_row(str(record["epoch"]), "" if value is None else f"{value:.2f}",
                          f"{record.get('train_loss', float('nan')):.4f}", f"{record.get('seconds', 0):.0f}")  # fmt: skip
        if format == "text":
            console.print(table)
        if output is not None:
            plot_curve(epochs, chosen, output, title)
            console.print(f"wrote {output}")
