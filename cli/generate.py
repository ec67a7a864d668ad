"""`treeseq generate`: continue a prompt with a language model (sampling or greedy, reproducible with --seed)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from treeseq.cli.predicting import PredictRun, predict_command
from treeseq.errors import ConfigError


@predict_command("lm", stage="generate")
def generate(
    run: PredictRun,
    format: Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text (one sample a line: the prompt and its continuation) or jsonl.")] = "text",
) -> None:
    """Generate text with a language model: sample continuations of --prompt, one a line.

    With one sample in text format the text is written as it is generated.

    Example: treeseq generate -m runs/lm.pt --prompt "A man in a blue shirt" --samples 3 --top-p 0.9 --seed 1
    """
    if format not in ("text", "jsonl"):
        raise ConfigError(f"--format {format!r}: expected text or jsonl")
    out, options = run.out, run.options
    stream = format == "text" and options["samples"] == 1
    unwritten = [options["prompt"]]  # the prompt goes out with the first piece, once the model has accepted it

    def write(text: str) -> None:
        out.write(one_line("".join(unwritten) + text))
        out.flush()
        unwritten.clear()

    for sample in run.model.generate(**options, on_text=write if stream else None):
        if format == "jsonl":
            out.write(json.dumps(sample.to_dict(), ensure_ascii=False) + "\n")
        elif stream:
            out.write(one_line("".join(unwritten)) + "\n")
        else:
            out.write(one_line(sample.text) + "\n")


def one_line(text: str) -> str:
    """A generated line break must not split the output line: each becomes a space."""
    return text.translate(LINE_BREAKS)


LINE_BREAKS = dict.fromkeys(map(ord, "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), " ")
