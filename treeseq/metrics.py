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
