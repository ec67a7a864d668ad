"""What every `treeseq train ...` command shares: running the engine and reporting on the console."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional
import torch
import typer

from cli.common import console
from treeseq.config import TrainConfig
from treeseq.training.distributed import DistInfo, shutdown
from treeseq.training.engine import FitResult, Task, TrainState, fit, paths_for


# The options every `train` command takes, declared once.
Output = Annotated[Path, typer.Option("--output", "-o", help="Where to write the best model archive.", dir_okay=False)]
Epochs = Annotated[Optional[int], typer.Option(help="Training epochs (default: the model family's).", min=1)]
TrainSeed = Annotated[Optional[int], typer.Option("--seed", help="Random seed (default 1).")]
Resume = Annotated[bool, typer.Option(help="Continue exactly from <output stem>.last.pt.")]
ConfigFile = Annotated[Optional[Path], typer.Option("--config", help="TOML file with model, train (and data) sections, e.g. docs/configs/sst-fine.toml.")]
Overrides = Annotated[Optional[list[str]], typer.Option("--set", help="Override a setting: SECTION.KEY=VALUE.")]
Precision = Annotated[Optional[str], typer.Option(help="fp32, bf16 or fp16 (autocast).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or epoch lines.")]


def run_training(
    task: Task, model: torch.nn.Module, train_cfg: TrainConfig, output: Path, device: torch.device,
    dist_info: DistInfo, resume: bool, quiet: bool,
) -> None:  # fmt: skip
    """Train on the engine with epoch lines and a closing summary; exit 130 when interrupted."""
    result = fit(
        task, model, train_cfg, output, device, dist_info=dist_info, resume=resume,
        show_progress=not quiet, epoch_hooks=[] if quiet or not dist_info.is_main else [print_epoch],
    )  # fmt: skip
    shutdown(dist_info)
    if dist_info.is_main and not quiet:
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
    last, log = paths_for(output)
    state = result.state
    if result.status == "interrupted":
        console.print(f"interrupted at epoch {state.epoch + 1}, step {state.global_step}: resume with --resume ({last})")
        return
    console.print(
        f"{result.status}: best dev {state.best_metric * 100:.2f} at epoch {state.best_epoch}; "
        f"model {output}, last checkpoint {last}, metrics {log}"
    )
