"""Sentence classifiers: word embeddings -> a recurrent encoder -> one vector -> a linear softmax.

The encoders, over padded batches (padding at the end, masked everywhere, so a sentence gets the same
vector alone as in any batch):

- `last`: the last states of both directions (forward at the sentence's end, backward at its start);
- `mean`, `max`: the states pooled over time;
- `attention`: attention pooling, u_t = tanh(W h_t + b), a = softmax_t(q . u_t), sum_t a_t h_t with a
  learned query q (Yang et al. 2016);
- `textrnn`: the stacked (bi)RNN, then a unidirectional RNN over its states, its last state;
- `rcnn`: Lai et al. 2015, each word's embedding between its left and right recurrent contexts,
  x_i = [c_l(w_i); e(w_i); c_r(w_i)] with c_l(w_i) the forward state at word i-1 and c_r(w_i) the
  backward state at word i+1 (learned vectors at the sentence's ends), y_i = tanh(W x_i + b),
  max-pooled over time.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from treeseq.data.batching import length_mask
from treeseq.data.classification import ClassBatch
from treeseq.nn.rnn import BiRNN, recurrent_layer

ENCODERS = ("last", "mean", "max", "attention", "textrnn", "rcnn")


class UniRNN(nn.Module):
    """A stacked unidirectional RNN over padded rows: the states at real positions never see padding."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.rnn = recurrent_layer(kind, input_size, hidden_size, layers, dropout=dropout if layers > 1 else 0.0)
        self.hidden_size = hidden_size

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        states = self.rnn(inputs)[0]
        keep = length_mask(lengths, states.shape[1], states.device)
        return states * keep.unsqueeze(-1).to(states.dtype)


def last_positions(states: Tensor, lengths: Tensor) -> Tensor:
    """states (B, T, D) at each row's last real position -> (B, D)."""
    index = (lengths.to(states.device) - 1).clamp_min(0).view(-1, 1, 1).expand(-1, 1, states.shape[2])
    return states.gather(1, index).squeeze(1)


class SequenceClassifier(nn.Module):
    """One label per sentence.

    Args:
        vocab_size, num_classes: the word vocabulary and the classes.
        embed_dim: word embedding size; rnn: lstm, gru, rnn or irnn; hidden_size: per direction;
        layers: stacked recurrent layers; bidirectional: both directions (rcnn needs them).
        encoder: one of ENCODERS (see the module docstring).
        proj_size: rcnn's projection y_i and attention's u_t (default: 2 * hidden_size).
        dropout: on the embeddings, between stacked layers and on the sentence vector.
    """

    def __init__(self, vocab_size: int, num_classes: int, *, embed_dim: int = 100, rnn: str = "lstm", hidden_size: int = 150,
                 layers: int = 1, bidirectional: bool = True, encoder: str = "last", proj_size: int = 0,
                 dropout: float = 0.5) -> None:  # fmt: skip
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"encoder {encoder!r}: expected one of {', '.join(ENCODERS)}")
        if encoder == "rcnn" and not bidirectional:
            raise ValueError("the rcnn encoder reads left and right contexts: it needs both directions")
        self.encoder, self.bidirectional, self.hidden_size = encoder, bidirectional, hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        if bidirectional:
            self.rnn: nn.Module = BiRNN(rnn, embed_dim, hidden_size, layers, dropout)
        else:
            self.rnn = UniRNN(rnn, embed_dim, hidden_size, layers, dropout)
        width = hidden_size * (2 if bidirectional else 1)
        proj_size = proj_size or 2 * hidden_size
        if encoder == "attention":
            self.attention_proj = nn.Linear(width, proj_size)
            self.query = nn.Parameter(torch.empty(proj_size).uniform_(-0.1, 0.1))
        elif encoder == "textrnn":
            self.top = UniRNN(rnn, width, hidden_size, 1)
            width = hidden_size
        elif encoder == "rcnn":
            self.left0 = nn.Parameter(torch.zeros(hidden_size))
            self.right0 = nn.Parameter(torch.zeros(hidden_size))
            self.rcnn_proj = nn.Linear(2 * hidden_size + embed_dim, proj_size)
            width = proj_size
        self.out = nn.Linear(width, num_classes)

    def sentence_vectors(self, batch: ClassBatch) -> Tensor:
        """One vector per sentence (B, D), before the output layer."""
        lengths, mask = batch.lengths, batch.mask
        embedded = self.dropout(self.embedding(batch.word_ids))
        states = self.rnn(embedded, lengths)  # (B, T, H or 2H), zero on padding
        keep = mask.unsqueeze(-1)
        if self.encoder == "last":
            if not self.bidirectional:
                return last_positions(states, lengths)
            h = self.hidden_size
            return torch.cat([last_positions(states[..., :h], lengths), states[:, 0, h:]], dim=-1)
        if self.encoder == "mean":
            return (states * keep).sum(1) / lengths.to(states.device).clamp_min(1).unsqueeze(1).to(states.dtype)
        if self.encoder == "max":
            return states.masked_fill(~keep, float("-inf")).max(dim=1).values
        if self.encoder == "attention":
            scores = torch.tanh(self.attention_proj(states)) @ self.query.to(states.dtype)  # (B, T)
            weights = torch.softmax(scores.float().masked_fill(~mask, float("-inf")), dim=1).to(states.dtype)
            return (weights.unsqueeze(-1) * states).sum(1)
        if self.encoder == "textrnn":
            return last_positions(self.top(self.dropout(states), lengths), lengths)
        return self._rcnn(embedded, states, lengths, mask)

    def _rcnn(self, embedded: Tensor, states: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        h = self.hidden_size
        forward, backward = states[..., :h], states[..., h:]
        batch, width = states.shape[:2]
        left = torch.cat([self.left0.to(states.dtype).expand(batch, 1, h), forward[:, :-1]], dim=1)
        right = torch.cat([backward[:, 1:], backward.new_zeros(batch, 1, h)], dim=1)
        at_end = (torch.arange(width, device=states.device).unsqueeze(0) == lengths.to(states.device).unsqueeze(1) - 1)
        right = torch.where(at_end.unsqueeze(-1), self.right0.to(states.dtype).expand(batch, width, h), right)
        projected = torch.tanh(self.rcnn_proj(torch.cat([left, embedded, right], dim=-1)))
        return projected.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values

    @property
    def num_classes(self) -> int:
        return self.out.out_features

    def forward(self, batch: ClassBatch) -> Tensor:
        """Class logits (B, C)."""
        return self.out(self.dropout(self.sentence_vectors(batch)))
