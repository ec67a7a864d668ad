"""A slow per-node recursive evaluation of a TreeClassifier: the reference the level-batched code must
equal (tests) and the baseline it is measured against (benchmarks). Never used for training."""

from __future__ import annotations

import torch
from torch import Tensor

from treeseq.data.trees import TreeExample
from treeseq.models.tree import TreeClassifier


def reference_logits(model: TreeClassifier, example: TreeExample) -> Tensor:
    """Class logits of every node of one tree, (n, C) in tree node order, one node at a time."""
    tree = example.tree
    cell = model.cell
    states: dict[int, Tensor] = {}
    # One lookup of the sentence's words; the composition is what runs node by node.
    vectors = model.dropout(model.embedding(torch.tensor(example.word_ids)))  # (T, D)

    def visit(node: int) -> Tensor:
        kids = tree.children[node]
        word = tree.word[node]
        x = None
        if word >= 0:
            x = vectors[word : word + 1]  # (1, D)
        if not kids:
            state = cell.leaf(x)
        else:
            child = torch.stack([visit(k) for k in kids], dim=1)  # (1, K, S)
            state = cell.compose(x, child, None)
        states[node] = state
        return state

    visit(tree.root)
    hidden = torch.cat([states[n] for n in range(len(tree))])[:, : cell.hidden_size]
    return model.output(model.dropout(hidden))
