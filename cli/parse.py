"""`treeseq parse`: raw text in, unlabelled binary constituency trees out (the span parser)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import typer

from treeseq.cli.predicting import PredictRun, predict_command
from treeseq.errors import ConfigError

FORMATS = ("brackets", "jsonl", "text")


@predict_command("parser")
def parse(
    run: PredictRun,
    format: Annotated[Literal["brackets", "jsonl", "text"], typer.Option("--format", "-f", help="brackets (one tree a line), jsonl or text (an outline).")] = "brackets",
) -> None:
    """Parse raw sentences into binary trees with a parser archive (`train parser`) or a classifier that carries one.

    Text is tokenized like the treebank (spaCy's tokenizer, PTB conventions). Output stays line-aligned
    in the brackets and jsonl formats: a blank line gives a blank line ({} in JSONL). A sentence over
    --max-length is an error (`<stdin>:LINE: ...`, exit 2), or with --skip-bad an empty record.

    Example: treeseq parse -m runs/parser.pt "It's a lovely film."
    """
    if format not in FORMATS:
        raise ConfigError(f"--format {format!r}: expected brackets, jsonl or text")
    run.stream(lambda result: _render(result, format))


def _render(result: Any, format: str) -> str:
    if result is None:
        return "{}\n" if format == "jsonl" else "\n"
    if format == "jsonl":
        return json.dumps(result.to_dict(), ensure_ascii=False) + "\n"
    if format == "text":
        spans = result.tree.spans()
        return "".join("  " * depth + " ".join(result.tokens[spans[n][0] : spans[n][1]]) + "\n" for n, depth in result.tree.preorder()) + "\n"
    return result.brackets() + "\n"
