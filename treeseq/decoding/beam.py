"""Batched beam search: all sentences and all their beams in one tensor (N = B x K rows).

Each step takes the 2K best continuations of every sentence; those ending in eos among its K best become
finished hypotheses, the K best others go on. A sentence is done with K finished hypotheses or at its
output budget (where eos is forced). Scores are log-probabilities divided by GNMT's length penalty.

Sentences that are done leave the tensors, and with a `refill` source new sentences join the running
search as places free up (continuous batching): the rows stay many until the input runs out, instead
of dwindling to the longest few sentences of each batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import torch
from torch import Tensor

from treeseq.decoding import DecoderState, Hypothesis, StepFn, length_penalty

_Step = tuple[Optional[Tensor], Optional[DecoderState], Optional[Tensor]]  # log-probs, state, attention

# refill(n): up to n more sentences to search (a state with one row per sentence and their output budgets),
# or None when there are none for now; the search ends when it has no sentence left and refill gives None.
Refill = Callable[[int], Optional[tuple[DecoderState, Tensor]]]


@dataclass
class _Beams:
    """The search's bookkeeping, kept out of the loop."""

    scores: Tensor  # (B, K) summed log-probabilities of the live beams
    seqs: Tensor  # (B*K, c) tokens so far; a sentence's own start at column starts[sentence] - offset
    attention: Tensor | None  # (B*K, t, S) when requested
    finished: list[list[Hypothesis]] = field(default_factory=list)  # per sentence, in the order they joined
    done: list[bool] = field(default_factory=list)  # per sentence
    alive: list[int] = field(default_factory=list)  # the sentence behind each row group of the tensors
    starts: list[int] = field(default_factory=list)  # per sentence: the step at which it joined
    offset: int = 0  # the step whose token is in column 0 of seqs

    def keep(self, sentences: Tensor, k: int) -> Tensor:
        """Keep only these sentences (positions in `alive`) and their K rows each; returns those rows."""
        rows = (sentences.unsqueeze(1) * k + torch.arange(k, device=sentences.device)).flatten()
        self.scores = self.scores.index_select(0, sentences)
        self.seqs = self.seqs.index_select(0, rows)
        if self.attention is not None:
            self.attention = self.attention.index_select(0, rows)
        self.alive = [self.alive[i] for i in sentences.tolist()]
        return rows

    def join(self, count: int, k: int, step: int) -> None:
        """`count` new sentences, K rows each after the current ones; only their first beam is live."""
        first = len(self.finished)
        self.finished += [[] for _ in range(count)]
        self.done += [False] * count
        self.alive += range(first, first + count)
        self.starts += [step] * count
        scores = self.scores.new_full((count, k), float("-inf"))
        scores[:, 0] = 0.0
        self.scores = torch.cat([self.scores, scores])
        self.seqs = torch.cat([self.seqs, self.seqs.new_zeros(count * k, self.seqs.shape[1])])
        low = min(self.starts[s] for s in self.alive)  # columns before every live sentence's start go
        if low > self.offset:
            self.seqs, self.offset = self.seqs[:, low - self.offset :], low

    def tokens(self, sentence: int, row: int) -> list[int]:
        return self.seqs[row, self.starts[sentence] - self.offset :].tolist()


def beam_search(step: StepFn, state: DecoderState, *, bos_id: int, eos_id: int, beam_size: int, max_lens: Tensor,
                alpha: float = 0.0, n_best: int = 1, with_attention: bool = False,
                refill: Refill | None = None) -> list[list[Hypothesis]]:  # fmt: skip
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
        refill: more sentences, asked for whenever at most 3/4 of B sentences are still searching (up
            to B in all); needs states with `select` and `merge`, and no attention.

    Returns:
        For each sentence its n best hypotheses, best first: the B given, then those refill gave, in order.

    A sentence's first step runs once per sentence (its K beams would all be the same bos row) and is
    then copied to K rows. Sentences that are done leave the tensors (when the state can `select`
    sentences), so the rows of later steps are only those of sentences still searching.
    """
    if refill is not None and (with_attention or not (hasattr(state, "select") and hasattr(state, "merge"))):
        raise ValueError("refilling a beam search needs states with select and merge, and no attention")
    k, capacity, device = beam_size, max_lens.shape[0], max_lens.device
    beams = _Beams(torch.zeros(0, k, device=device), torch.zeros(0, 0, dtype=torch.long, device=device), None)
    deadlines = torch.zeros(0, dtype=torch.long, device=device)  # per live sentence: start + output budget
    incoming: tuple[DecoderState, Tensor] | None = (state, max_lens)
    live: DecoderState | None = None
    prev = torch.zeros(0, dtype=torch.long, device=device)
    can_select = hasattr(state, "select")
    t = 0
    while True:
        if incoming is None and refill is not None and len(beams.alive) <= capacity * 3 // 4:
            incoming = refill(capacity - len(beams.alive))
        if incoming is None and not beams.alive:
            break
        found: _Step = (None, live, None)
        if beams.alive:
            found = step(prev, live)
        if incoming is not None:
            found, deadlines = _join(step, incoming, found, beams, deadlines, bos_id, k, t)
            incoming = None
        log_probs, live, weights = found
        if log_probs is None or live is None:  # nothing searching and nothing joined (an empty group): done
            break
        live, prev = _expand(beams, log_probs, live, weights if with_attention else None, deadlines <= t + 1, eos_id, k, alpha)
        t += 1
        keep = [i for i, sentence in enumerate(beams.alive) if not beams.done[sentence]]
        if len(keep) == len(beams.alive):
            continue
        if not can_select:
            if not keep:
                break
            continue
        live, deadlines, prev = _drop_finished(beams, keep, live, deadlines, prev, k)
    return [sorted(hyps, key=lambda h: -h.score)[:n_best] for hyps in beams.finished]


def _expand(beams: _Beams, log_probs: Tensor, live: DecoderState, weights: Tensor | None, at_budget: Tensor, eos_id: int,
            k: int, alpha: float) -> tuple[DecoderState, Tensor]:  # fmt: skip
    """One step of the search: the candidates, the hypotheses they finish, the K beams that go on (and
    the state reordered to them); sentences at their output budget are done. Returns the state and
    the next input tokens."""
    top_scores, sources, tokens = _candidates(beams.scores, log_probs, at_budget, eos_id)
    _finalize(beams, top_scores, sources, tokens, weights, eos_id, k, alpha)
    rows, prev = _advance(beams, top_scores, sources, tokens, eos_id, k)
    _extend(beams, rows, prev, weights)
    for index in at_budget.nonzero().flatten().tolist():
        beams.done[beams.alive[index]] = True
    return live.reorder(rows), prev


def _drop_finished(beams: _Beams, keep: list[int], live: DecoderState, deadlines: Tensor, prev: Tensor,
                   k: int) -> tuple[DecoderState, Tensor, Tensor]:  # fmt: skip
    """Finished sentences leave the tensors: only the sentences at positions `keep` (and their K rows) stay."""
    sentences = torch.tensor(keep, dtype=torch.long, device=deadlines.device)
    rows = beams.keep(sentences, k)
    return live.select(sentences, rows), deadlines.index_select(0, sentences), prev.index_select(0, rows)  # type: ignore[attr-defined]



def _join(step: StepFn, incoming: tuple[DecoderState, Tensor], found: _Step, beams: _Beams, deadlines: Tensor,
          bos_id: int, k: int, t: int) -> tuple[_Step, Tensor]:  # fmt: skip
    """New sentences enter the search at step t: their first step once per sentence, copied to K rows,
    after the running rows (whose step `found` holds, if any); returns the combined step and deadlines."""
    new_state, new_lens = incoming
    count, device = int(new_lens.shape[0]), deadlines.device
    if not count:
        return found, deadlines
    log_probs, live, weights = found
    first, new_state, new_weights = step(torch.full((count,), bos_id, dtype=torch.long, device=device), new_state)
    expand = torch.arange(count, device=device).repeat_interleave(k)
    first, new_state = first.index_select(0, expand), new_state.reorder(expand)
    if log_probs is None or live is None:
        found = (first, new_state, None if new_weights is None else new_weights.index_select(0, expand))
    else:  # joining a running search (refill: no attention kept)
        found = (torch.cat([log_probs, first]), live.merge(new_state), None)  # type: ignore[attr-defined]
    beams.join(count, k, t)
    return found, torch.cat([deadlines, new_lens.to(device) + t])


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
        seq = beams.tokens(sentence, row)
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
