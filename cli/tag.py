"""`treeseq tag`: POS tags, or intent + slots, for raw text, CoNLL-U or JSONL; and tagger evaluation."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional, Sequence

import torch
import typer
from rich.table import Table

from cli.common import Device, ModelFile, Verbose, cli_errors, console, print_metrics, read_inputs
from corpora.readers.conllu import UPOS, XPOS, _sentences, read_conllu, write_conllu  # _sentences: parse stdin lines
from corpora.readers.tagging import check_tagged, conllu_sentences, read_split, tokenize, whitespace_tokens
from treeseq.checkpoint import load_archive
from treeseq.data.tagging import TaggedSentence
from treeseq.device import resolve_device
from treeseq.errors import ConfigError
from treeseq.tags import spans
from treeseq.tasks.tagger import Prediction, TaggerPredictor, TaggingReport

FORMATS = ("text", "conllu", "jsonl")


def tag(
    model: ModelFile,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Sentences; stdin (one a line) when none.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text, conllu (CoNLL-U in and out) or jsonl.")] = "text",
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="Read this file instead of stdin.", dir_okay=False)] = None,
    tokenized: Annotated[bool, typer.Option(help="Text is already tokenized: split on whitespace, not spaCy.")] = False,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (faster on CPUs with bf16 units).")] = "fp32",
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch (default: torch's choice).", min=1)] = None,
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Tag sentences: POS tags (word/TAG), or for NLU models the intent and the slots.

    Text is tokenized with spaCy's blank English tokenizer. With --format conllu the input is CoNLL-U
    and the output is the same bytes with the tag column filled in. JSONL gives for each sentence its
    tokens and tags, and for NLU models {"intent", "intent_prob", "slots": [{"type", "text", "start",
    "end"}]} with character offsets into the input line.
    """
    with cli_errors(verbose):
        if format not in FORMATS:
            raise ConfigError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
        if threads:
            torch.set_num_threads(threads)
        predictor = TaggerPredictor.from_archive(load_archive(model, task="tagger"), resolve_device(device), precision)
        if format == "conllu":
            conllu = read_conllu(input) if input else list(_sentences(_stdin_lines(), "<stdin>"))
            column = {"upos": UPOS, "xpos": XPOS}[predictor.data_cfg.column]
            predictions = predictor.predict(conllu_sentences(conllu, predictor.data_cfg.column, str(input or "<stdin>")))
            typer.echo(write_conllu(s.with_column(column, p.tags) for s, p in zip(conllu, predictions)), nl=False)
            return
        lines = [line for line in _text_lines(texts, input) if line.strip()]
        sentences = text_sentences(lines, tokenized)
        predictions = predictor.predict(sentences)
        write = _jsonl if format == "jsonl" else _text
        typer.echo("".join(write(line, s, p, predictor.kind) for line, s, p in zip(lines, sentences, predictions)), nl=False)


def _stdin_lines() -> list[tuple[int, str]]:
    return [(n, line.rstrip("\r\n")) for n, line in enumerate(sys.stdin, start=1)]


def _text_lines(texts: list[str] | None, path: Path | None) -> list[str]:
    if path is not None:
        from corpora.readers.text import read_lines  # noqa: PLC0415

        return [line for _, line in read_lines(path)]
    return read_inputs(texts)[0]


def text_sentences(lines: Sequence[str], tokenized: bool = False) -> list[TaggedSentence]:
    """Tokenize raw lines (spaCy's blank English tokenizer, or whitespace), keeping character offsets."""
    pieces = [whitespace_tokens(line) for line in lines] if tokenized else tokenize(lines)
    return [TaggedSentence(tuple(tokens), offsets=tuple(offsets)) for tokens, offsets in pieces]


def slot_records(line: str, sentence: TaggedSentence, tags: Sequence[str]) -> list[dict]:
    """The chunks of `tags` as {"type", "text", "start", "end"}, with character offsets into `line`."""
    offsets = sentence.offsets or ()
    out = []
    for span in spans(tags):
        start, end = offsets[span.start][0], offsets[span.end - 1][1]
        out.append({"type": span.label, "text": line[start:end], "start": start, "end": end})
    return out


def _jsonl(line: str, sentence: TaggedSentence, prediction: Prediction, kind: str) -> str:
    record: dict = {"text": line, "tokens": list(sentence.tokens), "tags": prediction.tags}
    if kind == "nlu":
        record["intent"], record["intent_prob"] = prediction.intent, round(prediction.intent_prob or 0.0, 4)
    if kind != "pos":
        record["slots"] = slot_records(line, sentence, prediction.tags)
    return json.dumps(record, ensure_ascii=False) + "\n"


def _text(line: str, sentence: TaggedSentence, prediction: Prediction, kind: str) -> str:
    if kind == "pos":
        return " ".join(f"{w}/{t}" for w, t in zip(sentence.tokens, prediction.tags)) + "\n"
    slots = slot_records(line, sentence, prediction.tags)
    shown = "  ".join(f"{s['type']}={s['text']!r}" for s in slots) or "(no slots)"
    head = f"{prediction.intent} ({prediction.intent_prob:.3f})  " if kind == "nlu" else ""
    return f"{head}{shown}\n"


def evaluate_tagger(archive: dict, data_dir: Path, split: str, format: str, device: str, precision: str = "fp32") -> None:
    """`treeseq evaluate` for tagger models: token accuracy; span P/R/F1 per type; intent and frame accuracy."""
    predictor = TaggerPredictor.from_archive(archive, resolve_device(device), precision)
    data = predictor.data_cfg
    loaded = read_split(data_dir, split, data.column, data.token_column, data.tag_column)
    check_tagged(loaded.sentences, data.column)
    report = predictor.evaluate(loaded.sentences)
    if format == "jsonl":
        record = {"data": str(loaded.path), "sentences": report.sentences, "tokens": report.tokens, **report.metrics}
        if report.chunks is not None:
            record["by_type"] = {k: {"precision": v.precision, "recall": v.recall, "f1": v.f1, "gold": v.gold,
                                     "predicted": v.predicted} for k, v in sorted(report.chunks.by_type.items())}  # fmt: skip
        typer.echo(json.dumps(record))
        return
    _print_report(report, loaded.path)


def _print_report(report: TaggingReport, path: Path) -> None:
    print_metrics(f"{path} ({report.sentences} sentences, {report.tokens} tokens)", report.metrics)
    if report.chunks is None:
        return
    types = Table(title="chunks by type (conlleval)")
    for name in ("type", "precision", "recall", "F1", "gold", "predicted"):
        types.add_column(name, justify="left" if name == "type" else "right")
    for name, score in sorted(report.chunks.by_type.items()):
        types.add_row(name, f"{score.precision * 100:.2f}", f"{score.recall * 100:.2f}", f"{score.f1 * 100:.2f}",
                      str(score.gold), str(score.predicted))  # fmt: skip
    overall = report.chunks.overall
    types.add_row("overall", f"{overall.precision * 100:.2f}", f"{overall.recall * 100:.2f}", f"{overall.f1 * 100:.2f}",
                  str(overall.gold), str(overall.predicted), style="bold")  # fmt: skip
    console.print(types)

