"""`treeseq classify`: label every node of a tree, from bracketed trees or from raw text (parsed first)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from treeseq.cli.common import Device, ModelFile, Verbose, cli_errors, console, err_console, read_inputs
from treeseq.errors import ConfigError

INPUTS = ("auto", "brackets", "text")


def classify(
    model: ModelFile,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Sentences or bracketed trees; stdin (one a line) when none.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text (coloured tree), brackets or jsonl.")] = "text",
    input: Annotated[str, typer.Option("--input", help="auto (a line starting with '(' is a tree, else raw text), brackets or text.")] = "auto",
    render: Annotated[Optional[Path], typer.Option("--render", help="Also draw each labelled tree: out.svg or out.png (several sentences: out-1.svg, out-2.svg, ...).", dir_okay=False)] = None,
    max_length: Annotated[Optional[int], typer.Option("--max-length", help="Longest raw sentence to parse, in tokens (default: the parser's, 300).", min=1)] = None,
    spacy_model: Annotated[Optional[str], typer.Option("--spacy-model", help="Parse raw text with this spaCy pipeline (dependency trees).")] = None,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (autocast for the parser and the classifier: faster on CPUs with bf16 units).")] = "fp32",
    workers: Annotated[int, typer.Option(help="Parser batches run at once by this many threads (set OMP_NUM_THREADS=1 with 2+).", min=1)] = 1,
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Label every node of each sentence's tree: the class and its probability.

    Raw text is tokenized like the treebank and parsed with the parser carried in the model archive
    (`train tree --parser`) or with a spaCy pipeline. Bracketed trees such as `(X (X The) (X film))`
    are used as given (their labels are ignored). Blank lines are skipped.
    """
    with cli_errors(verbose):
        if format not in ("text", "brackets", "jsonl"):
            raise ConfigError(f"--format {format!r}: expected text, brackets or jsonl")
        if input not in INPUTS:
            raise ConfigError(f"--input {input!r}: expected auto, brackets or text")
        if render is not None and render.suffix.lower() not in (".svg", ".png"):
            raise ConfigError(f"--render {render}: the file name must end in .svg or .png")
        from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)
        from treeseq.corpora.readers.ptb import parse_tree_line  # noqa: PLC0415

        classifier = load(model, device, precision, family="tree", max_length=max_length, spacy_model=spacy_model, workers=workers)
        lines, source = read_inputs(texts)
        numbered = [(no, line) for no, line in enumerate(lines, start=1) if line.strip()]
        items = [parse_tree_line(line, f"{source}:{no}")
                 if input == "brackets" or (input == "auto" and line.lstrip().startswith("(")) else line
                 for no, line in numbered]  # fmt: skip
        results = classifier.predict(items, source=source, line_numbers=[no for no, _ in numbered])
        for result in results:
            if format == "jsonl":
                typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
            elif format == "brackets":
                console.print(result.brackets(), markup=False)
            else:
                console.print(_coloured(result))
        if render is not None:
            from treeseq.render_svg import numbered_paths  # noqa: PLC0415

            for result, target in zip(results, numbered_paths(render, len(results))):
                result.render(target)
                err_console.print(f"wrote {target}", highlight=False)


def _coloured(result):  # noqa: ANN001, ANN202 (a rich renderable)
    from treeseq.render import render_tree  # noqa: PLC0415

    return render_tree(result.tree, result.classes, *result.by_node())
