"""Attention over an encoder memory: additive (Bahdanau) and multiplicative (Luong dot / general),
registered by name so that another kind is one class and one `register_attention` line.

Queries come as (B, Q, Hq): Q is the target length when the whole target is attended at once (training's
fast path) and the beam size when decoding, so one code path serves both. Keys are computed from the
memory once per sentence (`keys`), not once per step.

An attention class says where the decoder takes its query from (`query`):
- "previous": the decoder state before the step (Bahdanau); the context then enters the decoder RNN
  with the word embedding, and the step's output combines with it;
- "output": the decoder RNN's output of this step (Luong); the context combines with that output only,
  so without input feeding training can run the RNN over the whole target at once.
"""

from __future__ import annotations

from typing import Callable, ClassVar, Literal

import torch
from torch import Tensor, nn

from treeseq.errors import ConfigError, ShapeError


class Attention(nn.Module):
    """The interface: `keys(memory)` once per sentence, then `scores(query, keys)` (B, Q, S) per step;
    `weights` masks and normalizes them, `forward` mixes the memory with the weights.

    Subclasses set `query` and, when their query size is tied to the memory's, `decoder_size`.
    """

    name: ClassVar[str] = ""
    query: ClassVar[Literal["previous", "output"]] = "output"

    def __init__(self, query_size: int, memory_size: int, attn_size: int) -> None:
        super().__init__()
        self.key_proj: nn.Module = nn.Identity()

    @staticmethod
    def decoder_size(hidden_size: int, memory_size: int) -> int:
        """The decoder RNN's size for this attention (the query's size)."""
        return hidden_size

    @property
    def kind(self) -> str:
        return self.name

    def keys(self, memory: Tensor) -> Tensor:
        """Per-sentence keys, (B, S, K); computed once and reused by every decoding step."""
        return self.key_proj(memory)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:  # pragma: no cover - every kind overrides
        """Unnormalized scores (B, Q, S) of Q queries per sentence against its keys."""
        raise NotImplementedError

    def weights(self, query: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        """The attention weights, (B, Q, S) in fp32, zero at masked (padding) positions."""
        scores = self.scores(query, keys).float().masked_fill(~mask.unsqueeze(1), float("-inf"))
        return torch.softmax(scores, dim=-1)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Attend with Q queries per sentence: query (B, Q, Hq), keys (B, S, K) from `keys(memory)`,
        memory (B, S, Hm), mask (B, S) True at real positions -> context (B, Q, Hm), weights (B, Q, S)."""
        if query.dim() != 3 or query.shape[0] != memory.shape[0]:
            raise ShapeError(f"attention query must be (B, Q, H) with B={memory.shape[0]}, got {tuple(query.shape)}")
        weights = self.weights(query, keys, mask)
        return torch.bmm(weights.to(memory.dtype), memory), weights


ATTENTIONS: dict[str, type[Attention]] = {}


def register_attention(name: str) -> Callable[[type[Attention]], type[Attention]]:
    """Class decorator: make an Attention subclass available as `model.attention=name`."""

    def register(cls: type[Attention]) -> type[Attention]:
        if name in ATTENTIONS and ATTENTIONS[name] is not cls:
            raise ConfigError(f"an attention named {name!r} is registered already ({ATTENTIONS[name].__qualname__})")
        cls.name = name
        ATTENTIONS[name] = cls
        return cls

    return register


def attention_class(name: str) -> type[Attention]:
    """The registered class of an attention name.

    Raises:
        ConfigError: no attention of that name.
    """
    if name not in ATTENTIONS:
        raise ConfigError(f"attention {name!r}: expected one of {', '.join(ATTENTIONS)}")
    return ATTENTIONS[name]


def build_attention(name: str, query_size: int, memory_size: int, attn_size: int) -> Attention:
    return attention_class(name)(query_size, memory_size, attn_size)


@register_attention("bahdanau")
class AdditiveAttention(Attention):
    """score(q, m) = v . tanh(W_q q + W_m m) (Bahdanau et al. 2015), the query the previous decoder state."""

    query = "previous"

    def __init__(self, query_size: int, memory_size: int, attn_size: int) -> None:
        super().__init__(query_size, memory_size, attn_size)
        self.key_proj = nn.Linear(memory_size, attn_size, bias=False)
        self.query_proj = nn.Linear(query_size, attn_size)
        self.energy = nn.Linear(attn_size, 1, bias=False)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        hidden = torch.tanh(self.query_proj(query).unsqueeze(2) + keys.unsqueeze(1))  # (B, Q, S, A)
        return self.energy(hidden).squeeze(-1)


@register_attention("dot")
class DotAttention(Attention):
    """score(q, m) = q . m (Luong et al. 2015); the decoder's size is the memory's."""

    def __init__(self, query_size: int, memory_size: int, attn_size: int) -> None:
        super().__init__(query_size, memory_size, attn_size)
        if query_size != memory_size:
            raise ConfigError(f"dot attention needs equal query and memory sizes, got {query_size} and {memory_size}")

    @staticmethod
    def decoder_size(hidden_size: int, memory_size: int) -> int:
        return memory_size

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))


@register_attention("general")
class GeneralAttention(Attention):
    """score(q, m) = q . W m (Luong et al. 2015)."""

    def __init__(self, query_size: int, memory_size: int, attn_size: int) -> None:
        super().__init__(query_size, memory_size, attn_size)
        self.key_proj = nn.Linear(memory_size, query_size, bias=False)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        return torch.bmm(query, keys.transpose(1, 2))
