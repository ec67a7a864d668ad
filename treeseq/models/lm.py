"""An RNN language model: P(x_{t+1} | x_1..x_t) = softmax(V h_t + b), h_t from stacked recurrent layers.

Any of the four cells (lstm, gru, rnn, irnn), locked (variational) dropout on the embeddings, between
the layers and on the output, and tied input and output embeddings (Press & Wolf 2017; Inan et al.
2017): the output matrix is the embedding table without its padding row, through a projection when
the last layer's size differs from the embedding size. The state is carried in and out, so a caller
can run a long stream segment by segment (truncated BPTT) or continue a prompt.
"""

from __future__ import annotations

from functools import partial
from typing import Union

import torch
from torch import Tensor, nn

from treeseq.nn.dropout import LockedDropout
from treeseq.nn.rnn import cell_step, recurrent_layer

LayerState = Union[Tensor, tuple[Tensor, Tensor]]
State = list[LayerState]


def detach_state(state: State) -> State:
    """The same state cut from the graph (the boundary of truncated BPTT)."""
    return [tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in state]  # type: ignore[misc]


def select_rows(state: State, index: Tensor) -> State:
    """The state of some batch rows (index into dimension 1), e.g. a prompt's state repeated for N samples."""
    return [tuple(t.index_select(1, index) for t in s) if isinstance(s, tuple) else s.index_select(1, index) for s in state]  # type: ignore[misc]


class RNNLanguageModel(nn.Module):
    """Stacked recurrent language model over token ids.

    Args:
        vocab_size: ids of the vocabulary (id 0 is padding and never predicted).
        rnn: lstm, gru, rnn (tanh) or irnn (ReLU, identity recurrent init).
        embed_dim, hidden_size, layers: sizes.
        dropout: locked dropout on the embeddings, between layers and on the last layer's output.
        tie: share the embedding table with the output layer.
        forget_bias: LSTM only, the forget gates' initial bias (1: remember by default, as Gers et al.
            2000 and Jozefowicz et al. 2015 recommend; the input bias part, the recurrent one zero).
    """

    def __init__(self, vocab_size: int, *, rnn: str = "lstm", embed_dim: int = 256, hidden_size: int = 256,
                 layers: int = 2, dropout: float = 0.3, tie: bool = True, forget_bias: float = 1.0) -> None:  # fmt: skip
        super().__init__()
        self.kind, self.layers = rnn, layers
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        sizes = [embed_dim] + [hidden_size] * (layers - 1)
        self.rnns = nn.ModuleList(recurrent_layer(rnn, size, hidden_size) for size in sizes)
        self.dropout = LockedDropout(dropout)
        out_dim = embed_dim if tie else hidden_size
        self.project = nn.Linear(hidden_size, embed_dim) if tie and hidden_size != embed_dim else None
        self.out_weight = None if tie else nn.Parameter(torch.empty(vocab_size - 1, out_dim))
        self.out_bias = nn.Parameter(torch.zeros(vocab_size - 1))
        with torch.no_grad():
            if rnn == "lstm":  # gates i, f, g, o: the second quarter of each bias is the forget gate's
                for layer in self.rnns:
                    layer.bias_ih_l0[hidden_size : 2 * hidden_size].fill_(forget_bias)
                    layer.bias_hh_l0[hidden_size : 2 * hidden_size].zero_()
            self.embedding.weight.uniform_(-0.1, 0.1)
            self.embedding.weight[0].zero_()
            if self.out_weight is not None:
                self.out_weight.uniform_(-0.1, 0.1)

    @property
    def output_weight(self) -> Tensor:
        """(classes, D): class c is token id c + 1."""
        return self.embedding.weight[1:] if self.out_weight is None else self.out_weight

    def states(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """inputs (B, T) ids, the state carried in (None: zeros) -> top-layer outputs (B, T, D) after
        dropout (and the projection), and the state after the last step."""
        x = self.dropout(self.embedding(inputs))
        new_state: State = []
        for level, rnn in enumerate(self.rnns):
            if level:
                x = self.dropout(x)
            x, last = rnn(x, None if state is None else state[level])
            new_state.append(last)
        x = self.dropout(x)
        if self.project is not None:
            x = self.project(x)
        return x, new_state

    def forward(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """inputs (B, T), state -> logits over the classes (B, T, vocab_size - 1), the new state."""
        outputs, new_state = self.states(inputs, state)
        return nn.functional.linear(outputs, self.output_weight, self.out_bias), new_state

    def step(self, ids: Tensor, state: State) -> tuple[Tensor, State]:
        """One token per row without dropout (generation): ids (B,), the state -> logits (B, classes),
        the new state; the same numbers as `forward` in eval mode on the whole sequence (tested)."""
        x = self.embedding(ids)
        new_state: State = []
        for rnn, layer_state in zip(self.rnns, state):
            ih = partial(nn.functional.linear, weight=rnn.weight_ih_l0, bias=rnn.bias_ih_l0)
            hh = partial(nn.functional.linear, weight=rnn.weight_hh_l0, bias=rnn.bias_hh_l0)
            if isinstance(layer_state, tuple):
                x, (h, c) = cell_step(self.kind, x, (layer_state[0][0], layer_state[1][0]), ih, hh)  # type: ignore[misc]
                new_state.append((h.unsqueeze(0), c.unsqueeze(0)))
            else:
                x, _ = cell_step(self.kind, x, layer_state[0], ih, hh)
                new_state.append(x.unsqueeze(0))
        if self.project is not None:
            x = self.project(x)
        return nn.functional.linear(x, self.output_weight, self.out_bias), new_state
