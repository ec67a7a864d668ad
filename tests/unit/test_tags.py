from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treeseq.metrics import conlleval
from treeseq.tags import Span, allowed_transitions, convert, is_valid, looks_like_chunks, repair, spans, to_tags

ANY_TAG = st.sampled_from(["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"])


def test_spans_in_each_scheme() -> None:
    assert spans(["B-PER", "I-PER", "O", "B-LOC"]) == [Span(0, 2, "PER"), Span(3, 4, "LOC")]
    # IOB1: I- opens a chunk after O; B- only separates two adjacent chunks of one type.
    assert spans(["I-PER", "I-PER", "B-PER", "O", "I-LOC"]) == [Span(0, 2, "PER"), Span(2, 3, "PER"), Span(4, 5, "LOC")]
    assert spans(["B-PER", "E-PER", "S-LOC", "O", "S-LOC"]) == [Span(0, 2, "PER"), Span(2, 3, "LOC"), Span(4, 5, "LOC")]


def test_conversion_between_schemes() -> None:
    bio = ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert convert(bio, "iob1") == ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    assert convert(bio, "bioes") == ["B-PER", "E-PER", "S-PER", "O", "S-LOC"]
    assert convert(convert(bio, "bioes"), "bio") == bio
    assert convert(convert(bio, "iob1"), "bio") == bio


def test_repair_rule_i_after_o_starts_a_chunk() -> None:
    assert repair(["O", "I-X", "I-X"]) == ["O", "B-X", "I-X"]
    assert repair(["B-X", "I-Y", "O"]) == ["B-X", "B-Y", "O"]
    assert repair(["I-X"], "bioes") == ["S-X"]


@given(st.lists(ANY_TAG, max_size=12), st.sampled_from(["bio", "iob1", "bioes"]))
def test_repair_gives_valid_sequences_with_the_same_chunks(tags: list[str], scheme: str) -> None:
    fixed = repair(tags, scheme)
    assert is_valid(fixed, scheme)
    assert spans(fixed) == spans(tags)
    assert to_tags(spans(tags), len(tags), scheme) == fixed


def test_transition_masks_for_bio() -> None:
    labels = ["B-A", "I-A", "I-B", "O"]
    start, trans, end = allowed_transitions(labels, "bio")
    assert start.tolist() == [True, False, False, True] and end.all()
    assert trans[0, 1] and trans[1, 1] and not trans[3, 1] and not trans[0, 2]


def test_tag_sets_that_read_as_chunks() -> None:
    assert looks_like_chunks(["O", "B-city", "I-city"])
    assert not looks_like_chunks(["NOUN", "VERB", "PUNCT"])
    assert not looks_like_chunks(["O"])


def test_conlleval_figures_worked_out_by_hand() -> None:
    gold = [
        ["B-PER", "I-PER", "O", "B-LOC", "O"],
        ["B-LOC", "I-LOC", "O", "B-PER"],
        ["O", "B-ORG", "I-ORG", "I-ORG"],
        ["B-PER", "O", "O"],
    ]
    pred = [
        ["B-PER", "I-PER", "O", "B-ORG", "O"],
        ["I-LOC", "I-LOC", "O", "B-PER"],  # I- after the start opens a chunk: LOC(0,2) is right
        ["O", "B-ORG", "I-ORG", "B-ORG"],
        ["O", "O", "I-MISC"],  # I-MISC after O opens MISC(2,3)
    ]
    # By hand:
    #   gold chunks: PER(0,2) LOC(3,4) | LOC(0,2) PER(3,4) | ORG(1,4) | PER(0,1)          -> 6 (PER 3, LOC 2, ORG 1)
    #   predicted:   PER(0,2) ORG(3,4) | LOC(0,2) PER(3,4) | ORG(1,3) ORG(3,4) | MISC(2,3) -> 7 (PER 2, LOC 1, ORG 3, MISC 1)
    #   correct:     PER(0,2)          | LOC(0,2) PER(3,4)                                -> 3 (PER 2, LOC 1)
    #   precision 3/7 = 42.86%, recall 3/6 = 50.00%, F1 = 2*3/(7+6) = 6/13 = 46.15%
    #   tokens right: 4/5 + 3/4 + 3/4 + 1/3 = 11/16 = 68.75%
    #   PER: P 2/2, R 2/3, F1 0.8; LOC: P 1/1, R 1/2, F1 2/3; ORG: 0/3 predicted right, 0/1 found: F1 0; MISC: F1 0
    report = conlleval(gold, pred)
    assert report.accuracy == pytest.approx(11 / 16)
    assert (report.overall.gold, report.overall.predicted, report.overall.correct) == (6, 7, 3)
    assert report.overall.precision == pytest.approx(3 / 7)
    assert report.overall.recall == pytest.approx(0.5)
    assert round(report.overall.f1 * 100, 2) == 46.15
    assert report.by_type["PER"].f1 == pytest.approx(0.8)
    assert report.by_type["LOC"].f1 == pytest.approx(2 / 3)
    assert report.by_type["ORG"].f1 == 0.0 and report.by_type["MISC"].f1 == 0.0
    with pytest.raises(ValueError):
        conlleval([["O"]], [["O", "O"]])


def test_tag_reading_at_the_edges_by_hand() -> None:
    from treeseq.errors import ConfigError
    from treeseq.tags import check_scheme, is_chunk_tag, split_tag

    assert [split_tag(t) for t in ["O", "B-LOC", "B-a-b", "B-", "X-PER", "NOUN"]] == [
        ("O", ""), ("B", "LOC"), ("B", "a-b"), ("I", "B-"), ("I", "X-PER"), ("I", "NOUN")]  # fmt: skip
    assert [is_chunk_tag(t) for t in ["O", "S-X", "E-X", "B-", "Q-X", "NOUN", "-X"]] == [True, True, True, False, False, False, False]
    assert not looks_like_chunks([]) and not looks_like_chunks(["B-X", "NOUN"]) and looks_like_chunks(["B-X"])
    # conlleval reads a bare tag as inside a chunk of that type: runs of one tag are one chunk
    assert spans(["NOUN", "NOUN", "VERB"]) == [Span(0, 2, "NOUN"), Span(2, 3, "VERB")]
    assert spans(["B-A", "I-A", "E-A", "O"]) == [Span(0, 3, "A")]
    assert spans(["E-A", "S-A", "I-B", "B-B"]) == [Span(0, 1, "A"), Span(1, 2, "A"), Span(2, 3, "B"), Span(3, 4, "B")]
    assert spans(["B-A", "I-B", "I-B"]) == [Span(0, 1, "A"), Span(1, 3, "B")]
    # IOB1 writes B- only where a chunk follows one of its own type
    assert to_tags([Span(0, 1, "A"), Span(1, 2, "A"), Span(2, 3, "B")], 3, "iob1") == ["I-A", "B-A", "I-B"]
    assert to_tags([Span(0, 1, "A"), Span(2, 3, "A")], 3, "iob1") == ["I-A", "O", "I-A"]
    assert to_tags([Span(0, 3, "A")], 4, "bioes") == ["B-A", "I-A", "E-A", "O"]
    assert is_valid([], "bio") and not is_valid(["I-A"], "bio") and not is_valid(["B-A", "I-A"], "bioes")
    assert is_valid(["B-A", "E-A"], "bioes") and not is_valid(["B-A", "B-A"], "iob1") and is_valid(["I-A", "B-A"], "iob1")
    with pytest.raises(ConfigError, match="tag scheme 'xyz'"):
        check_scheme("xyz")


def test_tags_that_are_not_chunk_tags_are_unconstrained() -> None:
    start, trans, end = allowed_transitions(["NOUN", "B-A", "I-A"], "bio")
    assert start.tolist() == [True, True, False] and end.all()
    assert trans[0].tolist() == [True, True, True] and trans[:, 0].all()  # I-A may follow NOUN: no chunk rule applies
