"""The vectorized level schedule (batch_trees) against a plain per-node construction of the same schedule."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from treeseq.data.trees import TreeBatch, TreeExample, batch_trees
from treeseq.trees import Tree


def slow_schedule(examples: list[TreeExample]) -> dict:
    """The schedule by its definition: nodes sorted by (height, no word, tree, node), one level per height."""
    nodes = sorted(
        (ex.heights[node], int(ex.tree.word[node] < 0), t, node) for t, ex in enumerate(examples) for node in range(len(ex.tree))
    )
    row_of = {(t, node): row for row, (_, _, t, node) in enumerate(nodes)}
    levels: dict[int, list[tuple[int, ...]]] = {}
    for _, _, t, node in nodes:
        kids = examples[t].tree.children[node]
        levels.setdefault(examples[t].heights[node], []).append(tuple(row_of[t, k] for k in kids))
    return {
        "word_ids": [examples[t].word_ids[examples[t].tree.word[n]] for _, no_word, t, n in nodes if not no_word],
        "labels": [examples[t].labels[n] for _, _, t, n in nodes],
        "order": [row_of[t, n] for t, ex in enumerate(examples) for n in range(len(ex.tree))],
        "roots": [row_of[t, len(ex.tree) - 1] for t, ex in enumerate(examples)],
        "levels": [levels[h] for h in sorted(levels)],
    }


def schedule_of(batch: TreeBatch) -> dict:
    levels = []
    for level in batch.levels:
        n, k = level.stop - level.start, level.num_children
        if k == 0:
            levels.append([()] * n)
            continue
        index = level.child_index.view(n, k).tolist()
        mask = level.child_mask.tolist() if level.child_mask is not None else [[True] * k] * n
        levels.append([tuple(i for i, m in zip(row, keep) if m) for row, keep in zip(index, mask)])
    return {
        "word_ids": batch.word_ids.tolist(),
        "labels": batch.labels.tolist(),
        "order": batch.order.tolist(),
        "roots": batch.roots.tolist(),
        "levels": levels,
    }


def example(tree: Tree, seed: int) -> TreeExample:
    return TreeExample(tree, tuple(range(seed, seed + len(tree.tokens))), tuple((seed + n) % 7 - 1 for n in range(len(tree))))


@st.composite
def constituency_tree(draw: st.DrawFn) -> Tree:
    nodes = [f"(1 w{i})" for i in range(draw(st.integers(1, 14)))]
    while len(nodes) > 1:
        k = min(len(nodes), draw(st.integers(2, 3)))
        start = draw(st.integers(0, len(nodes) - k))
        nodes = nodes[:start] + [f"(2 {' '.join(nodes[start:start + k])})"] + nodes[start + k :]
    return Tree.from_brackets(nodes[0])


@st.composite
def dependency_tree(draw: st.DrawFn) -> Tree:
    seeds = draw(st.lists(st.integers(0, 50), min_size=1, max_size=12))
    heads = [0] + [1 + seeds[i] % i for i in range(1, len(seeds))]
    return Tree.from_heads([f"w{i}" for i in range(len(seeds))], heads)


@given(st.one_of(st.lists(constituency_tree(), min_size=1, max_size=6), st.lists(dependency_tree(), min_size=1, max_size=6)))
@settings(max_examples=120, deadline=None)
def test_batch_trees_equals_the_per_node_schedule(trees: list[Tree]) -> None:
    examples = [example(tree, 10 * i) for i, tree in enumerate(trees)]
    batch = batch_trees(examples)
    assert schedule_of(batch) == slow_schedule(examples)
    for level in batch.levels:
        assert level.child_mask is None or not bool(level.child_mask.all())  # a mask only where widths differ
    assert batch.tree_sizes == [len(t) for t in trees]
    assert batch_trees(examples).labels.equal(batch.labels)  # the cached node arrays give the same batch again


def test_mixed_tree_kinds_in_one_batch_are_refused() -> None:
    constituency = example(Tree.from_brackets("(1 (2 a) (3 b))"), 0)
    dependency = example(Tree.from_heads(["a", "b"], [0, 1]), 5)
    with pytest.raises(ValueError, match="mixed tree kinds"):
        batch_trees([constituency, dependency])
    with pytest.raises(ValueError, match="empty batch"):
        batch_trees([])


def test_batch_of_one_node_trees() -> None:
    trees = [Tree.from_brackets("(3 word)"), Tree.from_brackets("(0 other)")]
    batch = batch_trees([example(t, 4 * i) for i, t in enumerate(trees)])
    assert len(batch.levels) == 1 and batch.levels[0].num_children == 0
    assert batch.word_ids.tolist() == [0, 4] and batch.roots.tolist() == [0, 1]
    assert torch.equal(batch.order, torch.tensor([0, 1]))
