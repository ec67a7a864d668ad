"""Character features of words: a CNN with max-pooling, or a BiLSTM's final states.

Both take the characters of *distinct* words (the batcher deduplicates them), so a word that occurs
many times in a batch is encoded once.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from treeseq.data.batching import length_mask

CHAR_KINDS = ("cnn", "lstm", "none")


class CharCNN(nn.Module):
    """Character embeddings, one convolution of width `width`, max over positions, then tanh."""

    def __init__(self, num_chars: int, char_dim: int, out_dim: int, width: int = 3) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, out_dim, width, padding=width // 2)
        self.out_dim = out_dim

    def forward(self, char_ids: Tensor, lengths: Tensor) -> Tensor:
        """char_ids (U, L) with 0 as padding, lengths (U,) -> features (U, out_dim)."""
        embedded = self.embedding(char_ids).transpose(1, 2)  # (U, C, L)
        conv = self.conv(embedded)  # (U, D, L)
        pad = ~length_mask(lengths, char_ids.shape[1], char_ids.device)  # (U, L)
        conv = conv.masked_fill(pad.unsqueeze(1), float("-inf"))
        pooled = conv.max(dim=2).values
        return torch.tanh(pooled.masked_fill(lengths.unsqueeze(1) == 0, 0.0))


class CharLSTM(nn.Module):
    """Character embeddings into a BiLSTM; the word feature is both directions' final states."""

    def __init__(self, num_chars: int, char_dim: int, out_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.rnn = nn.LSTM(char_dim, out_dim // 2, batch_first=True, bidirectional=True)
        self.out_dim = 2 * (out_dim // 2)

    def forward(self, char_ids: Tensor, lengths: Tensor) -> Tensor:
        """char_ids (U, L) with 0 as padding, lengths (U,) -> features (U, out_dim)."""
        packed = pack_padded_sequence(
            self.embedding(char_ids), lengths.clamp_min(1).cpu(), batch_first=True, enforce_sorted=False
        )
        _, (final, _) = self.rnn(packed)  # final: (2, U, H)
        return torch.cat([final[0], final[1]], dim=-1)


def build_char_encoder(kind: str, num_chars: int, char_dim: int, out_dim: int) -> nn.Module | None:
    """The character encoder for `kind` (cnn, lstm), or None for none."""
    match kind:
        case "cnn":
            return CharCNN(num_chars, char_dim, out_dim)
        case "lstm":
            return CharLSTM(num_chars, char_dim, out_dim)
        case "none":
            return None
    raise ValueError(f"char kind {kind!r}: expected one of {', '.join(CHAR_KINDS)}")
