"""What every predicting command shares: its options, built from the families' declarations
(treeseq.options), the model's loading, and the streaming loop.

`predict_command(*families)` registers a command's function, which takes a `PredictRun` (the loaded
model, the input lines, the output, the family's checked options) and the command's own options (its
formats and extras). The wrapper adds the options every predicting command has (the model, sentences,
--input, --output, --batch-size, --precision, --threads, --device, --skip-bad, --quiet, --verbose) and
those the families declare for loading and predicting, with their defaults, bounds and help; the
declaration checks them, in the command line's spelling.
"""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Optional, TextIO

import typer

from treeseq.cli.common import (
    BatchSize,
    DataDir,
    Device,
    InputFile,
    ModelFile,
    OutputFile,
    PredictPrecision,
    Quiet,
    SkipBad,
    Texts,
    Threads,
    Verbose,
    cli_errors,
    input_lines,
    model_family,
    output_file,
    quiet_logs,
    set_threads,
    write_stream,
)  # fmt: skip
from treeseq.errors import CheckpointError
from treeseq.options import FAMILIES, Option, Stage
from treeseq.text import check_unicode

# Where a family's model is predicted with; a model of another family names its command.
COMMANDS = {name: declared.command for name, declared in FAMILIES.items()}


def flag(name: str) -> str:
    """An option's command-line spelling, as the families declare it (brackets -> --trees)."""
    found = next((o for d in FAMILIES.values() for o in d.options if o.name == name), None)
    return found.cli_flag if found is not None else "--" + name.replace("_", "-")


@dataclass
class PredictRun:
    """A predicting command's run: the loaded model, where lines come from and results go, the options."""

    model: Any
    family: str
    texts: list[str] | None
    input: Path | None
    out: TextIO
    options: dict[str, Any]  # the family's predict (or generate) options, checked, defaults filled in
    batch_size: int = 64
    skip_bad: bool = False
    quiet: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> tuple[Any, str]:
        """The numbered input lines and their source's name (arguments, --input FILE or stdin)."""
        return input_lines(self.texts, self.input)

    def stream(self, render: Callable[[Any], str], *, batch_size: int | None = None, **options: Any) -> int:
        """Predict the input lines batch by batch, writing each result as `render` draws it (a blank or
        skipped line's None too); returns how many lines were skipped."""
        lines, source = self.lines()
        return write_stream(self.model, lines, source, render, self.out, batch_size or self.batch_size, self.skip_bad,
                            self.quiet, **{**self.options, **options})  # fmt: skip


def _typer_option(option: Option) -> tuple[Any, Any]:
    """(annotation, default) of a declared option as a Typer option."""
    names = [option.cli_flag] + ([option.short] if option.short else [])
    kind = Optional[option.kind] if option.default is None else option.kind
    shown = option.default is not None and option.kind is not bool
    # the bounds are the declaration's to check (one sentence on every surface); the help says them
    help = option.help + (f" {option.bounds_text()}." if option.bounds_text() else "")
    return Annotated[kind, typer.Option(*names, help=help, show_default=shown)], option.default


SHARED_HEAD = [("model", ModelFile, inspect.Parameter.empty), ("texts", Texts, None), ("input", InputFile, None),
               ("output", OutputFile, None)]  # fmt: skip
SHARED_TAIL = [("batch_size", BatchSize, 64), ("precision", PredictPrecision, "fp32"), ("threads", Threads, None),
               ("device", Device, "auto"), ("skip_bad", SkipBad, False), ("quiet", Quiet, False), ("verbose", Verbose, False)]  # fmt: skip
GENERATE_HEAD = [("model", ModelFile, inspect.Parameter.empty), ("output", OutputFile, None)]
GENERATE_TAIL = [("precision", PredictPrecision, "fp32"), ("threads", Threads, None), ("device", Device, "auto"),
                 ("quiet", Quiet, False), ("verbose", Verbose, False)]  # fmt: skip
EvalOutput = Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the predictions here: translations one a line, parses as brackets, tree and tagger results as JSONL.", dir_okay=False)]
EVALUATE_HEAD = [("model", ModelFile, inspect.Parameter.empty), ("data_dir", DataDir, inspect.Parameter.empty),
                 ("output", EvalOutput, None)]  # fmt: skip
EVALUATE_TAIL = [("precision", PredictPrecision, "fp32"), ("threads", Threads, None), ("device", Device, "auto"),
                 ("verbose", Verbose, False)]  # fmt: skip
SHAPES = {"predict": (SHARED_HEAD, SHARED_TAIL), "generate": (GENERATE_HEAD, GENERATE_TAIL),
          "evaluate": (EVALUATE_HEAD, EVALUATE_TAIL)}  # fmt: skip


def declared_options(families: tuple[str, ...], stages: tuple[Stage, ...]) -> list[Option]:
    """The command-line options the families declare for these stages, each once, in declaration order."""
    out: dict[str, Option] = {}
    for family in families:
        for stage in stages:
            for option in FAMILIES[family].of(stage, "cli"):
                out.setdefault(option.name, option)
    return list(out.values())


def predict_command(*families: str, stage: Stage = "predict") -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a predicting command its shared options and the families' declared ones (see the module docstring)."""
    declared = declared_options(families, ("load", stage))
    head, tail = SHAPES[stage]

    def register(func: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(func, include_extras=True)
        own = [p.replace(annotation=hints[p.name], kind=inspect.Parameter.KEYWORD_ONLY)
               for p in list(inspect.signature(func).parameters.values())[1:]]  # fmt: skip
        shared = [*head, *((o.name, *_typer_option(o)) for o in declared), *tail]
        parameters = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
                      for name, annotation, default in shared]  # fmt: skip
        names = {name for name, _, _ in shared}

        @functools.wraps(func)
        def command(**values: Any) -> None:
            with cli_errors(values["verbose"]):
                run = _start(families, stage, {k: v for k, v in values.items() if k in names})
                own = {k: v for k, v in values.items() if k not in names}
                if stage == "evaluate":  # the report goes to stdout; --output holds the predictions, written after
                    run.out, run.extra = sys.stdout, {"data_dir": values["data_dir"], "output": values["output"]}
                    func(run, **own)
                    return
                with output_file(values["output"]) as run.out:
                    func(run, **own)

        command.__signature__ = inspect.Signature(parameters[: len(head)] + own + parameters[len(head) :])  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in command.__signature__.parameters.values()}  # type: ignore[attr-defined]
        del command.__wrapped__  # Typer reads __signature__, not the wrapped function's
        return command

    return register


def _start(families: tuple[str, ...], stage: Stage, values: dict[str, Any]) -> PredictRun:
    """Check the options against the model's family's declaration (in the command line's spelling) and
    load the model."""
    from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)

    family = model_family(values["model"]) or families[0]
    if family == "tree" and "parser" in families and "tree" not in families:
        family = "parser"  # a tree classifier's archive parses with the parser it carries
    if family not in families:
        expected = " or ".join(repr(f) for f in families)
        use = "treeseq score or treeseq generate" if family == "lm" else f"treeseq {COMMANDS.get(family, family)}"
        raise CheckpointError(f"{values['model'][0]}: this is a {family!r} model, expected a {expected} model; use {use}")
    set_threads(values.get("threads"))
    quiet_logs(values.get("quiet", False))
    for option in declared_options(families, ("load", stage)):
        if option.kind is str and isinstance(values.get(option.name), str):  # a command-line byte that is not UTF-8
            check_unicode(values[option.name], option.cli_flag)
    declared, checked = FAMILIES[family], {}
    for when in ("load", stage):
        given = {}
        for option in declared_options(families, (when,)):  # type: ignore[arg-type]
            value = values.get(option.name)
            # this family's own options as they are; another family's only when set away from its default
            if option.name in declared.names(when) or (value is not None and value != option.default):  # type: ignore[arg-type]
                given[option.name] = value
        checked[when] = declared.check(when, given, spell=flag)  # type: ignore[arg-type]
    load_options = {k: v for k, v in checked["load"].items() if v is not None}
    model = load(values["model"], values["device"], values["precision"], family=family, **load_options)  # type: ignore[arg-type]
    return PredictRun(model, family, values.get("texts"), values.get("input"), None, checked[stage],  # type: ignore[arg-type]
                      values.get("batch_size", 64), values.get("skip_bad", False), values.get("quiet", False))
