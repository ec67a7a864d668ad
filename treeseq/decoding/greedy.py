"""Greedy decoding of a whole batch at once."""

from __future__ import annotations

import torch
from torch import Tensor

from treeseq.decoding import DecoderState, Hypothesis, StepFn


def greedy_search(step: StepFn, state: DecoderState, *, bos_id: int, eos_id: int, max_lens: Tensor,
                  with_attention: bool = False) -> list[Hypothesis]:  # fmt: skip
    """The argmax token at every step, for all sentences together.

    Args:
        step: the model's step function (see treeseq.decoding).
        state: one row per sentence.
        bos_id: first input token.
        eos_id: end token; a sentence stops at its first eos.
        max_lens: (B,) output budget per sentence, eos included; at the budget eos is forced.
        with_attention: keep each step's attention weights.

    Returns:
        One hypothesis per sentence (score = log_prob).
    """
    batch = max_lens.shape[0]
    device = max_lens.device
    prev = torch.full((batch,), bos_id, dtype=torch.long, device=device)
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    totals = torch.zeros(batch, dtype=torch.float64, device=device)
    tokens: list[Tensor] = []
    attention: list[Tensor] = []
    for t in range(int(max_lens.max())):
        log_probs, state, weights = step(prev, state)
        force = (max_lens <= t + 1).unsqueeze(1)  # the last allowed step must end the sentence
        masked = torch.where(force & (torch.arange(log_probs.shape[1], device=device) != eos_id), float("-inf"), log_probs)
        chosen = masked.argmax(-1)
        totals += torch.where(done, 0.0, log_probs.gather(1, chosen.unsqueeze(1)).squeeze(1).double())
        tokens.append(chosen)
        if with_attention and weights is not None:
            attention.append(weights.float().cpu())
        done = done | (chosen == eos_id)
        if bool(done.all()):
            break
        prev = chosen
    return _hypotheses(torch.stack(tokens, 1).tolist(), totals.tolist(), attention, eos_id)


def _hypotheses(rows: list[list[int]], totals: list[float], attention: list[Tensor], eos_id: int) -> list[Hypothesis]:
    stacked = torch.stack(attention, 1) if attention else None  # (B, T, S)
    out = []
    for index, row in enumerate(rows):
        length = row.index(eos_id) if eos_id in row else len(row)
        weights = stacked[index, : length + 1] if stacked is not None else None
        out.append(Hypothesis(row[:length], totals[index], totals[index], weights))
    return out
