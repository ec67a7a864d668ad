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

    @property
    def arrays(self) -> NodeArrays:
        """The nodes as tensors for batch_trees, built on first use and kept (examples recur every epoch)."""
        cached = self.__dict__.get("_arrays")
        if cached is None:
            cached = node_arrays(self)
            object.__setattr__(self, "_arrays", cached)
        return cached


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


@dataclass(frozen=True)
class NodeArrays:
    """One example's nodes as tensors, in tree order: what batch_trees concatenates.

    children: (n, K) child node numbers padded with -1 (K: the tree's widest node; 0 columns for a
    one-node tree), num_children: (n,), words: (n,) word id of each node or -1, labels: (n,).
    """

    heights: Tensor
    children: Tensor
    num_children: Tensor
    words: Tensor
    labels: Tensor


def node_arrays(example: TreeExample) -> NodeArrays:
    tree = example.tree
    width = max((len(kids) for kids in tree.children), default=0)
    children = torch.tensor([list(kids) + [-1] * (width - len(kids)) for kids in tree.children], dtype=torch.long)
    return NodeArrays(
        heights=torch.tensor(example.heights, dtype=torch.long),
        children=children.view(len(tree), width),
        num_children=torch.tensor([len(kids) for kids in tree.children], dtype=torch.long),
        words=torch.tensor([example.word_ids[w] if w >= 0 else -1 for w in tree.word], dtype=torch.long),
        labels=torch.tensor(example.labels, dtype=torch.long),
    )


def batch_trees(examples: Sequence[TreeExample]) -> TreeBatch:
    """Build the level schedule for a batch of trees of one kind (all constituency or all dependency).

    Every node of the batch is sorted by (height, no word, tree, node), so each level is a contiguous
    slice and, within height 0 where nothing depends on order, the nodes with a word come first: they
    form the prefix [0, M) of the buffer. Vectorized over the batch's nodes; only the level slices loop.
    """
    if not examples:
        raise ValueError("an empty batch of trees")
    parts = [ex.arrays for ex in examples]
    sizes = [len(ex.tree) for ex in examples]
    size_t = torch.tensor(sizes, dtype=torch.long)
    offsets = torch.cumsum(size_t, 0) - size_t
    total = int(size_t.sum())
    width = max(a.children.shape[1] for a in parts)
    heights = torch.cat([a.heights for a in parts])
    words = torch.cat([a.words for a in parts])
    no_word = words < 0
    # A stable sort keeps (tree, node) order among equal keys.
    order = torch.sort(heights * 2 + no_word.long(), stable=True).indices  # buffer row -> node
    row_of = torch.empty_like(order)
    row_of[order] = torch.arange(total)
    num_words = int((~no_word).sum())
    num_children = torch.cat([a.num_children for a in parts])
    # Leaves carry words; so do all phrases of dependency trees and none of constituency trees'.
    phrase_has_word = ~no_word[num_children > 0]
    if bool(phrase_has_word.any()) and not bool(phrase_has_word.all()):
        raise ValueError("phrases with and without words: mixed tree kinds (constituency and dependency) in one batch")

    if all(a.children.shape[1] == width for a in parts):
        kids = torch.cat([a.children for a in parts])
    else:
        kids = torch.cat([torch.nn.functional.pad(a.children, (0, width - a.children.shape[1]), value=-1) for a in parts])
    node_offsets = torch.tensor([o for o, n in zip(offsets.tolist(), sizes) for _ in range(n)]).unsqueeze(1)  # (N, 1)
    kids = torch.where(kids >= 0, kids + node_offsets, kids)  # batch node numbers, -1 padded
    kids = kids[order]
    child_rows = torch.where(kids >= 0, row_of[kids.clamp(min=0)], kids)  # (N, width) buffer rows, -1 padded

    return TreeBatch(
        word_ids=words[order[:num_words]],
        labels=torch.cat([a.labels for a in parts])[order],
        roots=row_of[offsets + size_t - 1],
        order=row_of,
        levels=_levels(heights[order], child_rows, num_children[order]),
        tree_sizes=sizes,
    )


def _levels(level_of: Tensor, child_rows: Tensor, counts: Tensor) -> list[TreeLevel]:
    """The level slices of a buffer sorted by height: level_of (N,) each row's height, child_rows
    (N, width) its children's rows (-1 padded), counts (N,) its number of children.

    Every height from 0 to the tallest tree's occurs, so level k holds exactly the nodes of height k.
    """
    level_sizes = torch.bincount(level_of)
    widest = torch.zeros(len(level_sizes), dtype=torch.long).scatter_reduce(0, level_of, counts, "amax", include_self=False)
    narrowest = torch.zeros(len(level_sizes), dtype=torch.long).scatter_reduce(0, level_of, counts, "amin", include_self=False)
    levels: list[TreeLevel] = []
    start = 0
    for size, wide, narrow in zip(level_sizes.tolist(), widest.tolist(), narrowest.tolist()):
        stop = start + size
        if wide == 0:
            levels.append(TreeLevel(start, stop, 0))
        else:
            block = child_rows[start:stop, :wide]
            if narrow == wide:
                levels.append(TreeLevel(start, stop, wide, block.reshape(-1).contiguous(), None))
            else:
                mask = block >= 0
                levels.append(TreeLevel(start, stop, wide, block.clamp(min=0).reshape(-1), mask))
        start = stop
    return levels
