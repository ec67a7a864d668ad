"""`treeseq evaluate`: the task's standard metrics for a model on a corpus split."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from cli.common import DataDir, Device, ModelFile, Verbose, cli_errors, console, print_metrics
from corpora.readers.ptb import read_trees
from treeseq.checkpoint import load_archive
from treeseq.device import resolve_device
from treeseq.errors import ConfigError
from treeseq.tasks.tree import TreePredictor, TreeReport

Format = Annotated[str, typer.Option("--format", "-f", help="text (tables) or jsonl.")]


def evaluate(
    model: ModelFile,
    data_dir: DataDir,
    split: Annotated[str, typer.Option(help="Split to read: dev, test or any NAME (reads NAME.txt for trees).")] = "dev",
    format: Format = "text",
    parse: Annotated[bool, typer.Option("--parse", help="Tree models: re-parse each sentence from its raw text with the archive's parser (or spaCy pipeline) and score against the gold labels (phrases: matched spans only).")] = False,
    max_length: Annotated[Optional[int], typer.Option("--max-length", help="With --parse: the parser's sentence length limit.", min=1)] = None,
    beam: Annotated[int, typer.Option("--beam", help="Translators: beam size (1: greedy).", min=1)] = 5,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (autocast at inference: faster on CPUs with bf16 units).")] = "fp32",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Translators: also write the translations here, one a line.", dir_okay=False)] = None,
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Evaluate a trained model: root/phrase accuracy (fine and binary) and a confusion matrix for trees."""
    with cli_errors(verbose):
        if format not in ("text", "jsonl"):
            raise ConfigError(f"--format {format!r}: expected text or jsonl")
        if precision not in ("fp32", "bf16"):
            raise ConfigError(f"--precision {precision!r}: expected fp32 or bf16")
        archive = load_archive(model)
        task = archive["task"]
        if task == "tagger":
            from cli.tag import evaluate_tagger  # noqa: PLC0415

            evaluate_tagger(archive, data_dir, split, format, device, precision)
            return
        if task == "translator":
            evaluate_translator(archive, data_dir, split, format, device, beam, precision, output)
            return
        if task != "tree":
            raise ConfigError(f"{model}: evaluation of {task!r} models is not available in this version")
        predictor = TreePredictor.from_archive(archive, resolve_device(device), max_length, precision=precision)
        path = data_dir / f"{split}.txt"
        gold = read_trees(path, predictor.scheme.check)
        report = predictor.evaluate_parsed(gold) if parse else predictor.evaluate(gold)
        _print_tree_report(report, path, format)


def _print_tree_report(report: TreeReport, path: Path, format: str) -> None:
    if format == "jsonl":
        console.print_json(json.dumps({"data": str(path), "sentences": report.sentences, **report.metrics,
                                       "classes": list(report.classes), "confusion": report.confusion}), indent=None)  # fmt: skip
        return
    print_metrics(f"{path} ({report.sentences} sentences)", report.metrics, header="accuracy %")
    matrix = Table(title="root confusion (rows: gold, columns: predicted)")
    matrix.add_column("gold \\ pred")
    for name in report.classes:
        matrix.add_column(name, justify="right")
    for name, row in zip(report.classes, report.confusion):
        matrix.add_row(name, *(str(v) for v in row))
    console.print(matrix)


def evaluate_translator(archive: dict, data_dir: Path, split: str, format: str, device: str, beam: int,
                        precision: str = "fp32", output: Path | None = None) -> None:  # fmt: skip
    """Translators: sacrebleu BLEU (cased and lowercased) and chrF with signatures, on NAME.SRC/NAME.TGT."""
    from corpora.readers.parallel import read_split  # noqa: PLC0415
    from treeseq.checkpoint import write_text_atomic  # noqa: PLC0415
    from treeseq.tasks.translator import DecodeConfig, TranslatorPredictor  # noqa: PLC0415

    predictor = TranslatorPredictor.from_archive(archive, resolve_device(device), precision)
    data = read_split(data_dir, split, predictor.data_cfg.src, predictor.data_cfg.tgt)
    start = time.perf_counter()
    scores, outputs = predictor.evaluate(data.pairs, DecodeConfig(beam_size=beam))
    seconds = time.perf_counter() - start
    if output is not None:
        write_text_atomic("".join(line + "\n" for line in outputs), output)
    if format == "jsonl":
        console.print_json(json.dumps({"data": data.source, "sentences": len(data.pairs), "beam": beam, "precision": precision,
                                       "seconds": round(seconds, 2), **scores}), indent=None)  # fmt: skip
        return
    console.print(f"{data.source}: {len(data.pairs)} sentences, beam {beam}, {precision}, {seconds:.1f} s")
    console.print(f"BLEU {scores['bleu']:.2f}  ({scores['bleu_signature']})")
    console.print(f"BLEU lowercased {scores['bleu_lc']:.2f}  ({scores['bleu_lc_signature']})")
    console.print(f"chrF {scores['chrf']:.2f}  ({scores['chrf_signature']})")
