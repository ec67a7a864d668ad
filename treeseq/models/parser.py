"""The span parser's network: words and characters into a BiLSTM, span scores from fencepost differences.

In the spirit of Stern et al. (2017): a span [i, j) is represented by the differences of the forward
states f[j] - f[i] and of the backward states b[i+1] - b[j+1] (position 0 is a start sentinel and
n + 1 an end sentinel), and scored by a one-hidden-layer MLP. The first layer is linear, so it is
applied once per fencepost: e[k] = W_f f[k] - W_b b[k+1], and the hidden layer of every span of every
sentence is relu(e[j] - e[i] + bias), one broadcast subtraction.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from treeseq.errors import ShapeError
from treeseq.nn.char_encoder import CharCNN
from treeseq.nn.rnn import BiRNN


class SpanParser(nn.Module):
    """Scores every span of every sentence in a batch.

    Args:
        num_words: rows of the word table (the vocabulary plus the two sentinels).
        num_chars: rows of the character table.
        embed_dim: word vector size.
        char_dim: character vector size; char_out: the character CNN's output size (0: no characters).
        hidden_size: LSTM size per direction; num_layers: stacked BiLSTM layers.
        mlp_size: hidden units of the span scorer.
        dropout: on the inputs and the LSTM outputs.
        num_tags: rows of the part-of-speech tag table (0: no tags); tag_dim: tag vector size.
    """

    def __init__(
        self,
        num_words: int,
        num_chars: int,
        embed_dim: int,
        char_dim: int,
        char_out: int,
        hidden_size: int,
        num_layers: int,
        mlp_size: int,
        dropout: float = 0.0,
        num_tags: int = 0,
        tag_dim: int = 0,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(num_words, embed_dim, padding_idx=0)
        self.chars = CharCNN(num_chars, char_dim, char_out) if char_out > 0 else None
        self.tags = nn.Embedding(num_tags, tag_dim, padding_idx=0) if num_tags and tag_dim else None
        input_size = embed_dim + char_out + (tag_dim if self.tags is not None else 0)
        self.rnn = BiRNN("lstm", input_size, hidden_size, num_layers, dropout)
        self.register_load_state_dict_pre_hook(_rename_old_rnn_keys)
        self.dropout = nn.Dropout(dropout)
        self.forward_proj = nn.Linear(hidden_size, mlp_size, bias=False)
        self.span_bias = nn.Parameter(torch.zeros(mlp_size))
        self.backward_proj = nn.Linear(hidden_size, mlp_size, bias=False)
        self.score = nn.Linear(mlp_size, 1)
        self.hidden_size = hidden_size

    def fenceposts(self, word_ids: Tensor, char_ids: Tensor, lengths: Tensor, tag_ids: Tensor | None = None) -> Tensor:
        """The projected fencepost features e, (B, N + 1, mlp_size).

        Args:
            word_ids: (B, N + 2) with sentinels at 0 and length + 1, padding 0 after.
            char_ids: (B, N + 2, W) characters per position (0: padding).
            lengths: (B,) tokens per sentence, on the CPU.
            tag_ids: (B, N + 2) like word_ids; required when the parser reads tags, else ignored.
        """
        if word_ids.dim() != 2 or char_ids.shape[:2] != word_ids.shape or lengths.shape != word_ids.shape[:1]:
            raise ShapeError(f"word_ids {tuple(word_ids.shape)}, char_ids {tuple(char_ids.shape)}, lengths {tuple(lengths.shape)}")
        batch, width = word_ids.shape
        inputs = self.embedding(word_ids)  # (B, T, D)
        if self.tags is not None:
            if tag_ids is None or tag_ids.shape != word_ids.shape:
                raise ShapeError(f"this parser reads part-of-speech tags: tag_ids must be {tuple(word_ids.shape)}")
            inputs = torch.cat([inputs, self.tags(tag_ids)], dim=-1)
        if self.chars is not None:
            # Each distinct word (padding and sentinels included) through the CNN once: SST dev, 2.3x fewer rows.
            distinct, where = char_ids.view(batch * width, -1).unique(dim=0, return_inverse=True)
            features = self.chars(distinct, (distinct > 0).sum(-1))[where]  # (B * T, char_out)
            inputs = torch.cat([inputs, features.view(batch, width, -1).to(inputs.dtype)], dim=-1)
        states = self.dropout(self.rnn(self.dropout(inputs), (lengths + 2).to(word_ids.device)))  # (B, T, 2H)
        forward, backward = states[..., : self.hidden_size], states[..., self.hidden_size :]
        return self.forward_proj(forward[:, :-1]) - self.backward_proj(backward[:, 1:])  # (B, N + 1, M)

    def forward(self, word_ids: Tensor, char_ids: Tensor, lengths: Tensor, tag_ids: Tensor | None = None) -> Tensor:
        """Span scores (B, N + 1, N + 1): entry [b, i, j] scores tokens [i, j) of sentence b (for i < j)."""
        fence = self.fenceposts(word_ids, char_ids, lengths, tag_ids)  # (B, W, M), W = N + 1
        batch, width, size = fence.shape
        # (e[j] + bias) - e[i]: the bias folded into the small tensor, ReLU in place, the scorer as one
        # matrix product: fewer passes over the (B, W, W, M) hidden layer (1.3-2.2x faster on CPU).
        hidden = (fence + self.span_bias).unsqueeze(1) - fence.unsqueeze(2)  # (B, i, j, M)
        hidden.relu_()
        return self.score(hidden.view(-1, size)).view(batch, width, width)


def _rename_old_rnn_keys(module: nn.Module, state_dict: dict, prefix: str, *_: object) -> None:
    """Archives written before the parser shared the tagger's BiRNN name its levels `forward_layers`
    and `backward_layers`; they load under the shared names."""
    for key in [k for k in state_dict if k.startswith(f"{prefix}rnn.forward_layers.") or k.startswith(f"{prefix}rnn.backward_layers.")]:
        new = key.replace("rnn.forward_layers.", "rnn.forward_rnns.", 1).replace("rnn.backward_layers.", "rnn.backward_rnns.", 1)
        state_dict[new] = state_dict.pop(key)
