"""Batched beam search: all sentences and all their beams in one tensor (N = B x K rows).

Each step takes the 2K best continuations of every sentence; those ending in eos among its K best become
finished hypotheses, the K best others go on. A sentence is done with K finished hypotheses or at its
output budget (where eos is forced). Scores are log-probabilities divided by GNMT's length penalty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from treeseq.decoding import DecoderState, Hypothesis, StepFn, length_penalty


@dataclass
class _Beams:
    """The search's bookkeeping, kept out of the loop."""

    scores: Tensor  # (B, K) summed log-probabilities of the live beams
    seqs: Tensor  # (B*K, t) tokens so far
    attention: Tensor | None  # (B*K, t, S) when requested
    finished: list[list[Hypothesis]] = field(default_factory=list)  # per sentence of the batch
    done: list[bool] = field(default_factory=list)  # per sentence of the batch
    alive: list[int] = field(default_factory=list)  # the batch sentence behind each row group of the tensors

    def keep(self, sentences: Tensor, rows: Tensor) -> None:
        """Keep only these row groups (`sentences`, positions in `alive`) and their `rows`."""
        self.scores = self.scores.index_select(0, sentences)
        self.seqs = self.seqs.index_select(0, rows)
        if self.attention is not None:
            self.attention = self.attention.index_select(0, rows)
        self.alive = [self.alive[i] for i in sentences.tolist()]


def beam_search(step: StepFn, state: DecoderState, *, bos_id: int, eos_id: int, beam_size: int, max_lens: Tensor,
                alpha: float = 0.0, n_best: int = 1, with_attention: bool = False) -> list[list[Hypothesis]]:  # fmt: skip
    """Beam search for a batch of sentences.

    Args:
        step: the model's step function (see treeseq.decoding).
        state: one row per sentence; expanded here to `beam_size` rows each.
        bos_id: first input token.
        eos_id: end token.
        beam_size: beams per sentence (K).
        max_lens: (B,) output budget per sentence, eos included.
        alpha: length-penalty exponent (0: raw log-probabilities).
        n_best: hypotheses returned per sentence (<= beam_size).
        with_attention: keep attention weights (len + 1, S) with each hypothesis.

    Returns:
        For each sentence its n best hypotheses, best first.

    The first step runs once per sentence (its K beams would all be the same bos row) and is then
    copied to K rows. Sentences that are done leave the tensors (when the state can `select`
    sentences), so the rows of later steps are only those of sentences still searching.
    """
    batch, k = max_lens.shape[0], beam_size
    device = max_lens.device
    expand = torch.arange(batch, device=device).repeat_interleave(k)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0
    beams = _Beams(scores, torch.zeros(batch * k, 0, dtype=torch.long, device=device), None,
                   [[] for _ in range(batch)], [False] * batch, list(range(batch)))  # fmt: skip
    budgets = max_lens.clone()
    prev = torch.full((batch,), bos_id, dtype=torch.long, device=device)
    can_select = hasattr(state, "select")
    for t in range(int(max_lens.max())):
        log_probs, state, weights = step(prev, state)
        if t == 0:
            log_probs, state = log_probs.index_select(0, expand), state.reorder(expand)
            weights = None if weights is None else weights.index_select(0, expand)
        top_scores, sources, tokens = _candidates(beams.scores, log_probs, budgets <= t + 1, eos_id)
        _finalize(beams, top_scores, sources, tokens, weights if with_attention else None, eos_id, k, alpha)
        rows, prev = _advance(beams, top_scores, sources, tokens, eos_id, k)
        state = state.reorder(rows)
        _extend(beams, rows, prev, weights if with_attention else None)
        for index in (budgets <= t + 1).nonzero().flatten().tolist():
            beams.done[beams.alive[index]] = True
        keep = [i for i, sentence in enumerate(beams.alive) if not beams.done[sentence]]
        if not keep:
            break
        if can_select and len(keep) < len(beams.alive):
            sentences = torch.tensor(keep, device=device)
            rows = (sentences.unsqueeze(1) * k + torch.arange(k, device=device)).flatten()
            state = state.select(sentences, rows)  # type: ignore[attr-defined]
            beams.keep(sentences, rows)
            budgets, prev = budgets.index_select(0, sentences), prev.index_select(0, rows)
    return [sorted(hyps, key=lambda h: -h.score)[:n_best] for hyps in beams.finished]


def _candidates(scores: Tensor, log_probs: Tensor, at_budget: Tensor, eos_id: int) -> tuple[Tensor, Tensor, Tensor]:
    """The 2K best continuations of each sentence: summed scores, source beams and tokens, each (B, 2K).

    Only a beam's own 2K best tokens can be among its sentence's 2K best continuations, so each row's
    top 2K are taken first (no (N, V) sum); a sentence at its output budget may only end (eos).
    """
    live, k = scores.shape
    vocab = log_probs.shape[1]
    width = min(2 * k, vocab)
    row_scores, row_tokens = log_probs.topk(width, dim=1)  # (N, 2K)
    if bool(at_budget.any()):
        rows = at_budget.repeat_interleave(k)
        eos_scores = torch.full_like(row_scores[rows], float("-inf"))
        eos_scores[:, 0] = log_probs[rows, eos_id]
        row_scores[rows] = eos_scores
        row_tokens[rows] = eos_id
    cand = (scores.unsqueeze(-1) + row_scores.view(live, k, width)).view(live, k * width)
    top_scores, top_index = cand.topk(min(2 * k, k * width), dim=1)
    return top_scores, top_index // width, row_tokens.view(live, k * width).gather(1, top_index)


def _finalize(beams: _Beams, top_scores: Tensor, sources: Tensor, tokens: Tensor, weights: Tensor | None,
              eos_id: int, k: int, alpha: float) -> None:  # fmt: skip
    """Turn eos candidates among each sentence's K best into finished hypotheses."""
    hits = ((tokens[:, :k] == eos_id) & torch.isfinite(top_scores[:, :k])).nonzero().tolist()
    for group, rank in hits:
        sentence = beams.alive[group]
        if beams.done[sentence]:
            continue
        row = group * k + int(sources[group, rank])
        seq = beams.seqs[row].tolist()
        log_prob = float(top_scores[group, rank])
        attention = None
        if weights is not None:
            last = weights[row].float().cpu().unsqueeze(0)
            attention = last if beams.attention is None else torch.cat([beams.attention[row].cpu(), last], 0)
        beams.finished[sentence].append(Hypothesis(seq, log_prob, log_prob / length_penalty(len(seq) + 1, alpha), attention))
        if len(beams.finished[sentence]) >= k:
            beams.done[sentence] = True


def _advance(beams: _Beams, top_scores: Tensor, sources: Tensor, tokens: Tensor, eos_id: int, k: int) -> tuple[Tensor, Tensor]:
    """Keep the K best candidates that do not end in eos; returns their source rows and tokens, (B*K,)."""
    width = top_scores.shape[1]
    rank_key = (tokens == eos_id).long() * width + torch.arange(width, device=tokens.device)
    keep = rank_key.argsort(dim=1)[:, :k]  # (B, K)
    beams.scores = top_scores.gather(1, keep).masked_fill(tokens.gather(1, keep) == eos_id, float("-inf"))
    offsets = torch.arange(top_scores.shape[0], device=tokens.device).unsqueeze(1) * k
    rows = (offsets + sources.gather(1, keep)).flatten()
    return rows, tokens.gather(1, keep).flatten()


def _extend(beams: _Beams, rows: Tensor, new_tokens: Tensor, weights: Tensor | None) -> None:
    beams.seqs = torch.cat([beams.seqs.index_select(0, rows), new_tokens.unsqueeze(1)], dim=1)
    if weights is not None:
        step_weights = weights.index_select(0, rows).float().unsqueeze(1)
        previous = beams.attention.index_select(0, rows) if beams.attention is not None else None
        beams.attention = step_weights if previous is None else torch.cat([previous, step_weights], dim=1)
