"""Grouping examples into batches, for every family: by length under a padded-size budget, or in
shuffled pools sorted by length (or tree height). Both return lists of indices into the examples."""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Sequence

import torch


def budget_batches(keys: Sequence[Any], costs: Sequence[float], budget: float = math.inf, *,
                   rng: random.Random | None = None, max_items: int | None = None) -> list[list[int]]:  # fmt: skip
    """Indices sorted by key, cut into batches whose padded cost stays within `budget`.

    A batch's padded cost is its number of items times its largest item cost (tokens of the longest
    sentence, cells of the largest chart); an item over the budget gets a batch of its own. With `rng`,
    ties between equal keys are broken at random and the batch order is shuffled (training); without,
    batches come in key order (prediction; the caller restores input order).

    Args:
        max_items: also at most this many items a batch (a fixed batch size with the default budget).
    """
    noise = [rng.random() for _ in keys] if rng is not None else None
    order = sorted(range(len(keys)), key=(lambda i: (keys[i], noise[i])) if noise else (lambda i: keys[i]))  # type: ignore[index]
    batches: list[list[int]] = []
    current: list[int] = []
    largest = 0.0
    for index in order:
        cost = costs[index]
        full = max_items is not None and len(current) >= max_items
        if current and (full or (len(current) + 1) * max(largest, cost) > budget):
            batches.append(current)
            current, largest = [], 0.0
        current.append(index)
        largest = max(largest, cost)
    if current:
        batches.append(current)
    if rng is not None:
        rng.shuffle(batches)
    return batches


def pooled_batches(count: int, size: int, rng: random.Random, key: Callable[[int], Any] | None = None,
                   pool: int = 50) -> list[list[int]]:  # fmt: skip
    """An epoch's batches of `size` shuffled indices, a function of the random stream alone.

    With `key` (length, tree height), the shuffled indices are sorted by key within pools of `pool`
    batches, so that a batch holds similar items, and the batches are shuffled; without, the batches
    are consecutive runs of the shuffled order.
    """
    order = list(range(count))
    rng.shuffle(order)
    if key is None:
        return [order[start : start + size] for start in range(0, count, size)]
    span = size * pool
    order = [i for start in range(0, count, span) for i in sorted(order[start : start + span], key=key)]
    batches = [order[start : start + size] for start in range(0, count, size)]
    rng.shuffle(batches)
    return batches


def length_mask(lengths: torch.Tensor, width: int, device: torch.device | None = None) -> torch.Tensor:
    """(B, width) bool, True at the first lengths[b] positions of row b (the real tokens of a padded batch)."""
    device = lengths.device if device is None else device
    return torch.arange(width, device=device).unsqueeze(0) < lengths.to(device).unsqueeze(1)
