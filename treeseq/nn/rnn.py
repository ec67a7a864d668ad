"""Recurrent layers: the cells every sequence family offers, registered by name (one `register_cell`
line each: lstm, gru, rnn, irnn), and a stacked bidirectional RNN over padded batches (the tagger and
the span parser)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from treeseq.data.batching import length_mask
from treeseq.errors import ConfigError

State = Tensor | tuple[Tensor, Tensor]
Product = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class RecurrentCell:
    """One kind of recurrent cell, as every sequence family uses it.

    Attributes:
        build: (input_size, hidden_size, layers, bidirectional, dropout) -> a batch-first layer with
            torch's recurrent-layer interface (`layer(x, state) -> (outputs, final state)`) and its
            parameter names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...), which the
            one-step paths read.
        step: one time step of one layer, as the layer computes it: inputs x (B, D), the state, and the
            input and recurrent products (with their biases) -> (the new h, the new state).
        paired: the state is a pair (h, c), as an LSTM's; otherwise one tensor h.
    """

    build: Callable[[int, int, int, bool, float], nn.Module]
    step: Callable[[Tensor, State, Product, Product], tuple[Tensor, State]]
    paired: bool = False


CELLS: dict[str, RecurrentCell] = {}
RNNS = CELLS  # the cells by name, in the order they were registered


def register_cell(name: str, cell: RecurrentCell) -> RecurrentCell:
    """Make a recurrent cell available as `rnn=name` to every sequence family."""
    if name in CELLS and CELLS[name] is not cell:
        raise ConfigError(f"a recurrent cell named {name!r} is registered already")
    CELLS[name] = cell
    return cell


def recurrent_cell(kind: str) -> RecurrentCell:
    """The registered cell of a name.

    Raises:
        ConfigError: no cell of that name.
    """
    if kind not in CELLS:
        raise ConfigError(f"rnn {kind!r}: expected one of {', '.join(CELLS)}")
    return CELLS[kind]


def recurrent_layer(kind: str, input_size: int, hidden_size: int, layers: int = 1, *, bidirectional: bool = False,
                    dropout: float = 0.0) -> nn.Module:  # fmt: skip
    """A batch-first recurrent layer of a registered cell (see `RecurrentCell.build`).

    Raises:
        ConfigError: an unknown kind.
    """
    return recurrent_cell(kind).build(input_size, hidden_size, layers, bidirectional, dropout)


def cell_step(kind: str, x: Tensor, state: State, ih: Product, hh: Product) -> tuple[Tensor, State]:
    """One time step of one recurrent layer of a registered cell (see `RecurrentCell.step`): for decoding
    one token at a time, where a whole-sequence kernel's set-up costs more than the step itself."""
    return recurrent_cell(kind).step(x, state, ih, hh)


def _options(bidirectional: bool, dropout: float) -> dict:
    return {"batch_first": True, "bidirectional": bidirectional, "dropout": dropout}


def _lstm_step(x: Tensor, state: State, ih: Product, hh: Product) -> tuple[Tensor, State]:
    h, c = state  # type: ignore[misc]  # gates i, f, g, o as torch.nn.LSTM orders them
    i, f, g, o = (ih(x) + hh(h)).chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, (h, c)


def _gru_step(x: Tensor, state: State, ih: Product, hh: Product) -> tuple[Tensor, State]:
    # r, z, n as torch.nn.GRU: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h
    x_r, x_z, x_n = ih(x).chunk(3, 1)
    h_r, h_z, h_n = hh(state).chunk(3, 1)  # type: ignore[arg-type]
    reset, update = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    new = torch.tanh(x_n + reset * h_n)
    h = new + update * (state - new)  # type: ignore[operator]
    return h, h


def _elman_step(activation: Callable[[Tensor], Tensor]) -> Callable[[Tensor, State, Product, Product], tuple[Tensor, State]]:
    def step(x: Tensor, state: State, ih: Product, hh: Product) -> tuple[Tensor, State]:
        h = activation(ih(x) + hh(state))  # type: ignore[arg-type]
        return h, h

    return step


def _identity_rnn(input_size: int, hidden_size: int, layers: int, bidirectional: bool, dropout: float) -> nn.Module:
    """ReLU units with the recurrent matrix initialised to the identity, input weights drawn with a small
    standard deviation (0.001) and biases zero (Le et al. 2015)."""
    layer = nn.RNN(input_size, hidden_size, layers, nonlinearity="relu", **_options(bidirectional, dropout))
    with torch.no_grad():
        for name, weight in layer.named_parameters():
            if name.startswith("weight_hh"):
                weight.copy_(torch.eye(hidden_size))
            elif name.startswith("weight_ih"):
                weight.normal_(0.0, 0.001)
            else:
                weight.zero_()
    return layer


# The four cells every sequence family offers: lstm and gru as torch builds them; rnn, the plain (Elman)
# RNN, h_t = tanh(W h_{t-1} + U x_t + b); irnn, the identity-initialised ReLU RNN. Plain and IRNN cells
# need gradient-norm clipping, which the engine applies by default.
register_cell("lstm", RecurrentCell(lambda i, h, n, b, d: nn.LSTM(i, h, n, **_options(b, d)), _lstm_step, paired=True))
register_cell("gru", RecurrentCell(lambda i, h, n, b, d: nn.GRU(i, h, n, **_options(b, d)), _gru_step))
register_cell("rnn", RecurrentCell(lambda i, h, n, b, d: nn.RNN(i, h, n, nonlinearity="tanh", **_options(b, d)), _elman_step(torch.tanh)))
register_cell("irnn", RecurrentCell(_identity_rnn, _elman_step(torch.relu)))


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
