"""Forced decoding: the log-probability a step function gives to given target sequences."""

from __future__ import annotations

from typing import Sequence

import torch

from treeseq.decoding import DecoderState, StepFn


def forced_log_probs(step: StepFn, state: DecoderState, targets: Sequence[Sequence[int]], *, bos_id: int,
                     eos_id: int) -> list[float]:  # fmt: skip
    """Summed log-probability of each target followed by eos, one row per target (state has one row each).

    This drives the same step function as greedy and beam search, so its figures match their scores.
    """
    device = next(iter(_tensors(state)), torch.zeros(0)).device
    width = max(map(len, targets)) + 1
    gold = torch.full((len(targets), width), -1, dtype=torch.long)
    for index, row in enumerate(targets):
        gold[index, : len(row) + 1] = torch.tensor([*row, eos_id], dtype=torch.long)
    gold = gold.to(device)
    totals = torch.zeros(len(targets), dtype=torch.float64, device=device)
    prev = torch.full((len(targets),), bos_id, dtype=torch.long, device=device)
    for t in range(width):
        log_probs, state, _ = step(prev, state)
        wanted = gold[:, t]
        picked = log_probs.gather(1, wanted.clamp_min(0).unsqueeze(1)).squeeze(1).double()
        totals += torch.where(wanted >= 0, picked, 0.0)
        prev = wanted.clamp_min(0)
    return totals.tolist()


def _tensors(state: DecoderState) -> list[torch.Tensor]:
    return [v for v in vars(state).values() if isinstance(v, torch.Tensor)] if hasattr(state, "__dict__") else []
