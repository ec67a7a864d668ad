from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treeseq.trees import BracketError, Tree

WORD = st.text(alphabet=st.characters(blacklist_characters="() \t\n\r\f\v", blacklist_categories=("Cs", "Zl", "Zp", "Cc")), min_size=1, max_size=6).filter(lambda w: w != "_")
LABEL = st.one_of(st.none(), st.sampled_from(["0", "1", "2", "3", "4", "NP", "VP"]))


@st.composite
def bracketed(draw: st.DrawFn) -> str:
    """A random bracketed tree: leaves `(label word)`, phrases with 1-3 children."""
    leaves = [f"({draw(LABEL) or '_'} {draw(WORD)})" for _ in range(draw(st.integers(1, 12)))]
    nodes = leaves
    while len(nodes) > 1:
        k = min(len(nodes), draw(st.integers(2, 3)))
        start = draw(st.integers(0, len(nodes) - k))
        merged = f"({draw(LABEL) or '_'} {' '.join(nodes[start:start + k])})"
        nodes = nodes[:start] + [merged] + nodes[start + k :]
    return nodes[0]


@given(bracketed())
@settings(max_examples=150, deadline=None)
def test_brackets_write_then_read_is_identity(text: str) -> None:
    tree = Tree.from_brackets(text)
    assert tree.to_brackets() == text
    assert Tree.from_brackets(tree.to_brackets()) == tree
    assert Tree.from_nltk(tree.to_nltk()) == tree


@given(st.lists(st.integers(0, 50), min_size=1, max_size=15))
@settings(max_examples=100, deadline=None)
def test_dependency_tree_from_random_heads(seeds: list[int]) -> None:
    # Token i (1-based) attaches to an earlier token or the root: always a tree.
    heads = [0] + [1 + seeds[i] % i for i in range(1, len(seeds))]
    tokens = [f"w{i}" for i in range(len(seeds))]
    tree = Tree.from_heads(tokens, heads)
    assert sorted(tree.word) == list(range(len(tokens)))
    parents = tree.parents()
    for node in range(len(tree)):
        head = heads[tree.word[node]]
        assert (parents[node] == -1) == (head == 0)
        if head:
            assert tree.word[parents[node]] == head - 1
    assert tree.spans()[tree.root] == (0, len(tokens))


def test_post_order_spans_heights() -> None:
    tree = Tree.from_brackets("(3 (2 The) (4 (3 good) (2 film)))")
    assert tree.tokens == ("The", "good", "film")
    assert tree.children == ((), (), (), (1, 2), (0, 3))
    assert tree.labels == ("2", "3", "2", "4", "3")
    assert tree.spans() == [(0, 1), (1, 2), (2, 3), (1, 3), (0, 3)]
    assert tree.heights() == [0, 0, 0, 1, 2]
    assert tree.is_binary()


def test_binarize_collapses_unaries_and_factors_right() -> None:
    tree = Tree.from_brackets("(S (NP (N a)) (VP b c d))").binarize()
    assert tree.to_brackets() == "(S (NP a) (VP (_ b) (_ (_ c) (_ d))))"
    assert tree.is_binary()


def test_deep_right_branching_tree_is_iterative() -> None:
    text = "(2 w)"
    for i in range(2000):
        text = f"(2 (2 w{i}) {text})"
    tree = Tree.from_brackets(text)
    assert len(tree.tokens) == 2001 and max(tree.heights()) == 2000
    assert tree.to_brackets() == text
    assert sum(1 for _ in tree.preorder()) == len(tree)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("(3 (2 a) (2 b)", "not closed", 1),
        ("(3 (2 a)) )", "text after the end", 11),
        ("(3 (2 ) (2 b))", "has no tokens", 4),
        ("word (2 b)", "outside brackets", 1),
        ("()", "no label and no tokens", 2),
        (")", "closes nothing", 1),
    ],
)
def test_bracket_errors_say_where(text: str, message: str, column: int) -> None:
    with pytest.raises(BracketError, match=message) as info:
        Tree.from_brackets(text)
    assert info.value.column == column


def test_from_heads_rejects_cycles_and_two_roots() -> None:
    with pytest.raises(ValueError, match="exactly one root"):
        Tree.from_heads(["a", "b"], [0, 0])
    with pytest.raises(ValueError, match="cycle"):
        Tree.from_heads(["a", "b", "c"], [0, 3, 2])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet="ab():-", min_size=1, max_size=4), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_every_written_tree_reads_back_even_with_brackets_in_tokens(tokens: list[str], rng) -> None:  # noqa: ANN001
    nodes = [Tree(( t,), ((),), (0,), ("2",)).to_brackets() for t in tokens]
    while len(nodes) > 1:  # join random neighbours: a random binary tree over the tokens
        at = rng.randrange(len(nodes) - 1)
        nodes[at : at + 2] = [f"(3 {nodes[at]} {nodes[at + 1]})"]
    tree = Tree.from_brackets(nodes[0])
    again = Tree.from_brackets(tree.to_brackets())
    assert again.children == tree.children and again.tokens == tree.tokens and len(tree.tokens) == len(tokens)
    assert [t.replace("-LRB-", "(").replace("-RRB-", ")") for t in tree.tokens] == tokens
