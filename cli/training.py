"""What every `treeseq train ...` command shares: the options, calling `treeseq.train`, the console lines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from treeseq.cli.common import cli_errors, console, setup_logging

if TYPE_CHECKING:
    from treeseq.training.engine import FitResult, TrainState

# The options every `train` command takes, declared once.
Output = Annotated[Path, typer.Option("--output", "-o", help="Where to write the best model archive.", dir_okay=False)]
Epochs = Annotated[Optional[int], typer.Option(help="Training epochs (default: the model family's).", min=1)]
TrainSeed = Annotated[Optional[int], typer.Option("--seed", help="Random seed (default 1).")]
Resume = Annotated[bool, typer.Option(help="Continue exactly from <output stem>.last.pt.")]
ConfigFile = Annotated[Optional[Path], typer.Option("--config", help="TOML file with model, train (and data) sections, e.g. docs/configs/sst-fine.toml.")]
Overrides = Annotated[Optional[list[str]], typer.Option("--set", help="Override a setting: SECTION.KEY=VALUE.")]
Precision = Annotated[Optional[str], typer.Option(help="fp32, bf16 or fp16 (autocast).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or epoch lines.")]


def run_train(family: str, data_dir: Path, output: Path, quiet: bool, verbose: bool, **options: Any) -> None:
    """Call `treeseq.train` with epoch lines and a closing summary; exit 130 when interrupted."""
    setup_logging(verbose)
    with cli_errors(verbose):
        from treeseq.api import train  # noqa: PLC0415 (torch loads only when a command runs)

        overrides = options.pop("set_", None)
        result = train(
            family, data_dir, output, overrides=overrides, progress=not quiet,
            epoch_hook=None if quiet else print_epoch, announce=None if quiet else console.print, **options,
        )  # fmt: skip
    if not quiet and os.environ.get("RANK", "0") == "0":  # torchrun: the main process reports
        print_result(result, output)
    if result.status == "interrupted":
        raise typer.Exit(code=130)


def print_epoch(state: TrainState, record: dict) -> None:
    """One line per epoch: training loss, every dev metric, throughput, `*` when the best so far."""
    dev = ", ".join(f"{k[4:]} {v * 100:.2f}" for k, v in record.items() if k.startswith("dev_"))
    mark = " *" if record["improved"] else ""
    rate = next((f"{v:,.0f} {k[:-6]}/s" for k, v in record.items() if k.endswith("_per_s")), "")
    console.print(f"epoch {record['epoch']:3d}  loss {record['train_loss']:.4f}  dev {dev}  {rate}{mark}")


def print_result(result: FitResult, output: Path) -> None:
    """Where the model, the last checkpoint and the metrics log went, or how to resume."""
    from treeseq.training.engine import paths_for  # noqa: PLC0415

    last, log = paths_for(output)
    state = result.state
    if result.status == "interrupted":
        console.print(f"interrupted at epoch {state.epoch + 1}, step {state.global_step}: resume with --resume ({last})")
        return
    console.print(
        f"{result.status}: best dev {state.best_metric * 100:.2f} at epoch {state.best_epoch}; "
        f"model {output}, last checkpoint {last}, metrics {log}"
    )
