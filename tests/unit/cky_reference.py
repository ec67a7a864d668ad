"""The slow, obvious chart decoder: a Python loop over cells, one small tensor max per cell.

It exists to check `treeseq.decoding.cky` (tests) and as the baseline in `benchmarks/parse.py`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from treeseq.data.parsing import Span


def cky_decode_per_cell(scores: Tensor, n: int) -> tuple[list[Span], float]:
    """The best binary tree over `n` tokens from one sentence's (>= n + 1, >= n + 1) span scores.

    Returns:
        (spans root first in pre-order, the tree's score).
    """
    best: dict[Span, Tensor] = {}
    split: dict[Span, int] = {}
    for i in range(n):
        best[(i, i + 1)] = scores[i, i + 1]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length
            options = torch.stack([best[(i, k)] + best[(k, j)] for k in range(i + 1, j)])
            value, arg = options.max(0)
            best[(i, j)] = value + scores[i, j]
            split[(i, j)] = i + 1 + int(arg)
    spans: list[Span] = []
    stack = [(0, n)]
    while stack:
        i, j = stack.pop()
        spans.append((i, j))
        if j - i > 1:
            stack.extend([(split[(i, j)], j), (i, split[(i, j)])])
    return spans, float(best[(0, n)])
