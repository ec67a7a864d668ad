"""Recurrent layers: the four cells every sequence family offers, and a stacked bidirectional RNN over
padded batches (the tagger and the span parser)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from treeseq.data.batching import length_mask

RNNS = ("lstm", "gru", "rnn", "irnn")


def recurrent_layer(kind: str, input_size: int, hidden_size: int, layers: int = 1, *, bidirectional: bool = False,
                    dropout: float = 0.0) -> nn.RNNBase:  # fmt: skip
    """A batch-first recurrent layer of one of the four cells.

    lstm and gru as torch builds them; rnn: the plain (Elman) RNN, h_t = tanh(W h_{t-1} + U x_t + b);
    irnn: ReLU units with the recurrent matrix initialised to the identity, input weights drawn with a
    small standard deviation (0.001) and biases zero (Le et al. 2015). Plain and IRNN cells need
    gradient-norm clipping, which the engine applies by default.

    Raises:
        ValueError: an unknown kind.
    """
    if kind not in RNNS:
        raise ValueError(f"rnn {kind!r}: expected one of {', '.join(RNNS)}")
    options = {"batch_first": True, "bidirectional": bidirectional, "dropout": dropout}
    if kind in ("lstm", "gru"):
        return (nn.LSTM if kind == "lstm" else nn.GRU)(input_size, hidden_size, layers, **options)
    layer = nn.RNN(input_size, hidden_size, layers, nonlinearity="tanh" if kind == "rnn" else "relu", **options)
    if kind == "irnn":
        with torch.no_grad():
            for name, weight in layer.named_parameters():
                if name.startswith("weight_hh"):
                    weight.copy_(torch.eye(hidden_size))
                elif name.startswith("weight_ih"):
                    weight.normal_(0.0, 0.001)
                else:
                    weight.zero_()
    return layer


def cell_step(kind: str, x: Tensor, state: Tensor | tuple[Tensor, Tensor], ih: Callable[[Tensor], Tensor],
              hh: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:  # fmt: skip
    """One time step of one recurrent layer, as torch's layers compute it: inputs x (B, D), the state
    h (B, H) or (h, c) for an LSTM, and the input and recurrent products (with their biases) ->
    (the new h, the new state). For decoding one token at a time, where a whole-sequence kernel's
    set-up costs more than the step itself."""
    if kind == "lstm":  # gates i, f, g, o as torch.nn.LSTM orders them
        h, c = state  # type: ignore[misc]
        i, f, g, o = (ih(x) + hh(h)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)
    if kind == "gru":  # r, z, n as torch.nn.GRU: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h
        x_r, x_z, x_n = ih(x).chunk(3, 1)
        h_r, h_z, h_n = hh(state).chunk(3, 1)  # type: ignore[arg-type]
        reset, update = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        new = torch.tanh(x_n + reset * h_n)
        h = new + update * (state - new)  # type: ignore[operator]
        return h, h
    pre = ih(x) + hh(state)  # type: ignore[arg-type]  # plain RNN: tanh, or ReLU for the IRNN
    h = torch.relu(pre) if kind == "irnn" else torch.tanh(pre)
    return h, h


def reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse the first lengths[b] positions of every row of x (B, T, D); padding stays in place.

    The permutation is its own inverse, so applying it twice gives x back.
    """
    positions = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, T)
    flipped = lengths.to(x.device).unsqueeze(1) - 1 - positions  # (B, T)
    index = torch.where(flipped >= 0, flipped, positions)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class BiRNN(nn.Module):
    """A stacked bidirectional RNN (any of the four cells) over padded rows (padding at the end), exactly as if packed.

    Each direction is a one-layer RNN per level; the backward one reads each row reversed within its
    length, so padding never reaches a real position's state. The result equals a packed
    `nn.LSTM(bidirectional=True)` (tests check it) while running the CPU's whole-sequence kernels,
    which are several times faster on padded batches than the packed code path.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        sizes = [input_size] + [2 * hidden_size] * (layers - 1)
        self.forward_rnns = nn.ModuleList(recurrent_layer(kind, size, hidden_size) for size in sizes)
        self.backward_rnns = nn.ModuleList(recurrent_layer(kind, size, hidden_size) for size in sizes)
        self.between = nn.Dropout(dropout)  # between stacked levels
        self.hidden_size = hidden_size

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """inputs (B, T, D), lengths (B,) -> states (B, T, 2H): forward then backward states, zero on padding."""
        states = inputs
        for level, (fwd, bwd) in enumerate(zip(self.forward_rnns, self.backward_rnns)):
            if level:
                states = self.between(states)
            backward = reverse_within(bwd(reverse_within(states, lengths))[0], lengths)
            states = torch.cat([fwd(states)[0], backward], dim=-1)
        keep = length_mask(lengths, states.shape[1], states.device)
        return states * keep.unsqueeze(-1).to(states.dtype)
