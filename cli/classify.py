"""`treeseq classify`: label every node of each sentence's tree (raw text parsed first, or bracketed trees),
or, with a sentence classifier's archive, each sentence."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated, Literal, Any, Optional

import typer

from treeseq.cli.common import (
    BatchSize, Device, InputFile, MaxLength, ModelFile, OutputFile, PredictPrecision, Quiet, SkipBad, Texts, Threads,
    Verbose, cli_errors, err_console, input_lines, model_family, output_file, quiet_logs, set_threads, write_stream,
)  # fmt: skip
from treeseq.errors import ConfigError

FORMATS = ("text", "brackets", "jsonl")


def classify(
    model: ModelFile,
    texts: Texts = None,
    input: InputFile = None,
    output: OutputFile = None,
    format: Annotated[Literal["text", "brackets", "jsonl"], typer.Option("--format", "-f", help="text (a coloured tree), brackets or jsonl (one record a line).")] = "text",
    trees: Annotated[bool, typer.Option("--trees", help="The lines are bracketed trees, e.g. (X (X The) (X film)), labelled as given (their labels are ignored).")] = False,
    render: Annotated[Optional[Path], typer.Option("--render", help="Also draw each labelled tree: out.svg or out.png (several sentences: out-1.svg, out-2.svg, ...).", dir_okay=False)] = None,
    dpi: Annotated[int, typer.Option(help="Resolution of --render PNGs.", min=30, max=1200)] = 110,
    max_length: MaxLength = None,
    spacy_model: Annotated[Optional[str], typer.Option("--spacy-model", help="Parse raw text with this spaCy pipeline (dependency trees).")] = None,
    batch_size: BatchSize = 64,
    precision: PredictPrecision = "fp32",
    workers: Annotated[int, typer.Option(help="Parser batches run at once by this many threads (set OMP_NUM_THREADS=1 with 2+).", min=1)] = 1,
    threads: Threads = None,
    device: Device = "auto",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Label every node of each sentence's tree (a tree model), or each sentence (a sentence
    classifier): the class and its probability.

    Raw text is tokenized like the treebank and parsed with the parser carried in the model archive
    (`train tree --parser`) or with a spaCy pipeline; with --trees the lines are bracketed trees.
    A sentence classifier (`train classifier`) cuts raw text as its training data was and prints
    `label<TAB>probability` a line (jsonl: the record). Output stays line-aligned in the brackets,
    jsonl and classifier formats: a blank line gives a blank line ({} in JSONL).

    Example: treeseq classify -m runs/sst.pt -f jsonl -i sentences.txt -o labelled.jsonl
    """
    with cli_errors(verbose):
        if format not in FORMATS:
            raise ConfigError(f"--format {format!r}: expected text, brackets or jsonl")
        if render is not None and render.suffix.lower() not in (".svg", ".png"):
            raise ConfigError(f"--render {render}: the file name must end in .svg or .png")
        from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)

        set_threads(threads)
        quiet_logs(quiet)

        options: dict[str, Any] = {"brackets": trees}
        if model_family(model) == "classifier":
            _refuse_tree_options(format, trees=trees, render=render, spacy_model=spacy_model, workers=workers != 1)
            classifier, options = load(model, device, precision, family="classifier", max_length=max_length), {}
        else:
            classifier = load(model, device, precision, family="tree", max_length=max_length, spacy_model=spacy_model, workers=workers)
        lines, source = input_lines(texts, input)
        drawn: list[Any] = []
        with output_file(output) as out:
            colour = output is None and out.isatty()

            def shown(result: Any) -> str:
                if result is not None and render is not None:
                    drawn.append(result)
                return _render(result, format, colour)

            write_stream(classifier, lines, source, shown, out, batch_size, skip_bad, quiet, **options)
        if render is not None:
            from treeseq.render_svg import numbered_paths  # noqa: PLC0415

            for result, target in zip(drawn, numbered_paths(render, len(drawn))):
                result.render(target, dpi)
                if not quiet:
                    err_console.print(f"wrote {target}", markup=False, highlight=False)


def _refuse_tree_options(format: str, **given: Any) -> None:
    """Options that only tree models take, refused with the reason for a sentence classifier."""
    for name, value in given.items():
        if value not in (None, False):
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} applies to tree models; this is a sentence classifier (one label a sentence)")
    if format == "brackets":
        raise ConfigError("--format brackets applies to tree models; a sentence classifier prints text or jsonl")


def _render(result: Any, format: str, colour: bool) -> str:
    if result is None:
        return "{}\n" if format == "jsonl" else "\n"
    if format == "jsonl":
        return json.dumps(result.to_dict(), ensure_ascii=False) + "\n"
    if not hasattr(result, "tree"):  # a sentence classifier's result
        return f"{result.label}\t{result.probability:.4f}\n"
    if format == "brackets":
        return result.brackets() + "\n"
    from rich.console import Console  # noqa: PLC0415
    from treeseq.render import render_tree  # noqa: PLC0415

    buffer = io.StringIO()
    Console(file=buffer, force_terminal=colour, no_color=not colour, highlight=False, soft_wrap=True).print(render_tree(result.tree, result.classes, *result.by_node()))
    return buffer.getvalue()
