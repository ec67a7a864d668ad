"""`treeseq translate`: raw text in, raw text out; n-best, JSONL with attention, heatmaps, scoring."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer

from treeseq.cli.common import err_console
from treeseq.cli.predicting import PredictRun, predict_command
from treeseq.errors import ConfigError, CorpusFormatError

Opt = Optional


@predict_command("translator")
def translate(
    run: PredictRun,
    format: Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text or jsonl.")] = "text",
    plot_attention: Annotated[Opt[Path], typer.Option("--plot-attention", help="Write a heatmap PNG per sentence into this folder.", file_okay=False)] = None,
    interactive: Annotated[bool, typer.Option("--interactive", help="Answer each line as it arrives (--batch-size 1).")] = False,
    score_references: Annotated[Opt[Path], typer.Option("--score-references", help="Print each reference's log-probability given its source line (forced decoding).", dir_okay=False)] = None,
) -> None:
    """Translate sentences with a trained translator (beam search by default).

    Text output is one translation a line (line-aligned: a blank line gives a blank line); with --n-best
    N, lines `INDEX<TAB>SCORE<TAB>TEXT`. JSONL gives {"source", "translations": [{"text", "score",
    "log_prob", "attention"?}]} per sentence, {} for a blank line.

    Example: treeseq translate -m runs/de-en.pt --beam 5 -i german.txt -o english.txt
    """
    if format not in ("text", "jsonl"):
        raise ConfigError(f"--format {format!r}: expected text or jsonl")
    if score_references is not None:
        lines, _ = run.lines()
        run.out.write(_scores(run.model, [line for _, line in lines], score_references, format))
        return
    counter = iter(range(1, 1 << 62))
    attention = run.options["attention"]

    def shown(result: Any) -> str:
        index = next(counter)
        if result is not None and plot_attention is not None:
            from treeseq.heatmap import plot_attention as draw  # noqa: PLC0415

            target = draw(result, plot_attention / f"attention-{index:05d}.png", f"sentence {index}: {_one_line(result.text)[:60]}")
            if not run.quiet:
                err_console.print(f"wrote {target}", markup=False, highlight=False)
        return _render(result, index, format, attention)

    run.stream(shown, batch_size=1 if interactive else None, attention=attention or plot_attention is not None)


def _render(result: Any, index: int, format: str, attention: bool) -> str:
    if result is None:
        return "{}\n" if format == "jsonl" else "\n"
    if format == "jsonl":
        if not attention:
            result = dataclasses.replace(result, hypotheses=tuple(dataclasses.replace(h, attention=None) for h in result.hypotheses))
        return json.dumps(result.to_dict(), ensure_ascii=False) + "\n"
    if len(result.hypotheses) == 1:
        return _one_line(result.text) + "\n"
    return "".join(f"{index}\t{hyp.score:.4f}\t{_one_line(hyp.text)}\n" for hyp in result.hypotheses)


def _one_line(text: str) -> str:
    """A decoded newline or other line break (byte fallback can make one) must not split the output line."""
    return " ".join(text.splitlines()) if len(text.splitlines()) > 1 or text.endswith(("\n", "\r")) else text


def _scores(translator: Any, sources: list[str], ref_path: Path, format: str) -> str:
    from treeseq.files import read_lines  # noqa: PLC0415

    references = [line for _, line in read_lines(ref_path)]
    if len(references) != len(sources):
        raise CorpusFormatError(f"{ref_path}:{len(references)}: {len(references)} references for {len(sources)} source lines")
    out = []
    for source, reference, value in zip(sources, references, translator.score(sources, references)):
        if format == "jsonl":
            out.append(json.dumps({"source": source, "reference": reference, "log_prob": round(value, 5)}, ensure_ascii=False))
        else:
            out.append(f"{value:.4f}")
    return "".join(line + "\n" for line in out)
