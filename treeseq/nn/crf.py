"""A linear-chain CRF: vectorized forward algorithm and Viterbi over a padded batch.

Both loop over time only; every step is one (B, K, K) broadcast over the batch and all tag pairs.
Optional constraints (bool masks, True = allowed) make transitions impossible: Viterbi never takes
them (-inf) and the likelihood gives them a large penalty (finite, so gradients stay defined).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from treeseq.errors import ShapeError

PENALTY = -1e4  # score of a forbidden transition inside the likelihood
TINY = 1e-30  # floor of a step's summed probability mass (keeps log and its gradient finite)


class CRF(nn.Module):
    """Transition, start and end scores for `num_tags` tags.

    Args:
        num_tags: K, the number of tags.
        constraints: optional (start (K,), transitions (K, K) from->to, end (K,)) bool masks of what is allowed.
    """

    def __init__(self, num_tags: int, constraints: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        if constraints is None:
            ones = torch.ones(num_tags, dtype=torch.bool)
            constraints = (ones, torch.ones(num_tags, num_tags, dtype=torch.bool), ones)
        start_ok, trans_ok, end_ok = constraints
        self.register_buffer("start_ok", start_ok.clone().bool())
        self.register_buffer("trans_ok", trans_ok.clone().bool())
        self.register_buffer("end_ok", end_ok.clone().bool())

    def _scores(self, hard: bool) -> tuple[Tensor, Tensor, Tensor]:
        """Start, transition and end scores with the constraints applied (-inf if hard, else a penalty)."""
        value = float("-inf") if hard else PENALTY
        return (
            self.start.masked_fill(~self.start_ok, value),
            self.transitions.masked_fill(~self.trans_ok, value),
            self.end.masked_fill(~self.end_ok, value),
        )

    def _check(self, emissions: Tensor, mask: Tensor) -> None:
        if emissions.dim() != 3 or emissions.shape[-1] != self.num_tags or mask.shape != emissions.shape[:2]:
            raise ShapeError(f"CRF: emissions (B, T, {self.num_tags}) and mask (B, T) expected, "
                             f"got {tuple(emissions.shape)} and {tuple(mask.shape)}")  # fmt: skip

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log Z for each sentence (B,); `mask` (B, T) is True on real tokens, a prefix of each row."""
        self._check(emissions, mask)
        start, trans, end = self._scores(hard=False)
        emissions = emissions.float()
        # logsumexp over the previous tag as a matrix product: exp(alpha - rowmax) @ exp(trans - colmax).
        # Only B*K + K*K exponentials per step instead of B*K*K; forbidden transitions become exact zeros.
        shift = trans.max(dim=0).values  # (K,)
        exp_trans = torch.exp(trans - shift)  # (K, K)
        alpha = start + emissions[:, 0]  # (B, K)
        for t in range(1, emissions.shape[1]):
            top = alpha.max(dim=1, keepdim=True).values  # (B, 1)
            total = torch.exp(alpha - top) @ exp_trans  # (B, K)
            step = torch.log(total.clamp_min(TINY)) + top + shift + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def sequence_score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """The unnormalized score of the given tag sequences (B,); padded tags may hold any valid id."""
        self._check(emissions, mask)
        start, trans, end = self._scores(hard=False)
        tags = tags.clamp_min(0)
        maskf = mask.to(torch.float32)
        emitted = emissions.float().gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T)
        score = start[tags[:, 0]] + (emitted * maskf).sum(1)
        score = score + (trans[tags[:, :-1], tags[:, 1:]] * maskf[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).clamp_min(0).unsqueeze(1)).squeeze(1)
        return score + end[last]

    def neg_log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """-log p(tags | emissions) per sentence (B,)."""
        return self.log_partition(emissions, mask) - self.sequence_score(emissions, tags, mask)

    @torch.no_grad()
    def viterbi(self, emissions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """The best tag sequences (B, T) (0 on padding) and their scores (B,), constraints enforced."""
        self._check(emissions, mask)
        start, trans, end = self._scores(hard=True)
        emissions = emissions.float()
        batch, length, num_tags = emissions.shape
        keep = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)
        score = start + emissions[:, 0]  # (B, K)
        backpointers = []
        for t in range(1, length):
            best, index = (score.unsqueeze(2) + trans).max(dim=1)  # over the previous tag: (B, K)
            on = mask[:, t].unsqueeze(1)
            score = torch.where(on, best + emissions[:, t], score)
            backpointers.append(torch.where(on, index, keep))  # padding passes the tag through
        best_score, last = (score + end).max(dim=1)
        path = [last]
        for index in reversed(backpointers):
            last = index.gather(1, last.unsqueeze(1)).squeeze(1)
            path.append(last)
        tags = torch.stack(path[::-1], dim=1)
        return tags.masked_fill(~mask, 0), best_score
