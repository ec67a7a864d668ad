"""A bidirectional RNN tagger: words + characters -> packed BiLSTM/BiGRU -> softmax or CRF tags, + intent.

The intent head (joint NLU) reads the same encoder states: max- and mean-pooled over the sentence.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from treeseq.data.tagging import TaggingBatch
from treeseq.nn.char_encoder import build_char_encoder
from treeseq.nn.crf import CRF
from treeseq.nn.rnn import BiRNN
from treeseq.vocab import Vocab

OUTPUTS = ("softmax", "crf")


class BiRNNTagger(nn.Module):
    """Sequence tagger with an optional sentence classifier (intent) over the same encoder.

    Args:
        vocab_size, num_chars: sizes of the word and character vocabularies.
        num_tags: tags of the output layer; num_intents: 0 for no intent head.
        word_dim, char_dim, char_out: embedding sizes and the character feature size.
        char_kind: cnn, lstm or none; rnn: lstm or gru; hidden_size: per direction; layers: stacked BiRNNs.
        output: softmax or crf; constraints: CRF masks (see treeseq.tags.allowed_transitions).
        dropout: on the encoder input and output; word_dropout: chance of replacing a word id by unk in training.
    """

    def __init__(
        self,
        vocab_size: int,
        num_chars: int,
        num_tags: int,
        num_intents: int = 0,
        *,
        word_dim: int = 100,
        char_dim: int = 32,
        char_out: int = 64,
        char_kind: str = "cnn",
        rnn: str = "lstm",
        hidden_size: int = 200,
        layers: int = 2,
        output: str = "softmax",
        constraints: tuple[Tensor, Tensor, Tensor] | None = None,
        dropout: float = 0.33,
        word_dropout: float = 0.0,
        sparse_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, word_dim, padding_idx=0, sparse=sparse_embeddings)
        self.chars = build_char_encoder(char_kind, num_chars, char_dim, char_out)
        input_size = word_dim + (self.chars.out_dim if self.chars is not None else 0)  # type: ignore[union-attr]
        self.rnn = BiRNN(rnn, input_size, hidden_size, layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.word_dropout = word_dropout
        self.tag_out = nn.Linear(2 * hidden_size, num_tags)
        self.crf = CRF(num_tags, constraints) if output == "crf" else None
        self.intent_out = nn.Linear(4 * hidden_size, num_intents) if num_intents else None

    def encode(self, batch: TaggingBatch) -> Tensor:
        """Encoder states (B, T, 2H); zero on padding."""
        word_ids = batch.word_ids
        if self.training and self.word_dropout > 0:
            drop = (torch.rand(word_ids.shape, device=word_ids.device) < self.word_dropout) & batch.mask
            word_ids = word_ids.masked_fill(drop, Vocab.unk_id)
        features = [self.embedding(word_ids)]  # (B, T, E)
        if self.chars is not None:
            char_features = self.chars(batch.char_ids, batch.char_lengths)  # (U, C)
            features.append(char_features[batch.char_index])  # (B, T, C)
        inputs = self.dropout(torch.cat(features, dim=-1))
        return self.dropout(self.rnn(inputs, batch.mask.sum(1)))

    def tag_scores(self, states: Tensor) -> Tensor:
        """Per-token tag scores (B, T, K): logits for softmax, emissions for the CRF."""
        return self.tag_out(states)

    def intent_logits(self, states: Tensor, mask: Tensor) -> Tensor:
        """Intent logits (B, I) from max- and mean-pooled encoder states."""
        assert self.intent_out is not None, "a model without an intent head"
        keep = mask.unsqueeze(-1)
        pooled_max = states.masked_fill(~keep, float("-inf")).max(dim=1).values
        pooled_mean = (states * keep).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return self.intent_out(torch.cat([pooled_max, pooled_mean], dim=-1))

    def forward(self, batch: TaggingBatch) -> tuple[Tensor, Tensor | None]:
        """Tag scores (B, T, K) (softmax logits, or the CRF's emissions) and intent logits (B, I) or None."""
        states = self.encode(batch)
        return self.tag_scores(states), self.intent_logits(states, batch.mask) if self.intent_out is not None else None

    @torch.no_grad()
    def predict(self, batch: TaggingBatch) -> tuple[Tensor, Tensor, Tensor | None]:
        """Best tags (B, T) (0 on padding), their per-token probabilities (B, T) and intent probabilities (B, I).

        Token probabilities are the softmax's (with a CRF: of the emission scores alone).
        """
        states = self.encode(batch)
        scores = self.tag_scores(states).float()
        states = states.float()
        probs = torch.softmax(scores, dim=-1)
        if self.crf is not None:
            tags, _ = self.crf.viterbi(scores, batch.mask)
        else:
            tags = scores.argmax(dim=-1)
        tag_probs = probs.gather(2, tags.unsqueeze(2)).squeeze(2)
        intents = torch.softmax(self.intent_logits(states, batch.mask).float(), -1) if self.intent_out is not None else None
        return tags, tag_probs, intents
