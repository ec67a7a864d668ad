"""`treeseq translate`: raw text in, raw text out; n-best, JSONL with attention, heatmaps, scoring."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from treeseq.cli.common import Device, ModelFile, Verbose, cli_errors
from treeseq.errors import ConfigError, CorpusFormatError

Opt = Optional


def translate(
    model: ModelFile,
    texts: Annotated[Opt[list[str]], typer.Argument(help="Sentences; stdin (one a line) when none.")] = None,
    beam: Annotated[int, typer.Option("--beam", help="Beam size (1: greedy).", min=1)] = 5,
    n_best: Annotated[int, typer.Option("--n-best", help="Hypotheses per sentence (<= beam).", min=1)] = 1,
    alpha: Annotated[float, typer.Option(help="Length penalty exponent (GNMT; 0: none).")] = 0.6,
    max_len_ratio: Annotated[float, typer.Option(help="Output budget: ratio x source subwords + 10.")] = 1.5,
    format: Annotated[str, typer.Option("--format", "-f", help="text or jsonl.")] = "text",
    attention: Annotated[bool, typer.Option("--attention", help="JSONL: include the attention matrix.")] = False,
    plot_attention: Annotated[Opt[Path], typer.Option("--plot-attention", help="Write a heatmap PNG per sentence here.", file_okay=False)] = None,
    interactive: Annotated[bool, typer.Option("--interactive", help="Translate each stdin line as it arrives.")] = False,
    score_references: Annotated[Opt[Path], typer.Option("--score-references", help="Print each reference's log-probability given its source line (forced decoding).", dir_okay=False)] = None,
    input: Annotated[Opt[Path], typer.Option("--input", "-i", help="Read sources from this file instead of stdin.", dir_okay=False)] = None,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (faster on CPUs with bf16 units).")] = "fp32",
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Translate sentences with a trained translator (beam search by default).

    Text output is one translation a line; with --n-best N, lines `INDEX<TAB>SCORE<TAB>TEXT`. JSONL gives
    {"source", "translations": [{"text", "score", "log_prob", "attention"?}]} per sentence.
    """
    with cli_errors(verbose):
        if format not in ("text", "jsonl"):
            raise ConfigError(f"--format {format!r}: expected text or jsonl")
        if not 1 <= n_best <= beam:
            raise ConfigError(f"beam size {beam} and n-best {n_best}: need 1 <= n-best <= beam")
        from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)

        translator = load(model, device, precision, family="translator")
        options = {"beam": beam, "n_best": n_best, "alpha": alpha, "max_len_ratio": max_len_ratio,
                   "attention": attention or plot_attention is not None}  # fmt: skip
        if score_references is not None:
            _score(translator, list(_lines(texts, input)), score_references, format)
            return
        results = (translator.predict_iter(_lines(texts, input), batch_size=1, **options) if interactive
                   else iter(translator.predict(list(_lines(texts, input)), **options)))  # fmt: skip
        for index, result in enumerate(results):
            _emit(result, index, format, attention, plot_attention)


def _lines(texts: list[str] | None, path: Path | None) -> Iterator[str]:
    if texts:
        yield from texts
    elif path is not None:
        from treeseq.files import read_lines  # noqa: PLC0415

        yield from (line for _, line in read_lines(path))
    else:
        for line in sys.stdin:  # lazily, so --interactive answers each line as it is typed
            yield line.rstrip("\r\n")


def _emit(result, index: int, format: str, attention: bool, plot_dir: Path | None) -> None:  # noqa: ANN001 (a TranslationResult)
    if plot_dir is not None:
        from treeseq.heatmap import plot_attention  # noqa: PLC0415

        plot_attention(result, plot_dir / f"attention-{index + 1:05d}.png")
    if format == "jsonl":
        if not attention:
            result = dataclasses.replace(result, hypotheses=tuple(dataclasses.replace(h, attention=None) for h in result.hypotheses))
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    elif len(result.hypotheses) == 1:
        typer.echo(result.text)
    else:
        for hyp in result.hypotheses:
            typer.echo(f"{index + 1}\t{hyp.score:.4f}\t{hyp.text}")
    sys.stdout.flush()


def _score(translator, sources: list[str], ref_path: Path, format: str) -> None:  # noqa: ANN001 (a TranslatorModel)
    from treeseq.files import read_lines  # noqa: PLC0415

    references = [line for _, line in read_lines(ref_path)]
    if len(references) != len(sources):
        raise CorpusFormatError(f"{ref_path}:{len(references)}: {len(references)} references for {len(sources)} source lines")
    for source, reference, value in zip(sources, references, translator.score(sources, references)):
        if format == "jsonl":
            typer.echo(json.dumps({"source": source, "reference": reference, "log_prob": round(value, 5)}, ensure_ascii=False))
        else:
            typer.echo(f"{value:.4f}")
