"""Attention over an encoder memory: additive (Bahdanau) and multiplicative (Luong dot / general).

Queries come as (B, Q, Hq): Q is the target length when the whole target is attended at once (training's
fast path) and the beam size when decoding, so one code path serves both. Keys are computed from the
memory once per sentence (`keys`), not once per step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from treeseq.errors import ConfigError, ShapeError

ATTENTIONS = ("bahdanau", "dot", "general")


class Attention(nn.Module):
    """score(q, m) = v . tanh(Wq q + Wm m) (bahdanau), q . m (dot) or q . W m (general)."""

    def __init__(self, kind: str, query_size: int, memory_size: int, attn_size: int) -> None:
        super().__init__()
        if kind not in ATTENTIONS:
            raise ConfigError(f"attention {kind!r}: expected one of {', '.join(ATTENTIONS)}")
        if kind == "dot" and query_size != memory_size:
            raise ConfigError(f"dot attention needs equal query and memory sizes, got {query_size} and {memory_size}")
        self.kind = kind
        self.key_proj: nn.Module = nn.Identity()
        if kind == "bahdanau":
            self.key_proj = nn.Linear(memory_size, attn_size, bias=False)
            self.query_proj = nn.Linear(query_size, attn_size)
            self.energy = nn.Linear(attn_size, 1, bias=False)
        elif kind == "general":
            self.key_proj = nn.Linear(memory_size, query_size, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """Per-sentence keys, (B, S, K); computed once and reused by every decoding step."""
        return self.key_proj(memory)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Attend with Q queries per sentence.

        Args:
            query: (B, Q, Hq).
            keys: (B, S, K) from `keys(memory)`.
            memory: (B, S, Hm).
            mask: (B, S) bool, True at real source positions.

        Returns:
            context (B, Q, Hm) and weights (B, Q, S) in fp32; each row sums to 1 over unmasked positions.
        """
        if query.dim() != 3 or query.shape[0] != memory.shape[0]:
            raise ShapeError(f"attention query must be (B, Q, H) with B={memory.shape[0]}, got {tuple(query.shape)}")
        weights = self.weights(query, keys, mask)
        context = torch.bmm(weights.to(memory.dtype), memory)
        return context, weights

    def weights(self, query: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        """The attention weights alone, (B, Q, S) in fp32 (for callers that combine them with their own memory)."""
        if self.kind == "bahdanau":
            hidden = torch.tanh(self.query_proj(query).unsqueeze(2) + keys.unsqueeze(1))  # (B, Q, S, A)
            scores = self.energy(hidden).squeeze(-1)  # (B, Q, S)
        else:
            scores = torch.bmm(query, keys.transpose(1, 2))  # (B, Q, S)
        scores = scores.float().masked_fill(~mask.unsqueeze(1), float("-inf"))
        return torch.softmax(scores, dim=-1)
