"""`treeseq score`: each line's log-probability and perplexity under a language model."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import typer

from treeseq.cli.common import (
    BatchSize, Device, InputFile, MaxLength, ModelFile, OutputFile, PredictPrecision, Quiet, SkipBad, Texts, Threads,
    Verbose, cli_errors, input_lines, output_file, quiet_logs, set_threads, write_stream,
)  # fmt: skip
from treeseq.errors import ConfigError


def score(
    model: ModelFile,
    texts: Texts = None,
    input: InputFile = None,
    output: OutputFile = None,
    format: Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text (LOGPROB<TAB>PERPLEXITY<TAB>TOKENS a line) or jsonl.")] = "text",
    tokens: Annotated[bool, typer.Option("--tokens", help="JSONL: also every unit and its log-probability.")] = False,
    max_length: MaxLength = None,
    batch_size: BatchSize = 64,
    precision: PredictPrecision = "fp32",
    threads: Threads = None,
    device: Device = "auto",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Score sentences with a language model: the log-probability (natural log) of each line's units
    and its end, and the perplexity per unit, each line read on its own.

    Output is line-aligned: a blank line gives a blank line ({} in JSONL).

    Example: treeseq score -m runs/lm.pt -i sentences.txt -f jsonl
    """
    with cli_errors(verbose):
        if format not in ("text", "jsonl"):
            raise ConfigError(f"--format {format!r}: expected text or jsonl")
        from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)

        set_threads(threads)
        quiet_logs(quiet)
        lm = load(model, device, precision, family="lm", max_length=max_length)
        lines, source = input_lines(texts, input)

        def shown(result: Any) -> str:
            if result is None:
                return "{}\n" if format == "jsonl" else "\n"
            if format == "jsonl":
                return json.dumps(result.to_dict(tokens=tokens), ensure_ascii=False) + "\n"
            return f"{result.logprob:.4f}\t{result.perplexity:.4f}\t{len(result.token_logprobs)}\n"

        with output_file(output) as out:
            write_stream(lm, lines, source, shown, out, batch_size, skip_bad, quiet)
