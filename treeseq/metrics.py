"""Evaluation metrics. (sacrebleu, when used, is imported here and nowhere else.)"""

from __future__ import annotations

import torch
from torch import Tensor


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
