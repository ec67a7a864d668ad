"""`treeseq parse`: raw text in, unlabelled binary constituency trees out (the span parser)."""

from __future__ import annotations

import json
from typing import Annotated, Literal, Any

import typer

from treeseq.cli.common import (
    BatchSize, Device, InputFile, MaxLength, ModelFile, OutputFile, PredictPrecision, Quiet, SkipBad, Texts, Threads,
    Verbose, cli_errors, input_lines, output_file, quiet_logs, set_threads, write_stream,
)  # fmt: skip
from treeseq.errors import ConfigError

FORMATS = ("brackets", "jsonl", "text")


def parse(
    model: ModelFile,
    texts: Texts = None,
    input: InputFile = None,
    output: OutputFile = None,
    format: Annotated[Literal["brackets", "jsonl", "text"], typer.Option("--format", "-f", help="brackets (one tree a line), jsonl or text (an outline).")] = "brackets",
    max_length: MaxLength = None,
    batch_size: BatchSize = 64,
    precision: PredictPrecision = "fp32",
    workers: Annotated[int, typer.Option(help="Batches parsed at once by this many threads (set OMP_NUM_THREADS=1 with 2+).", min=1)] = 1,
    threads: Threads = None,
    device: Device = "auto",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Parse raw sentences into binary trees with a parser archive (`train parser`) or a classifier that carries one.

    Text is tokenized like the treebank (spaCy's tokenizer, PTB conventions). Output stays line-aligned
    in the brackets and jsonl formats: a blank line gives a blank line ({} in JSONL). A sentence over
    --max-length is an error (`<stdin>:LINE: ...`, exit 2), or with --skip-bad an empty record.

    Example: treeseq parse -m runs/parser.pt "It's a lovely film."
    """
    with cli_errors(verbose):
        if format not in FORMATS:
            raise ConfigError(f"--format {format!r}: expected brackets, jsonl or text")
        from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)

        set_threads(threads)
        quiet_logs(quiet)
        parser = load(model, device, precision, family="parser", max_length=max_length, workers=workers)
        lines, source = input_lines(texts, input)
        with output_file(output) as out:
            write_stream(parser, lines, source, lambda result: _render(result, format), out, batch_size, skip_bad, quiet)


def _render(result: Any, format: str) -> str:
    if result is None:
        return "{}\n" if format == "jsonl" else "\n"
    if format == "jsonl":
        return json.dumps(result.to_dict(), ensure_ascii=False) + "\n"
    if format == "text":
        spans = result.tree.spans()
        return "".join("  " * depth + " ".join(result.tokens[spans[n][0] : spans[n][1]]) + "\n" for n, depth in result.tree.preorder()) + "\n"
    return result.brackets() + "\n"
