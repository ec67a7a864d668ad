"""Tree classifiers: embeddings, a composition cell run level by level, a softmax on every node.

How the levels run (one batched product per level, and training's backward over them) is the level
runner's business (treeseq.nn.tree_levels), chosen once when the model is built.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from treeseq.data.trees import TreeBatch
from treeseq.nn.dropout import UniformDropout
from treeseq.nn.tree_cells import BinaryTreeLSTMCell, ChildSumTreeLSTMCell, RecursiveCell, RNTNCell
from treeseq.nn.tree_levels import LevelRunner

TreeModelKind = Literal["rnn", "rntn", "binary-lstm", "childsum-lstm"]
MODEL_KINDS: tuple[str, ...] = ("rnn", "rntn", "binary-lstm", "childsum-lstm")


def build_cell(kind: str, input_size: int, hidden_size: int) -> nn.Module:
    match kind:
        case "rnn":
            return RecursiveCell(input_size, hidden_size)
        case "rntn":
            return RNTNCell(input_size, hidden_size)
        case "binary-lstm":
            return BinaryTreeLSTMCell(input_size, hidden_size)
        case "childsum-lstm":
            return ChildSumTreeLSTMCell(input_size, hidden_size)
    raise ValueError(f"unknown tree model {kind!r}; expected one of {', '.join(MODEL_KINDS)}")


class TreeClassifier(nn.Module):
    """Labels every node of a batch of trees.

    Args:
        kind: the composition cell (rnn, rntn, binary-lstm, childsum-lstm).
        vocab_size, embed_dim, hidden_size, num_classes: sizes.
        dropout: on word vectors and on the states the classifier reads.
        word_dropout: in training, the chance of reading a word as the unknown word (`unk_id`), so that the
            unknown word's vector is trained on many contexts and no word is relied on alone.
        sparse_embeddings: sparse gradients for the embedding table (cheap updates of large vocabularies).
        fused: run the binary Tree-LSTM's levels on the cell's own fused forward and backward (fp32);
            False where the model runs under bf16/fp16 autocast, whose casts compose only under autograd.
    """

    def __init__(
        self,
        kind: str,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_classes: int,
        dropout: float = 0.0,
        sparse_embeddings: bool = False,
        fused: bool = True,
        word_dropout: float = 0.0,
        unk_id: int = 1,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.word_dropout, self.unk_id = word_dropout, unk_id
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0, sparse=sparse_embeddings)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.cell = build_cell(kind, embed_dim, hidden_size)
        self.dropout = UniformDropout(dropout)  # nn.Dropout's bernoulli_ mask cost 17% of a CPU training batch
        self.output = nn.Linear(hidden_size, num_classes)
        self.levels = LevelRunner(self.cell, fused=fused and isinstance(self.cell, BinaryTreeLSTMCell))

    @staticmethod
    def arity_of(kind: str) -> int:
        """2 for the cells that need binary trees, 0 for any number of children."""
        return 0 if kind == "childsum-lstm" else 2

    def node_states(self, batch: TreeBatch) -> Tensor:
        """The cell state of every node, (N, S) in batch buffer order."""
        word_ids = batch.word_ids
        if self.training and self.word_dropout > 0:
            word_ids = word_ids.masked_fill(torch.rand(word_ids.shape, device=word_ids.device) < self.word_dropout, self.unk_id)
        words = self.dropout(self.embedding(word_ids))  # (M, D) for buffer rows [0, M)
        first = batch.levels[0]
        leaf_states = self.cell.leaf(words[first.start : first.stop])
        if len(batch.levels) == 1:
            return leaf_states
        return self.levels(batch, words, leaf_states)

    def forward(self, batch: TreeBatch) -> Tensor:
        """Class logits for every node, (N, C) in batch buffer order."""
        hidden = self.node_states(batch)[:, : self.cell.hidden_size]
        return self.output(self.dropout(hidden))
