"""Tree examples and level batching: the schedule the tree models run, built by the data loader.

A batch of trees is flattened into nodes and the nodes are numbered level by level (height 0 first),
so each level is one contiguous slice of the node buffer and one batched product in the model. The
index tensors that gather each level's children are built here, once per batch, never in the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import Tensor

from treeseq.trees import Tree


@dataclass(frozen=True)
class TreeExample:
    """A tree with its word ids and per-node class ids (-1: no label, no loss)."""

    tree: Tree
    word_ids: tuple[int, ...]  # per token
    labels: tuple[int, ...]  # per node
    heights: tuple[int, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.heights:
            object.__setattr__(self, "heights", tuple(self.tree.heights()))


@dataclass
class TreeLevel:
    """Nodes [start, stop) of the batch buffer, all of the same height.

    child_index: (n * K,) rows of the node buffer holding each node's K children (padded with 0).
    child_mask: (n, K) True for real children; None when every node has exactly K children.
    """

    start: int
    stop: int
    num_children: int
    child_index: Tensor | None = None
    child_mask: Tensor | None = None


@dataclass
class TreeBatch:
    """A batch of trees flattened into a level-ordered node buffer.

    word_ids: (M,) the token ids of nodes [0, M), which are exactly the nodes that carry a word.
    labels: (N,) class ids per node, -1 where unlabelled.
    roots: (B,) buffer rows of the trees' roots.
    order: (N,) buffer row of each node, trees concatenated in input order and nodes in tree order.
    """

    word_ids: Tensor
    labels: Tensor
    roots: Tensor
    order: Tensor
    levels: list[TreeLevel]
    tree_sizes: list[int]

    @property
    def num_nodes(self) -> int:
        return int(self.labels.numel())

    def __len__(self) -> int:
        return len(self.tree_sizes)

    def to(self, device: torch.device) -> TreeBatch:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        levels = [TreeLevel(lv.start, lv.stop, lv.num_children, move(lv.child_index), move(lv.child_mask)) for lv in self.levels]
        return TreeBatch(move(self.word_ids), move(self.labels), move(self.roots), move(self.order), levels, self.tree_sizes)  # type: ignore[arg-type]


def batch_trees(examples: Sequence[TreeExample]) -> TreeBatch:
    """Build the level schedule for a batch of trees of one kind (all constituency or all dependency)."""
    # Sort every node of the batch by (height, tree, node): each level becomes a contiguous slice.
    keys = []
    for t, ex in enumerate(examples):
        carries = ex.tree.word
        for node, height in enumerate(ex.heights):
            # Within height 0 nothing depends on order; a word-carrying node sorts before one without
            # so that nodes with words form the prefix [0, M) of the buffer.
            keys.append((height, 0 if carries[node] >= 0 else 1, t, node))
    keys.sort()
    offsets, total = [], 0
    for ex in examples:
        offsets.append(total)
        total += len(ex.tree)
    row_of = [0] * total
    for row, (_, _, t, node) in enumerate(keys):
        row_of[offsets[t] + node] = row

    word_ids: list[int] = []
    labels = [0] * total
    levels: list[TreeLevel] = []
    level_start, level_height = 0, 0
    pending: list[tuple[int, ...]] = []
    for row, (height, no_word, t, node) in enumerate(keys):
        ex = examples[t]
        if height != level_height:
            levels.append(_make_level(level_start, row, pending))
            level_start, level_height, pending = row, height, []
        if not no_word:
            if len(word_ids) != row:
                raise ValueError("a node without a word sorts before one with a word: mixed tree kinds in one batch")
            word_ids.append(ex.word_ids[ex.tree.word[node]])
        labels[row] = ex.labels[node]
        base = offsets[t]
        pending.append(tuple(row_of[base + kid] for kid in ex.tree.children[node]))
    levels.append(_make_level(level_start, total, pending))
    roots = [row_of[offsets[t] + len(ex.tree) - 1] for t, ex in enumerate(examples)]
    return TreeBatch(
        word_ids=torch.tensor(word_ids, dtype=torch.long),
        labels=torch.tensor(labels, dtype=torch.long),
        roots=torch.tensor(roots, dtype=torch.long),
        order=torch.tensor(row_of, dtype=torch.long),
        levels=levels,
        tree_sizes=[len(ex.tree) for ex in examples],
    )


def _make_level(start: int, stop: int, children: list[tuple[int, ...]]) -> TreeLevel:
    width = max(len(c) for c in children)
    if width == 0:
        return TreeLevel(start, stop, 0)
    if all(len(c) == width for c in children):
        index = torch.tensor([k for c in children for k in c], dtype=torch.long)
        return TreeLevel(start, stop, width, index, None)
    index = torch.tensor([list(c) + [0] * (width - len(c)) for c in children], dtype=torch.long).view(-1)
    mask = torch.tensor([[i < len(c) for i in range(width)] for c in children], dtype=torch.bool)
    return TreeLevel(start, stop, width, index, mask)
