from __future__ import annotations

import functools
import itertools

import torch
from cky_reference import cky_decode_per_cell
from hypothesis import given, settings
from hypothesis import strategies as st

from treeseq.data.parsing import span_mask
from treeseq.decoding.cky import cky_decode, preorder_to_tree, spans_to_tree, tree_spans
from treeseq.trees import Tree


@functools.cache
def all_trees(i: int, j: int) -> tuple[frozenset, ...]:
    """Every binary tree over [i, j) as a set of spans (brute force)."""
    if j - i == 1:
        return (frozenset({(i, j)}),)
    out = []
    for k in range(i + 1, j):
        for left, right in itertools.product(all_trees(i, k), all_trees(k, j)):
            out.append(left | right | {(i, j)})
    return tuple(out)


def brute_force(scores: torch.Tensor, n: int) -> float:
    return max(sum(float(scores[i, j]) for i, j in tree) for tree in all_trees(0, n))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=4), st.integers(0, 2**31 - 1))
def test_cky_equals_brute_force_over_all_binary_trees(lengths: list[int], seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    width = max(lengths) + 1
    scores = torch.randn(len(lengths), width, width, generator=generator, dtype=torch.float64)
    spans, totals = cky_decode(scores, lengths)
    for b, n in enumerate(lengths):
        expected = brute_force(scores[b], n)
        assert abs(float(totals[b]) - expected) < 1e-9
        assert abs(sum(float(scores[b, i, j]) for i, j in spans[b]) - expected) < 1e-9
        assert frozenset(spans[b]) in all_trees(0, n)
        ref_spans, ref_total = cky_decode_per_cell(scores[b], n)
        assert abs(ref_total - expected) < 1e-9 and len(ref_spans) == 2 * n - 1


def test_padding_does_not_leak_into_shorter_sentences() -> None:
    scores = torch.randn(2, 9, 9)
    padded = scores.clone()
    padded[0, :, 4:] = 1e6  # beyond sentence 0's 3 tokens... except spans ending at 3 or before
    padded[0, :, 3] = scores[0, :, 3]
    a, _ = cky_decode(scores, [3, 8])
    b, _ = cky_decode(padded, [3, 8])
    assert a[0] == b[0]


def test_spans_to_tree_round_trip_and_mask() -> None:
    tree = Tree.from_brackets("(3 (2 It) (4 (2 is) (3 (2 not) (2 bad))))")
    spans = tree_spans(tree)
    rebuilt = spans_to_tree(tree.tokens, spans)
    assert rebuilt.to_brackets() == "(_ (_ It) (_ (_ is) (_ (_ not) (_ bad))))"
    assert rebuilt.is_binary() and set(tree_spans(rebuilt)) == set(spans)
    mask = span_mask([spans], 5)
    assert int(mask.sum()) == 7 and bool(mask[0, 2, 4])
    assert spans_to_tree(["one"], [(0, 1)]).to_brackets() == "(_ one)"


def test_long_right_branching_chart_is_iterative() -> None:
    n = 600
    scores = torch.zeros(1, n + 1, n + 1)
    for i in range(n):
        scores[0, i, n] = 1.0  # every right-branching span
    spans, _ = cky_decode(scores, [n])
    tree = spans_to_tree([f"w{i}" for i in range(n)], spans[0])
    assert max(tree.heights()) == n - 1


def test_preorder_to_tree_equals_spans_to_tree_on_decoded_trees() -> None:
    torch.manual_seed(0)
    lengths = [1, 2, 5, 9, 14]
    spans, _ = cky_decode(torch.randn(len(lengths), 15, 15), lengths)
    for n, sentence_spans in zip(lengths, spans):
        tokens = [f"w{i}" for i in range(n)]
        fast, slow = preorder_to_tree(tokens, sentence_spans), spans_to_tree(tokens, sentence_spans)
        assert fast.children == slow.children and fast.word == slow.word
