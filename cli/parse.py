"""`treeseq parse`: raw text in, unlabelled binary constituency trees out (the span parser)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from treeseq.cli.common import Device, ModelFile, Verbose, cli_errors, console, read_inputs
from treeseq.errors import ConfigError

FORMATS = ("brackets", "jsonl", "text")


def parse(
    model: ModelFile,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Sentences; stdin (one a line) when none.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="brackets (one tree a line), jsonl or text (an outline).")] = "brackets",
    max_length: Annotated[Optional[int], typer.Option("--max-length", help="Refuse sentences longer than this many tokens (default 300: chart memory grows with length squared).", min=1)] = None,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (autocast: faster on CPUs with bf16 units; a few trees change).")] = "fp32",
    workers: Annotated[int, typer.Option(help="Batches parsed at once by this many threads (set OMP_NUM_THREADS=1 with 2+).", min=1)] = 1,
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Parse raw sentences into binary trees with a parser archive (`train parser`) or a classifier that carries one.

    Text is tokenized like the treebank (spaCy's tokenizer, PTB conventions). Blank lines are skipped;
    a sentence over --max-length is an error (`<stdin>:LINE: ...`, exit 2) and nothing is written.
    """
    with cli_errors(verbose):
        if format not in FORMATS:
            raise ConfigError(f"--format {format!r}: expected brackets, jsonl or text")
        from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)

        parser = load(model, device, precision, family="parser", max_length=max_length, workers=workers)
        lines, source = read_inputs(texts)
        numbered = [(no, line) for no, line in enumerate(lines, start=1) if line.strip()]
        for result in parser.predict([line for _, line in numbered], source, [no for no, _ in numbered]):
            if format == "jsonl":
                typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
            elif format == "text":
                spans = result.tree.spans()
                outline = ["  " * depth + " ".join(result.tokens[spans[n][0] : spans[n][1]]) for n, depth in result.tree.preorder()]
                console.print("\n".join(outline) + "\n", markup=False, highlight=False)
            else:
                console.print(result.brackets(), markup=False, highlight=False, soft_wrap=True)
