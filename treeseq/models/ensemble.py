"""Ensembles: several trained networks of one family that predict as one.

Each class here stands where a family's network stands in its inference and returns what that network
returns, so that decoding, evaluation and every surface run unchanged. How the members combine:

- classifiers over classes (tree nodes, sentences): the mean of the members' class probabilities.
  `forward` returns the log of that mean, so the batched inference's softmax gives the mean itself;
- taggers: with a softmax output, the mean of the members' tag probabilities; with a CRF, Viterbi over
  the members' averaged emission, transition, start and end scores (a product of experts); the intent,
  the mean of the intent probabilities;
- the span parser: the members' averaged span scores, decoded by CKY as one parser's;
- language models: the log of the mean of the members' next-token probabilities at every position.

The translator's ensemble (the mean of next-token probabilities at every decoding step, its members'
decoders inside one beam) is `Seq2SeqEnsemble` with its decoder in treeseq.decoding.seq2seq_inference.
Members see the same batch; an ensemble adds one combination per batch to its members' own work.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from treeseq.errors import ConfigError
from treeseq.nn.crf import CRF


def mean_log_probs(log_probs: Sequence[Tensor]) -> Tensor:
    """log((1/N) sum_m p_m) from the members' log-probabilities (each (..., C)), in fp32."""
    stacked = torch.stack([lp.float() for lp in log_probs])
    return torch.logsumexp(stacked, dim=0) - math.log(len(log_probs))


class Ensemble(nn.Module):
    """Members held as one module (moved, switched to eval and counted together)."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs two or more members, got {len(members)}")
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)


class ClassProbEnsemble(Ensemble):
    """Tree classifiers and sentence classifiers: `forward(batch)` gives log mean class probabilities,
    in place of the members' logits (a softmax of it is the mean of their softmaxes)."""

    def forward(self, *inputs: object) -> Tensor:
        return mean_log_probs([torch.log_softmax(m(*inputs).float(), dim=-1) for m in self.members])

    @property
    def num_classes(self) -> int:
        return self.members[0].num_classes  # type: ignore[return-value]


class SpanScoreEnsemble(Ensemble):
    """Span parsers: the members' span scores (B, N + 1, N + 1) averaged, for one CKY."""

    def forward(self, *inputs: object) -> Tensor:
        return torch.stack([m(*inputs).float() for m in self.members]).mean(0)


class TaggerEnsemble(Ensemble):
    """BiRNN taggers with one output kind (softmax or CRF) and, for a CRF, the same constraints."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__(members)
        crfs = [getattr(m, "crf", None) for m in members]
        if any((c is None) != (crfs[0] is None) for c in crfs):
            raise ConfigError("ensemble members mix softmax and CRF tag outputs; their tags cannot be combined")
        self.crf: CRF | None = None
        if crfs[0] is not None:
            first = crfs[0]
            for crf in crfs[1:]:
                if not (torch.equal(crf.trans_ok, first.trans_ok) and torch.equal(crf.start_ok, first.start_ok)
                        and torch.equal(crf.end_ok, first.end_ok)):  # fmt: skip
                    raise ConfigError("ensemble members' CRFs allow different tag transitions (another tagging scheme)")
            self.crf = _mean_crf(crfs)  # type: ignore[arg-type]

    @torch.no_grad()
    def predict(self, batch: object) -> tuple[Tensor, Tensor, Tensor | None]:
        """As BiRNNTagger.predict: best tags (B, T), their probabilities (B, T), intent probabilities (B, I).

        Token probabilities are the mean of the members' softmaxes (with a CRF: of their emission scores).
        """
        states = [m.encode(batch) for m in self.members]  # type: ignore[operator]
        scores = [m.tag_scores(s).float() for m, s in zip(self.members, states)]  # type: ignore[operator]
        probs = torch.stack([torch.softmax(s, dim=-1) for s in scores]).mean(0)
        mask = batch.mask  # type: ignore[attr-defined]
        if self.crf is not None:
            tags, _ = self.crf.viterbi(torch.stack(scores).mean(0), mask)
        else:
            tags = probs.argmax(dim=-1)
        tag_probs = probs.gather(2, tags.unsqueeze(2)).squeeze(2)
        intents = None
        if getattr(self.members[0], "intent_out", None) is not None:
            intents = torch.stack([torch.softmax(m.intent_logits(s.float(), mask).float(), -1)  # type: ignore[operator]
                                   for m, s in zip(self.members, states)]).mean(0)  # fmt: skip
        return tags, tag_probs, intents


def _mean_crf(crfs: Sequence[CRF]) -> CRF:
    """A CRF whose transition, start and end scores are the members' means (their constraints kept)."""
    first = crfs[0]
    out = CRF(first.num_tags, (first.start_ok, first.trans_ok, first.end_ok))
    with torch.no_grad():
        for name in ("transitions", "start", "end"):
            getattr(out, name).copy_(torch.stack([getattr(c, name).float() for c in crfs]).mean(0))
    return out.to(first.transitions.device)


def _nested(state: object) -> bool:
    return isinstance(state, list)


class LMEnsemble(Ensemble):
    """RNN language models over one vocabulary; the state is the list of the members' states.

    `forward` and `step` return log mean next-token probabilities where a member returns its scores
    (whose log-softmax is its distribution); with targets, `forward` returns their summed negative
    log-likelihood under the mean.
    """

    def forward(self, inputs: Tensor, state: list | None = None, targets: Tensor | None = None) -> tuple[Tensor, list]:
        found = [m(inputs, None if state is None else state[i]) for i, m in enumerate(self.members)]
        log_probs = mean_log_probs([torch.log_softmax(scores.float(), dim=-1) for scores, _ in found])
        new_state = [s for _, s in found]
        if targets is None:
            return log_probs, new_state
        return -log_probs.gather(-1, targets.unsqueeze(-1)).sum(), new_state

    def step(self, ids: Tensor, state: list) -> tuple[Tensor, list]:
        found = [m.step(ids, s) for m, s in zip(self.members, state)]  # type: ignore[operator]
        return mean_log_probs([torch.log_softmax(scores.float(), dim=-1) for scores, _ in found]), [s for _, s in found]


class Seq2SeqEnsemble(Ensemble):
    """Encoder-decoders over the same subwords: forced scoring here, decoding through
    treeseq.decoding.seq2seq_inference (`inference_decoder` builds the members' decoders, one beam)."""

    def target_token_log_probs(self, src_ids: Tensor, src_lengths: Tensor, tgt_in: Tensor, tgt_out: Tensor) -> Tensor:
        """Each target position's log mean probability (B, T), 0 on padding."""
        per_member = [m.target_token_log_probs(src_ids, src_lengths, tgt_in, tgt_out) for m in self.members]  # type: ignore[operator]
        combined = mean_log_probs([lp.unsqueeze(-1) for lp in per_member]).squeeze(-1)
        return combined.masked_fill(tgt_out == 0, 0.0)

    def target_log_probs(self, src_ids: Tensor, src_lengths: Tensor, tgt_in: Tensor, tgt_out: Tensor) -> Tensor:
        """Forced decoding: each target's summed log mean probability (eos included), (B,)."""
        return self.target_token_log_probs(src_ids, src_lengths, tgt_in, tgt_out).sum(-1)
