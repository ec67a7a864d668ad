"""An RNN language model: P(x_{t+1} | x_1..x_t) = softmax(V h_t + b), h_t from stacked recurrent layers.

Any of the four cells (lstm, gru, rnn, irnn), locked (variational) dropout on the embeddings, between
the layers and on the output, and tied input and output embeddings (Press & Wolf 2017; Inan et al.
2017): the output matrix is the embedding table without its padding row, through a projection when
the last layer's size differs from the embedding size. The state is carried in and out, so a caller
can run a long stream segment by segment (truncated BPTT) or continue a prompt.

The output layer is one softmax over every class, or with `head` > 0 a two-level softmax (a class-based
factorisation as in Goodman 2001, with the frequency split of Grave et al. 2017's adaptive softmax):
the first `head` classes (the most frequent: vocabularies are in frequency order) and one "tail" entry
share a softmax, and a tail word's probability is the tail entry's times its own within the tail's
softmax. The distribution stays exact and normalised; training computes the tail only at the positions
whose target is in it, which saves most of the output layer's products when the head covers most tokens.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Union

import torch
from torch import Tensor, nn

from treeseq.nn.dropout import LockedDropout, keep_mask
from treeseq.nn.rnn import cell_step, recurrent_layer

LayerState = Union[Tensor, tuple[Tensor, Tensor]]
State = list[LayerState]


def detach_state(state: State) -> State:
    """The same state cut from the graph (the boundary of truncated BPTT); an ensemble's state (a list
    of its members' states) member by member."""
    return [_map_layer(s, Tensor.detach) for s in state]  # type: ignore[misc]


def select_rows(state: State, index: Tensor) -> State:
    """The state of some batch rows (index into dimension 1), e.g. a prompt's state repeated for N
    samples; an ensemble's state member by member."""
    return [_map_layer(s, lambda t: t.index_select(1, index)) for s in state]  # type: ignore[misc]


def _map_layer(layer: Any, apply: Callable[[Tensor], Tensor]) -> Any:
    """`apply` on a layer's state: a tensor, an (h, c) pair, or (an ensemble member's) list of layers."""
    if isinstance(layer, list):
        return [_map_layer(s, apply) for s in layer]
    if isinstance(layer, tuple):
        return tuple(apply(t) for t in layer)
    return apply(layer)


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
        head: 0 for one softmax over all classes; else the classes in the first level of a two-level
            softmax (the rest form the tail; a head covering every class is one softmax).
        weight_drop: DropConnect on each layer's recurrent matrix (Wan et al. 2013, as Merity et al.
            2018 use it): one mask per forward call, the same at every time step and for every row.
        embed_dropout: drop whole vocabulary entries from the input embeddings (one mask over the
            vocabulary per forward call, Gal & Ghahramani 2016); the output layer keeps them.
        activation_reg, temporal_reg: in training, the loss (with targets) adds, per predicted token,
            activation_reg times the mean square of the top layer's dropped-out outputs and temporal_reg
            times the mean square of their undropped step-to-step change (AR and TAR, Merity et al. 2018).
    """

    def __init__(self, vocab_size: int, *, rnn: str = "lstm", embed_dim: int = 256, hidden_size: int = 256,
                 layers: int = 2, dropout: float = 0.3, tie: bool = True, forget_bias: float = 1.0,
                 head: int = 0, weight_drop: float = 0.0, embed_dropout: float = 0.0, activation_reg: float = 0.0,
                 temporal_reg: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        self.kind, self.layers = rnn, layers
        self.weight_drop, self.embed_dropout = weight_drop, embed_dropout
        self.activation_reg, self.temporal_reg = activation_reg, temporal_reg
        self.head = head if 0 < head < vocab_size - 1 else 0
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        sizes = [embed_dim] + [hidden_size] * (layers - 1)
        self.rnns = nn.ModuleList(recurrent_layer(rnn, size, hidden_size) for size in sizes)
        self.dropout = LockedDropout(dropout)
        out_dim = embed_dim if tie else hidden_size
        self.project = nn.Linear(hidden_size, embed_dim) if tie and hidden_size != embed_dim else None
        self.out_weight = None if tie else nn.Parameter(torch.empty(vocab_size - 1, out_dim))
        self.out_bias = nn.Parameter(torch.zeros(vocab_size - 1))
        if self.head:  # the tail's entry in the first-level softmax: a vector and a bias
            self.tail_vector = nn.Parameter(torch.zeros(out_dim))
            self.tail_bias = nn.Parameter(torch.zeros(1))
        with torch.no_grad():
            if rnn == "lstm":  # gates i, f, g, o: the second quarter of each bias is the forget gate's
                for layer in self.rnns:
                    layer.bias_ih_l0[hidden_size : 2 * hidden_size].fill_(forget_bias)
                    layer.bias_hh_l0[hidden_size : 2 * hidden_size].zero_()
            self.embedding.weight.uniform_(-0.1, 0.1)
            self.embedding.weight[0].zero_()
            if self.out_weight is not None:
                self.out_weight.uniform_(-0.1, 0.1)

    @torch.no_grad()
    def init_output_bias(self, counts: Tensor) -> None:
        """Start the output biases at the log unigram distribution of `counts` (classes,) (add 0.1 to
        each), so that training begins from the unigram model instead of the uniform one; with a
        two-level softmax the head's biases, the tail entry's (the tail's total) and the tail's own
        (within the tail), so each level starts at its part of the same distribution."""
        logp = (counts.double() + 0.1).div(counts.double().sum() + 0.1 * counts.numel()).log()
        if not self.head:
            self.out_bias.copy_(logp)
            return
        tail = logp[self.head :].logsumexp(0)
        self.out_bias[: self.head].copy_(logp[: self.head])
        self.out_bias[self.head :].copy_(logp[self.head :] - tail)
        self.tail_bias.fill_(float(tail))

    @property
    def output_weight(self) -> Tensor:
        """(classes, D): class c is token id c + 1."""
        if self.out_weight is not None:
            return self.out_weight
        return self.embedding.weight.split([1, self.embedding.num_embeddings - 1])[1]  # a split's gradient needs no zeroed copy

    def states(self, inputs: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """inputs (B, T) ids, the state carried in (None: zeros) -> top-layer outputs (B, T, D) after
        dropout (and the projection), and the state after the last step."""
        outputs, _, new_state = self._states(inputs, state)
        return outputs, new_state

    def _states(self, inputs: Tensor, state: State | None) -> tuple[Tensor, Tensor, State]:
        """`states`, with the AR/TAR penalty's mean (a scalar; zero unless training with them on)."""
        x = self.dropout(self._embed(inputs))
        new_state: State = []
        for level, rnn in enumerate(self.rnns):
            if level:
                x = self.dropout(x)
            carried = None if state is None else state[level]
            if self.training and self.weight_drop:
                dropped = {"weight_hh_l0": _drop(rnn.weight_hh_l0, self.weight_drop, rnn.weight_hh_l0.shape)}
                x, last = torch.func.functional_call(rnn, dropped, (x, carried))
            else:
                x, last = rnn(x, carried)
            new_state.append(last)
        raw, x = x, self.dropout(x)
        penalty = x.new_zeros(())
        if self.training and self.activation_reg:
            penalty = penalty + self.activation_reg * x.float().pow(2).mean()
        if self.training and self.temporal_reg and raw.shape[1] > 1:
            penalty = penalty + self.temporal_reg * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
        if self.project is not None:
            x = self.project(x)
        return x, penalty, new_state

    def _embed(self, inputs: Tensor) -> Tensor:
        if not (self.training and self.embed_dropout):
            return self.embedding(inputs)
        weight = self.embedding.weight
        return nn.functional.embedding(inputs, _drop(weight, self.embed_dropout, (weight.shape[0], 1)), padding_idx=0)

    def scores(self, outputs: Tensor) -> Tensor:
        """Top-layer outputs (..., D) -> scores over the classes (..., classes) whose log-softmax is the
        model's distribution: the logits of one softmax, or a two-level softmax's log-probabilities."""
        if not self.head:
            return nn.functional.linear(outputs, self.output_weight, self.out_bias)
        (head_weight, tail_weight), (head_bias, tail_bias) = self._levels()
        first = self._first_level(outputs, head_weight, head_bias).float().log_softmax(-1)
        tail = nn.functional.linear(outputs, tail_weight, tail_bias).float().log_softmax(-1)
        return torch.cat([first[..., : self.head], first[..., self.head :] + tail], dim=-1)

    def _levels(self) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        """(head, tail) output weights and biases, cut with split: their gradients are joined by one
        concatenation, not written into a zeroed copy of the whole table per slice."""
        sizes = [self.head, self.out_bias.shape[0] - self.head]
        return self.output_weight.split(sizes), self.out_bias.split(sizes)  # type: ignore[return-value]

    def _first_level(self, outputs: Tensor, head_weight: Tensor, head_bias: Tensor) -> Tensor:
        weight = torch.cat([head_weight, self.tail_vector.unsqueeze(0)])
        return nn.functional.linear(outputs, weight, torch.cat([head_bias, self.tail_bias]))

    def nll(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Summed negative log-likelihood (fp32) of target classes (B, T) under outputs (B, T, D). With a
        two-level softmax the tail's products run only at the positions whose target is in the tail."""
        if not self.head:  # the logits of the (B, T, D) outputs, flattened after: bit for bit as before the two levels
            logits = nn.functional.linear(outputs, self.output_weight, self.out_bias)
            return nn.functional.cross_entropy(logits.flatten(0, -2).float(), targets.flatten(), reduction="sum")
        outputs, targets = outputs.flatten(0, -2), targets.flatten()
        (head_weight, tail_weight), (head_bias, tail_bias) = self._levels()
        first = self._first_level(outputs, head_weight, head_bias).float().log_softmax(-1)
        total = -first.gather(1, targets.clamp(max=self.head).unsqueeze(1)).sum()
        rows = (targets >= self.head).nonzero().squeeze(1)  # may be empty: the tail's parameters stay in the graph
        tail = nn.functional.linear(outputs.index_select(0, rows), tail_weight, tail_bias).float().log_softmax(-1)
        return total - tail.gather(1, (targets.index_select(0, rows) - self.head).unsqueeze(1)).sum()

    def forward(self, inputs: Tensor, state: State | None = None, targets: Tensor | None = None) -> tuple[Tensor, State]:
        """inputs (B, T), state -> scores over the classes (B, T, vocab_size - 1; see `scores`), the new
        state; with target classes (B, T) the summed negative log-likelihood (`nll`) instead of scores,
        in training plus the AR/TAR penalty times the number of targets when they are on."""
        outputs, penalty, new_state = self._states(inputs, state)
        if targets is None:
            return self.scores(outputs), new_state
        nll = self.nll(outputs, targets)
        if self.training and (self.activation_reg or self.temporal_reg):
            nll = nll + penalty * targets.numel()
        return nll, new_state

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
        return self.scores(x), new_state


def _drop(weight: Tensor, p: float, mask_shape: tuple[int, ...]) -> Tensor:
    """`weight` times a dropout mask of `mask_shape` (broadcast over it)."""
    return weight * keep_mask(weight, mask_shape, p)
