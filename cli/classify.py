"""`treeseq classify`: label every node of each sentence's tree (raw text parsed first, or bracketed trees),
or, with a sentence classifier's archive, each sentence."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer

from treeseq.cli.common import err_console
from treeseq.cli.predicting import PredictRun, predict_command
from treeseq.errors import ConfigError

FORMATS = ("text", "brackets", "jsonl")


@predict_command("tree", "classifier")
def classify(
    run: PredictRun,
    format: Annotated[Literal["text", "brackets", "jsonl"], typer.Option("--format", "-f", help="text (a coloured tree), brackets or jsonl (one record a line).")] = "text",
    render: Annotated[Optional[Path], typer.Option("--render", help="Also draw each labelled tree: out.svg or out.png (several sentences: out-1.svg, out-2.svg, ...).", dir_okay=False)] = None,
    dpi: Annotated[int, typer.Option(help="Resolution of --render PNGs.", min=30, max=1200)] = 110,
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
    if format not in FORMATS:
        raise ConfigError(f"--format {format!r}: expected text, brackets or jsonl")
    if render is not None and render.suffix.lower() not in (".svg", ".png"):
        raise ConfigError(f"--render {render}: the file name must end in .svg or .png")
    if run.family == "classifier" and (format == "brackets" or render is not None):
        what = "--format brackets" if format == "brackets" else "--render"
        raise ConfigError(f"{what} applies to tree models; this is a sentence classifier (one label a sentence)")
    drawn: list[Any] = []
    colour = run.out is sys.stdout and run.out.isatty()

    def shown(result: Any) -> str:
        if result is not None and render is not None:
            drawn.append(result)
        return _render(result, format, colour)

    run.stream(shown)
    if render is not None:
        from treeseq.render_svg import numbered_paths  # noqa: PLC0415

        for result, target in zip(drawn, numbered_paths(render, len(drawn))):
            result.render(target, dpi)
            if not run.quiet:
                err_console.print(f"wrote {target}", markup=False, highlight=False)


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
