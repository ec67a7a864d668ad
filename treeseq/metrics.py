"""Every evaluation metric of the library, in one place: accuracy and confusion (trees), conlleval chunk
scores (taggers), unlabelled bracket scores (parsers), BLEU and chrF (translators; sacrebleu is
imported here and nowhere else). Figures are fractions here; reports show them in percent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
from torch import Tensor

from treeseq.tags import spans as chunk_spans

Span = tuple[int, int]


def accuracy(pred: Tensor, gold: Tensor) -> float:
    """Share of equal entries; nan when there are none."""
    if gold.numel() == 0:
        return float("nan")
    return float((pred == gold).float().mean())


def confusion_matrix(pred: Tensor, gold: Tensor, num_classes: int) -> list[list[int]]:
    """counts[gold][pred]."""
    flat = gold.long() * num_classes + pred.long()
    counts = torch.bincount(flat, minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes).tolist()


def class_scores(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> list[tuple[str, float, float, float, int]]:
    """Per class, from counts[gold][pred]: (name, precision, recall, F1, gold count), as fractions."""
    rows = []
    for index, name in enumerate(classes):
        hit = confusion[index][index]
        gold, predicted = sum(confusion[index]), sum(row[index] for row in confusion)
        precision, recall = (hit / predicted if predicted else 0.0), (hit / gold if gold else 0.0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append((name, precision, recall, f1, gold))
    return rows


def translation_scores(hypotheses: list[str], references: list[str]) -> dict[str, float | str]:
    """sacrebleu corpus BLEU (cased, 13a), lowercased BLEU and chrF on detokenized text, with signatures."""
    import sacrebleu  # noqa: PLC0415 (the only sacrebleu import in treeseq)

    bleu, bleu_lc, chrf = sacrebleu.BLEU(), sacrebleu.BLEU(lowercase=True), sacrebleu.CHRF()
    cased = bleu.corpus_score(hypotheses, [references])
    lower = bleu_lc.corpus_score(hypotheses, [references])
    char = chrf.corpus_score(hypotheses, [references])
    return {
        "bleu": cased.score, "bleu_lc": lower.score, "chrf": char.score,
        "bleu_signature": str(bleu.get_signature()), "bleu_lc_signature": str(bleu_lc.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
    }  # fmt: skip


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    """Cased sacrebleu BLEU (0-100)."""
    return float(translation_scores(hypotheses, references)["bleu"])


def bracket_counts(predicted: Sequence[Span], gold: Sequence[Span], length: int) -> tuple[int, int, int]:
    """(matched, predicted, gold) spans of two or more tokens, the whole sentence excluded."""

    def keep(spans: Sequence[Span]) -> set[Span]:
        return {(i, j) for i, j in spans if j - i >= 2 and (i, j) != (0, length)}

    pred, ref = keep(predicted), keep(gold)
    return len(pred & ref), len(pred), len(ref)


def f1_from_counts(matched: int, predicted: int, gold: int) -> dict[str, float]:
    """Precision, recall and F1 (fractions; 1.0 when there is nothing to find and nothing found)."""
    precision = matched / predicted if predicted else 1.0
    recall = matched / gold if gold else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def bracket_scores(predicted: Sequence[Sequence[tuple[int, int]]], gold: Sequence[Sequence[tuple[int, int]]],
                   lengths: Sequence[int]) -> dict[str, float]:  # fmt: skip
    """Unlabeled bracket precision, recall and F1 (spans of two or more tokens, whole sentence excluded)."""
    matched = found = wanted = exact = 0
    for pred, ref, n in zip(predicted, gold, lengths):
        m, p, g = bracket_counts(pred, ref, n)
        matched, found, wanted, exact = matched + m, found + p, wanted + g, exact + (m == p == g)
    return {**f1_from_counts(matched, found, wanted), "exact": exact / max(1, len(lengths))}


@dataclass
class TypeScore:
    """Chunk counts for one type (or overall)."""

    gold: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class ChunkReport:
    """conlleval's figures: token accuracy, overall and per-type chunk precision, recall and F1."""

    tokens: int = 0
    correct_tokens: int = 0
    overall: TypeScore = field(default_factory=TypeScore)
    by_type: dict[str, TypeScore] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct_tokens / self.tokens if self.tokens else 0.0


def conlleval(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> ChunkReport:
    """Score predicted tag sequences against gold ones as conlleval does (exact span and type match).

    Raises:
        ValueError: a sentence's sequences differ in length.
    """
    report = ChunkReport()
    for gold_tags, pred_tags in zip(gold, predicted, strict=True):
        if len(gold_tags) != len(pred_tags):
            raise ValueError(f"{len(pred_tags)} predicted tags for {len(gold_tags)} gold tags")
        report.tokens += len(gold_tags)
        report.correct_tokens += sum(g == p for g, p in zip(gold_tags, pred_tags))
        gold_spans, pred_spans = set(chunk_spans(gold_tags)), set(chunk_spans(pred_tags))
        for span_set, attr in ((gold_spans, "gold"), (pred_spans, "predicted"), (gold_spans & pred_spans, "correct")):
            for span in span_set:
                score = report.by_type.setdefault(span.label, TypeScore())
                setattr(score, attr, getattr(score, attr) + 1)
                setattr(report.overall, attr, getattr(report.overall, attr) + 1)
    return report
