"""The Kneser-Ney n-gram baseline: proper distributions over the whole vocabulary for every order and
discount rule, equal to a slow reference written straight from the formulas, and the hand-checkable cases.

NLTK's `nltk.lm.KneserNeyInterpolated` is not compared with: it defines a different model. Its lowest
order is the continuation-count unigram with no discount and no uniform floor (unseen words get 0), it
pads both sentence ends with order-1 tokens and counts the n-grams that end in padding, and it has one
fixed discount (0.1 by default) and no modified discounts. No context gives the same numbers by definition."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from typing import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treeseq.errors import ConfigError, TreeseqError
from treeseq.ngram import KneserNey, estimate_discounts

BOS, EOS, UNK = "<s>", "<eos>", "<unk>"
VARIANTS = [{}, {"modified": False}, {"discount": 0.75}, {"discount": 1.0}, {"discount": 0.3}]
UNSEEN_CONTEXTS = [["zzz"], ["a", "zzz"], ["zzz", "a", "b"], [EOS], [EOS, "a"], [BOS, "a"], [BOS] * 6,
                   ["b", "a", "c", "zzz", "d", "a"], [UNK, UNK], ["d", "d", "d", "d"]]  # fmt: skip
FIXED = [["the", "cat", "sat", "on", "the", "mat"]] * 3 + [
    ["a", "dog", "sat", "on", "a", "log"], ["the", "dog", "ran"], ["a", "cat", "ran", "on", "the", "mat"],
    ["the", "cat", "ran"], ["a", "dog", "sat"], ["the", "cat", "sat"], ["the", "cat", "sat"], [UNK, "sat"], [],
]  # fmt: skip
# small enough for the reference; reaches the modified estimate at orders 2-5 and the fallbacks at some
MIXED = [["a", "c", "c", "c"], ["d", "a"], ["d", "c", "d", "c"], ["a", "a"], ["b", "a"], ["a"], ["d", "a"], ["c"],
         ["b"], ["a"]]  # fmt: skip

corpora = st.lists(st.lists(st.sampled_from(["a", "b", "c", "d", UNK]), max_size=6), min_size=1, max_size=6)


# ---------------------------------------------------------------- the reference: slow, recursive, no caching


def reference_discounts(of: Counter[int], modified: bool, discount: float | None) -> tuple[float, float, float]:
    """The module docstring's rule, written again from its text."""
    if discount is not None:
        return discount, discount, discount
    n1, n2, n3, n4 = of[1], of[2], of[3], of[4]
    if n1 == 0 or n2 == 0:
        return (0.5, 1.0, 1.5) if modified else (0.75, 0.75, 0.75)
    y = n1 / (n1 + 2 * n2)
    if modified and n3 and n4:
        d1, d2, d3 = 1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3
        if d1 > 0 and d2 > 0 and d3 > 0:
            return d1, d2, d3
    return y, y, y


def reference_prob(sentences: Sequence[Sequence[str]], order: int, token: str, context: Sequence[str],
                   modified: bool = True, discount: float | None = None) -> float:  # fmt: skip
    """P(token | context) by Chen & Goodman's recursion, every count recounted from the occurrences."""
    vocab = {t for s in sentences for t in s} | {EOS, UNK}
    token = token if token in vocab else UNK
    m = order - 1
    tail = [t if t in vocab or t == BOS else UNK for t in context][max(0, len(context) - m) :] if m else []
    history = tuple([BOS] * (m - len(tail)) + tail)
    occurrences = []  # every n-gram of the highest order that ends on a predicted token
    for s in sentences:
        padded = [BOS] * m + list(s) + [EOS]
        occurrences += [tuple(padded[j - m : j + 1]) for j in range(m, len(padded))]

    def count(gram: tuple[str, ...]) -> int:
        k = len(gram)
        if k == order:
            return sum(occ == gram for occ in occurrences)
        return len({occ[-k - 1] for occ in occurrences if occ[-k:] == gram})  # N1+(. gram)

    def discounts(k: int) -> tuple[float, float, float]:
        grams = {occ[-k:] for occ in occurrences}
        return reference_discounts(Counter(count(g) for g in grams), modified, discount)

    def d(k: int, c: int) -> float:
        return 0.0 if c == 0 else discounts(k)[min(c, 3) - 1]

    def p(k: int, h: tuple[str, ...], w: str) -> float:
        if k == 0:
            return 1 / len(vocab)
        total = sum(count(h + (v,)) for v in vocab)
        if total == 0:
            return p(k - 1, h[1:], w)
        alpha = max(count(h + (w,)) - d(k, count(h + (w,))), 0) / total
        gamma = sum(d(k, count(h + (v,))) for v in vocab) / total
        return alpha + gamma * p(k - 1, h[1:], w)

    return p(order, history, token)


def training_contexts(sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Every context a training token is predicted from (sentence start included), once each."""
    seen = {tuple(s[:i]) for s in sentences for i in range(len(s) + 1)}
    return [list(c) for c in sorted(seen)]


# ---------------------------------------------------------------- proper distributions


def check_distributions(sentences: Sequence[Sequence[str]], order: int, options: dict) -> None:
    model = KneserNey(order, **options).fit(sentences)
    vocab = sorted(model.vocabulary)
    for context in training_contexts(sentences) + UNSEEN_CONTEXTS:
        probs = [model.prob(w, context) for w in vocab]
        assert all(p > 0 for p in probs), (context, probs)
        assert math.fsum(probs) == pytest.approx(1.0, abs=1e-9), context


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("options", VARIANTS)
def test_every_context_sums_to_one_on_a_fixed_corpus(order: int, options: dict) -> None:
    check_distributions(FIXED, order, options)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpora, st.integers(1, 5), st.sampled_from(VARIANTS))
def test_every_context_sums_to_one_on_random_corpora(sentences: list[list[str]], order: int, options: dict) -> None:
    check_distributions(sentences, order, options)


# ---------------------------------------------------------------- the reference


def compare_with_reference(sentences: Sequence[Sequence[str]], order: int, options: dict) -> None:
    model = KneserNey(order, **options).fit(sentences)
    for context in training_contexts(sentences) + UNSEEN_CONTEXTS[:5]:
        for w in sorted(model.vocabulary) + ["zzz"]:
            expected = reference_prob(sentences, order, w, context, **options)
            assert model.prob(w, context) == pytest.approx(expected, abs=1e-12, rel=0), (context, w)


@pytest.mark.parametrize(("order", "options"), [(1, {}), (2, {}), (3, {}), (4, {}), (5, {}), (3, {"modified": False}),
                                                (4, {"discount": 0.75})])  # fmt: skip
def test_the_fast_model_equals_the_reference(order: int, options: dict) -> None:
    compare_with_reference(MIXED, order, options)
    if not options and order > 1:
        assert KneserNey(order).fit(MIXED).discount_sources[1] == "modified"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(["a", "b", "c", UNK]), max_size=5), min_size=1, max_size=5),
       st.integers(1, 5), st.sampled_from(VARIANTS))  # fmt: skip
def test_the_reference_on_random_corpora(sentences: list[list[str]], order: int, options: dict) -> None:
    compare_with_reference(sentences, order, options)


# ---------------------------------------------------------------- hand-checked cases


def test_discount_estimates() -> None:
    d, source = estimate_discounts(10, 5, 3, 2)
    assert source == "modified"
    assert d == pytest.approx((0.5, 2 - 3 * 0.5 * 3 / 5, 3 - 4 * 0.5 * 2 / 3))
    assert estimate_discounts(10, 5, 3, 2, modified=False) == ((0.5, 0.5, 0.5), "single")
    assert estimate_discounts(10, 5, 0, 2) == ((0.5, 0.5, 0.5), "single")  # D3+ undefined
    assert estimate_discounts(10, 5, 3, 0) == ((0.5, 0.5, 0.5), "single")
    assert estimate_discounts(1, 1, 5, 1) == ((1 / 3,) * 3, "single")  # D2 = 2 - 3 (1/3) 5 < 0
    assert estimate_discounts(0, 4, 3, 2) == ((0.5, 1.0, 1.5), "fallback")
    assert estimate_discounts(3, 0, 0, 0) == ((0.5, 1.0, 1.5), "fallback")
    assert estimate_discounts(3, 0, 0, 0, modified=False) == ((0.75,) * 3, "fallback")


def test_order_one_is_the_discounted_unigram_interpolated_with_uniform() -> None:
    # raw counts a 4, b 3, c 2, d 1, eos 4 (N = 14): n1..n4 = 1, 1, 1, 2
    sentences = [["a"], ["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d"]]
    model = KneserNey(1).fit(sentences)
    y = Fraction(1, 3)
    d = {1: 1 - 2 * y, 2: 2 - 3 * y, 3: 3 - 4 * y * 2}
    assert model.discounts == [pytest.approx(tuple(float(d[r]) for r in (1, 2, 3)))]
    counts = {"a": 4, "b": 3, "c": 2, "d": 1, EOS: 4, UNK: 0}
    total = 14
    gamma = sum(d[min(c, 3)] for c in counts.values() if c) / total
    for w, c in counts.items():
        expected = (c - d[min(c, 3)] if c else 0) / total + gamma * Fraction(1, len(counts))
        for context in ([], ["a"], ["zzz", "b"]):
            assert model.prob(w, context) == pytest.approx(float(expected), rel=1e-14)
    assert model.prob("zzz", []) == model.prob(UNK, [])
    fixed = KneserNey(1, discount=0.5).fit(sentences)
    assert fixed.prob("a", []) == pytest.approx((4 - 0.5) / 14 + 0.5 * 5 / 14 / 6, rel=1e-14)


def test_perplexity_of_a_repeated_sentence_falls_with_the_order() -> None:
    target = FIXED[0]
    for options in VARIANTS[:3]:
        ppl = [KneserNey(n, **options).fit(FIXED).perplexity([target]) for n in range(1, 6)]
        assert all(a > b for a, b in zip(ppl, ppl[1:])), (options, ppl)


def test_perplexity_is_exp_of_the_mean_negative_logprob() -> None:
    model = KneserNey(3).fit(FIXED)
    test = [["the", "dog", "sat", "on", "the", "log"], ["zzz", "cat"], []]
    total, count = 0.0, 0
    for s in test:
        by_hand = sum(model.logprob(s[i], s[:i]) for i in range(len(s))) + model.logprob(EOS, s)
        logprob, predicted = model.sentence_logprob(s)
        assert predicted == len(s) + 1
        assert logprob == pytest.approx(by_hand, abs=1e-12)
        total, count = total + by_hand, count + len(s) + 1
    assert model.perplexity(test) == pytest.approx(math.exp(-total / count), rel=1e-12)
    assert math.isnan(model.perplexity([]))


def test_vocabulary_unknown_tokens_and_contexts() -> None:
    sentences = [["a", "b"], ["b", "c"]]
    model = KneserNey(3).fit(sentences)
    assert model.vocabulary == {"a", "b", "c", EOS, UNK}
    assert model.prob("zzz", ["a"]) == model.prob(UNK, ["a"]) > 0  # unk never seen: the uniform floor
    assert model.prob(BOS, ["a"]) == model.prob(UNK, ["a"])  # bos is never predicted
    assert model.prob("b", ["zzz"]) == model.prob("b", [UNK])
    assert model.prob("b", ["a"]) == model.prob("b", [BOS, "a"])  # a short context starts a sentence
    assert model.prob("c", ["x", "a", "b"]) == model.prob("c", ["a", "b"]) != model.prob("c", [BOS, "b"])
    assert model.logprob("c", ["b"]) == math.log(model.prob("c", ["b"]))
    refit = KneserNey(3).fit([["d"]])
    assert refit.vocabulary == {"d", EOS, UNK}
    empty = KneserNey(2).fit([])
    assert empty.prob(EOS, []) == empty.prob(UNK, ["x"]) == 0.5


def test_bad_options_and_states() -> None:
    for options in ({"order": 0}, {"discount": 0.0}, {"discount": 1.5}, {"eos": UNK}):
        with pytest.raises(ConfigError):
            KneserNey(**options)
    with pytest.raises(TreeseqError, match="not fitted"):
        KneserNey().prob("a", [])
    with pytest.raises(TreeseqError, match="bos"):
        KneserNey().fit([["a", BOS, "b"]])
