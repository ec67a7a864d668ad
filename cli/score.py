"""`treeseq score`: each line's log-probability and perplexity under a language model."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import typer

from treeseq.cli.predicting import PredictRun, predict_command
from treeseq.errors import ConfigError


@predict_command("lm")
def score(
    run: PredictRun,
    format: Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text (LOGPROB<TAB>PERPLEXITY<TAB>TOKENS a line) or jsonl.")] = "text",
    tokens: Annotated[bool, typer.Option("--tokens", help="JSONL: also every log-probability (token_logprobs: one per unit in tokens, the last for the line's end).")] = False,
) -> None:
    """Score sentences with a language model: the log-probability (natural log) of each line's units
    and its end, and the perplexity per unit, each line read on its own.

    Output is line-aligned: a blank line gives a blank line ({} in JSONL).

    Example: treeseq score -m runs/lm.pt -i sentences.txt -f jsonl
    """
    if format not in ("text", "jsonl"):
        raise ConfigError(f"--format {format!r}: expected text or jsonl")

    def shown(result: Any) -> str:
        if result is None:
            return "{}\n" if format == "jsonl" else "\n"
        if format == "jsonl":
            return json.dumps(result.to_dict(tokens=tokens), ensure_ascii=False) + "\n"
        return f"{result.logprob:.4f}\t{result.perplexity:.4f}\t{len(result.token_logprobs)}\n"

    run.stream(shown)
