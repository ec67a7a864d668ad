"""What every `treeseq train ...` command shares: the options, declared once, calling `treeseq.train`,
and the console lines.

`train_command(app, family)` registers a family's command: the family's own options (its function's
parameters) followed by every shared training option, with the family's resolved defaults in the help.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal, Optional

import typer

from treeseq.cli.common import DataDir, Device, Verbose, cli_errors, console, err_console, setup_logging
from treeseq.cli.helpstyle import Command
from treeseq.config import FAMILY_TRAIN_DEFAULTS, OPTIMIZERS, SCHEDULES, TrainConfig
from treeseq.errors import ConfigError

if TYPE_CHECKING:
    from treeseq.training.engine import FitResult, TrainState

Opt = Optional
Output = Annotated[Path, typer.Option("--output", "-o", help="Where to write the best model archive.", dir_okay=False)]
Vectors = Annotated[Opt[Path], typer.Option(help="word2vec/GloVe text file to initialise the word embeddings.")]
SpacyVectors = Annotated[Opt[str], typer.Option(help="Initialise the word embeddings from a spaCy pipeline's vectors.")]
TrainFile = Annotated[str, typer.Option(help="Training trees inside --data-dir.")]
DevFile = Annotated[str, typer.Option(help="Development trees inside --data-dir.")]


def _default(family: str, name: str) -> Any:
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    return FAMILY_TRAIN_DEFAULTS[family].get(name, defaults[name])


def shared_options(family: str) -> list[inspect.Parameter]:
    """The training options of every `train` command, their help showing this family's defaults."""
    d = functools.partial(_default, family)
    batch_unit = {"translator": "padded target tokens", "lm": "parallel streams"}.get(family, "sentences")
    specs: list[tuple[str, Any, Any]] = [
        ("epochs", Annotated[Opt[int], typer.Option(help=f"Training epochs (default: {d('epochs')}).", min=1, show_default=False)], None),
        ("seed", Annotated[Opt[int], typer.Option(help=f"Random seed (default: {d('seed')}).", show_default=False)], None),
        ("batch_size", Annotated[Opt[int], typer.Option("--batch-size", help=f"{batch_unit.capitalize()} per batch (default: {d('batch_size')}).", min=1, show_default=False)], None),
        ("optimizer", Annotated[Opt[Literal["adagrad", "adam", "adamw", "sgd"]], typer.Option(help=f"{', '.join(OPTIMIZERS)} (default: {d('optimizer')}).", show_default=False)], None),
        ("lr", Annotated[Opt[float], typer.Option(help=f"Learning rate (default: {d('lr')}).", show_default=False)], None),
        ("weight_decay", Annotated[Opt[float], typer.Option(help=f"Weight decay of dense weights (default: {d('weight_decay')}).", show_default=False)], None),
        ("schedule", Annotated[Opt[Literal["constant", "linear", "cosine", "plateau"]], typer.Option(help=f"{', '.join(SCHEDULES)} (default: {d('schedule')}).", show_default=False)], None),
        ("clip_norm", Annotated[Opt[float], typer.Option(help=f"Gradient-norm clipping, 0 off (default: {d('clip_norm')}).", show_default=False)], None),
        ("patience", Annotated[Opt[int], typer.Option(help=f"Stop after N epochs without dev improvement, 0 never (default: {d('patience')}).", show_default=False)], None),
        ("limit", Annotated[Opt[int], typer.Option(help="Train on a random sample of N training examples, drawn with the seed (the dev split stays whole; default: all).", min=1, show_default=False)], None),
        ("checkpoint_every", Annotated[Opt[int], typer.Option(help="Also write the last checkpoint every N steps (default: at epoch ends).", show_default=False)], None),
        ("precision", Annotated[Opt[Literal["fp32", "bf16", "fp16"]], typer.Option(help=f"fp32, bf16 or fp16 (autocast) (default: {d('precision')}).", show_default=False)], None),
        ("device", Device, "auto"),
        ("seeds", Annotated[Opt[str], typer.Option(help="Train one model per seed (1,2,3 or 1-5), each <stem>.seedS.pt, and write their ensemble at --output and their dev figures, mean and sd in <stem>.seeds.json.", show_default=False)], None),
        ("jobs", Annotated[int, typer.Option(help="With --seeds: models trained at once, each in its own process (set OMP_NUM_THREADS to cores / jobs).", min=1)], 1),
        ("resume", Annotated[bool, typer.Option(help="Continue exactly from <output stem>.last.pt (with --seeds: every unfinished member).")], False),
        ("overwrite", Annotated[bool, typer.Option(help="Replace a finished run at --output (refused otherwise).")], False),
        ("config", Annotated[Opt[Path], typer.Option("--config", help="TOML file with \\[model], \\[train] (and \\[data]) sections.")], None),
        ("set_", Annotated[Opt[list[str]], typer.Option("--set", help="Override a setting: SECTION.KEY=VALUE.")], None),
        ("quiet", Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or epoch lines.")], False),
        ("verbose", Verbose, False),
    ]
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for name, annotation, default in specs]  # fmt: skip


# The model defaults the shared model options' help shows, by family (the command line reads no model
# code when it starts; tests/cli/test_command_surface.py checks these against the families' configs).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "tree": {"embed_dim": 300, "hidden_size": 150, "dropout": 0.5},
    "parser": {"embed_dim": 100, "hidden_size": 200, "dropout": 0.3},
    "tagger": {"embed_dim": 100, "hidden_size": 200, "dropout": 0.33},
    "classifier": {"embed_dim": 100, "hidden_size": 150, "dropout": 0.5},
    "translator": {"embed_dim": 256, "hidden_size": 512, "dropout": 0.3},
    "lm": {"embed_dim": 256, "hidden_size": 256, "dropout": 0.3},
}


def train_command(app: typer.Typer, family: str) -> Callable[[Callable[..., dict]], Callable[..., None]]:
    """Register `treeseq train FAMILY`: the decorated function takes the family's own options and returns
    them as `treeseq.train` options (converted where needed); the shared options are added here."""

    def register(func: Callable[..., dict]) -> Callable[..., None]:
        hints = typing.get_type_hints(func, include_extras=True)
        own = [p.replace(annotation=hints[p.name]) for p in inspect.signature(func).parameters.values()]
        head = [inspect.Parameter("data_dir", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=DataDir),
                inspect.Parameter("output", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Output)]  # fmt: skip
        shared = shared_options(family)
        names = {p.name for p in shared}

        @functools.wraps(func)
        def command(data_dir: Path, output: Path, **values: Any) -> None:
            common = {k: v for k, v in values.items() if k in names}
            options = func(**{k: v for k, v in values.items() if k not in names})
            run_train(family, data_dir, output, common.pop("quiet"), common.pop("verbose"), **common, **options)

        command.__signature__ = inspect.Signature(head + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + shared)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}  # type: ignore[attr-defined]
        del command.__wrapped__  # Typer reads __signature__, not the wrapped function's
        app.command(family, cls=Command.with_defaults(MODEL_DEFAULTS.get(family, {})))(command)
        return command

    return register


def run_train(family: str, data_dir: Path, output: Path, quiet: bool, verbose: bool, **options: Any) -> None:
    """Call `treeseq.train` with epoch lines and a closing summary; exit 130 when interrupted."""
    setup_logging(verbose)
    with cli_errors(verbose):
        from treeseq.api import train  # noqa: PLC0415 (torch loads only when a command runs)

        overrides = options.pop("set_", None)
        seeds, jobs = options.pop("seeds", None), options.pop("jobs", 1)
        if seeds is not None:
            _run_seeds(family, data_dir, output, quiet, seeds, jobs, overrides=overrides, **options)
            return
        if jobs != 1:
            raise ConfigError("--jobs applies with --seeds (several models trained at once)")
        result = train(  # the bar and the epoch lines share stderr's console: each line lands above the bar
            family, data_dir, output, overrides=overrides, progress=False if quiet else err_console,
            epoch_hook=None if quiet else print_epoch, announce=None if quiet else _announce, **options,
        )  # fmt: skip
    if not quiet and os.environ.get("RANK", "0") == "0":  # torchrun: the main process reports
        print_result(result, output)
    if result.status == "interrupted":
        raise typer.Exit(code=130)


def _run_seeds(family: str, data_dir: Path, output: Path, quiet: bool, seeds: str, jobs: int, **options: Any) -> None:
    """`--seeds`: the members' epoch lines (each with its seed), then the members' and the ensemble's figures."""
    from treeseq.api import train  # noqa: PLC0415

    def epoch_line(seed: int, state: Any, record: dict) -> None:
        print_epoch(state, record, prefix=f"seed {seed}  ")

    with cli_errors(False):
        result = train(family, data_dir, output, seeds=seeds, jobs=jobs, progress=False if quiet or jobs > 1 else err_console,
                       epoch_hook=None if quiet else epoch_line, announce=None if quiet else _announce, **options)  # fmt: skip
    if result.status == "interrupted":
        unfinished = ", ".join(str(m.seed) for m in result.members if m.status == "interrupted")
        console.print(f"interrupted (seeds {unfinished} unfinished): continue with --resume", markup=False)
        raise typer.Exit(code=130)
    if not quiet:
        print_seeds(result.summary, result.summary_path)


def print_seeds(summary: dict, path: Path | None) -> None:
    """Each member's dev figures, their mean ± sd, and the ensemble's, as one table."""
    from rich.table import Table  # noqa: PLC0415

    names = list(summary["mean"])
    table = Table(title=f"{summary['split']}: {summary['data']}")
    table.add_column("model")
    for name in names:
        table.add_column(name, justify="right")
    for member in summary["members"]:
        table.add_row(f"seed {member['seed']}", *(f"{member['metrics'][n]:.2f}" for n in names))
    sd = summary["sd"]
    table.add_row("mean ± sd", *(f"{summary['mean'][n]:.2f} ± {sd[n]:.2f}" if sd[n] is not None else f"{summary['mean'][n]:.2f}"
                                 for n in names))  # fmt: skip
    ensemble = summary["ensemble"]
    table.add_row(f"ensemble of {ensemble['size']}", *(f"{ensemble['metrics'][n]:.2f}" for n in names))
    console.print(table)
    console.print(f"ensemble {ensemble['path']}, figures {path}", markup=False)


def _announce(line: str) -> None:
    console.print(line, markup=False, highlight=False)


def print_epoch(state: TrainState | None, record: dict, prefix: str = "") -> None:
    """One line per epoch (never wrapped: a piped log keeps whole lines): training loss, every dev metric,
    throughput, `*` when the best so far."""
    dev = ", ".join(f"{k[4:]} {v:.2f}" if "loss" not in k else f"{k[4:]} {v:.4f}" for k, v in record.items() if k.startswith("dev_"))
    raw = record.get(f"raw_dev_{record.get('metric')}")
    if raw is not None:  # train.ema: the trained weights' own figure beside the average's
        dev += f" (trained weights: {raw:.2f})"
    mark = " *" if record["improved"] else ""
    rate = next((f"{v:,.0f} {k[:-6]}/s" for k, v in record.items() if k.endswith("_per_s")), "")
    err_console.print(f"{prefix}epoch {record['epoch']:3d}  loss {record['train_loss']:.4f}  dev {dev}  {rate}{mark}", markup=False,
                      highlight=False, soft_wrap=True)  # fmt: skip


def print_result(result: FitResult, output: Path) -> None:
    """Where the model, the last checkpoint and the metrics log went, or how to resume."""
    from treeseq.training.engine import paths_for  # noqa: PLC0415

    last, log = paths_for(output)
    state = result.state
    if result.status == "interrupted":
        console.print(f"interrupted at epoch {state.epoch + 1}, step {state.global_step}: resume with --resume ({last})", markup=False)
        return
    console.print(  # also when resuming ran no epoch
        f"{result.status}: best dev {result.best_name} {result.best_metric:.2f} at epoch {state.best_epoch}; "
        f"model {output}, last checkpoint {last}, metrics {log}",
        markup=False,
    )
