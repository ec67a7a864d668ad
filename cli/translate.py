"""`treeseq translate`: raw text in, raw text out; n-best, JSONL with attention, heatmaps, scoring."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from cli.common import Device, ModelFile, Verbose, cli_errors
from treeseq.checkpoint import load_archive
from treeseq.device import resolve_device
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.tasks.translator import DecodeConfig, Translation, TranslatorPredictor

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
        cfg = DecodeConfig(beam_size=beam, alpha=alpha, max_len_ratio=max_len_ratio, n_best=n_best)
        predictor = TranslatorPredictor.from_archive(load_archive(model, task="translator"), resolve_device(device), precision)
        if score_references is not None:
            _score(predictor, list(_lines(texts, input)), score_references, format)
            return
        if interactive:
            for index, line in enumerate(_lines(texts, input)):
                _emit(predictor.translate([line], cfg, attention or bool(plot_attention))[0], index, format, attention, plot_attention)
            return
        lines = list(_lines(texts, input))
        for index, result in enumerate(predictor.translate(lines, cfg, attention or bool(plot_attention))):
            _emit(result, index, format, attention, plot_attention)


def _lines(texts: list[str] | None, path: Path | None) -> Iterator[str]:
    if texts:
        yield from texts
    elif path is not None:
        from corpora.readers.text import read_lines  # noqa: PLC0415

        yield from (line for _, line in read_lines(path))
    else:
        for line in sys.stdin:  # lazily, so --interactive answers each line as it is typed
            yield line.rstrip("\r\n")


def _emit(result: Translation, index: int, format: str, attention: bool, plot_dir: Path | None) -> None:
    if plot_dir is not None and result.hypotheses[0].attention is not None:
        plot_heatmap(result, plot_dir / f"attention-{index + 1:05d}.png")
    if format == "jsonl":
        items = []
        for text, hyp in zip(result.texts, result.hypotheses):
            item: dict = {"text": text, "score": round(hyp.score, 5), "log_prob": round(hyp.log_prob, 5)}
            if attention and hyp.attention is not None:
                item["attention"] = [[round(v, 4) for v in row] for row in hyp.attention.tolist()]
            items.append(item)
        record = {"source": result.source, "translations": items}
        if attention:
            record["source_pieces"], record["target_pieces"] = result.source_pieces, result.target_pieces[0]
        typer.echo(json.dumps(record, ensure_ascii=False))
    elif len(result.texts) == 1:
        typer.echo(result.texts[0])
    else:
        for text, hyp in zip(result.texts, result.hypotheses):
            typer.echo(f"{index + 1}\t{hyp.score:.4f}\t{text}")
    sys.stdout.flush()


def _score(predictor: TranslatorPredictor, sources: list[str], ref_path: Path, format: str) -> None:
    from corpora.readers.text import read_lines  # noqa: PLC0415

    references = [line for _, line in read_lines(ref_path)]
    if len(references) != len(sources):
        raise CorpusFormatError(f"{ref_path}:{len(references)}: {len(references)} references for {len(sources)} source lines")
    for source, reference, value in zip(sources, references, predictor.score(sources, references)):
        if format == "jsonl":
            typer.echo(json.dumps({"source": source, "reference": reference, "log_prob": round(value, 5)}, ensure_ascii=False))
        else:
            typer.echo(f"{value:.4f}")


def plot_heatmap(result: Translation, path: Path) -> None:
    """An attention heatmap of the best hypothesis: target pieces down, source pieces across."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    weights = result.hypotheses[0].attention.numpy()  # type: ignore[union-attr]
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(max(4, 0.4 * weights.shape[1] + 2), max(3, 0.35 * weights.shape[0] + 2)))
    ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(weights.shape[1]), result.source_pieces[: weights.shape[1]] or ["</s>"], rotation=90)
    ax.set_yticks(range(weights.shape[0]), result.target_pieces[0][: weights.shape[0]])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
