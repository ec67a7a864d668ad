"""Model-agnostic decoding: greedy, batched beam search and forced scoring over a step function.

A step function takes the previous token of every row, (N,), and a decoder state, and returns the
next-token log-probabilities (N, V), the new state and optionally attention weights (N, S). States
reorder their rows with `reorder(indices)`; every index must point at a row of the same sentence
(rows are grouped by sentence, N = sentences x rows per sentence), which all decoders here guarantee.
A state may also offer `select(sentences, rows)`, keeping only some sentences and their rows; beam
search then drops sentences that are done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Protocol

from torch import Tensor


class DecoderState(Protocol):
    def reorder(self, indices: Tensor) -> DecoderState: ...


StepFn = Callable[[Tensor, DecoderState], tuple[Tensor, DecoderState, Optional[Tensor]]]


@dataclass
class Hypothesis:
    """One output sequence: tokens without bos/eos, the summed log-probability (eos included), the
    length-normalized search score, and per-step attention (len + 1, S) when requested."""

    tokens: list[int]
    log_prob: float
    score: float
    attention: Tensor | None = None


def length_penalty(length: int, alpha: float) -> float:
    """GNMT's ((5 + length) / 6) ** alpha; alpha 0 means raw log-probabilities."""
    return ((5.0 + length) / 6.0) ** alpha
