"""Interpolated Kneser-Ney n-gram language models, the count-based baseline that the recurrent language
models are compared with. Pure Python (no torch): integer ids inside, n-grams as tuple keys of plain dicts.

Definitions (Chen & Goodman 1998, "An empirical study of smoothing techniques for language modeling",
sections 2.7 and 3). With c_k the counts of order k and h a context of k-1 tokens,

    P_k(w | h) = max(c_k(hw) - D_k(c_k(hw)), 0) / c_k(h.) + gamma_k(h) * P_{k-1}(w | h')
    gamma_k(h) = (D_k1 N1(h.) + D_k2 N2(h.) + D_k3+ N3+(h.)) / c_k(h.)

where h' is h without its first token, c_k(h.) the sum of c_k(hw) over w and N_r(h.) the number of w with
c_k(hw) = r (N3+: r >= 3). c_k is the raw count at the highest order and the continuation count
N1+(.hw), the number of distinct tokens seen right before hw, at every order below it. A context never
seen at order k (c_k(h.) = 0) leaves the estimate of order k-1 unchanged, and P_0 is the uniform
distribution over the vocabulary (the training types, eos and unk), so every token gets some probability,
unk included when it never occurs in training.

Discounts, one set per order, from the count-of-counts n1..n4 of that order's counts c_k:
  * modified (default): Y = n1 / (n1 + 2 n2), D1 = 1 - 2Y n2/n1, D2 = 2 - 3Y n3/n2, D3+ = 3 - 4Y n4/n3;
  * plain (`modified=False`): one discount D = Y for every count (Ney, Essen & Kneser 1994);
  * fixed (`discount=0.75`): that one discount at every order, as in the original interpolated KN.
Fallback (tiny corpora): when n3 or n4 is 0, or D2 or D3+ comes out <= 0, the modified estimate is
replaced by the single Y for all three; when n1 or n2 is 0, Y itself is undefined or 0 or 1 and the order
takes fixed discounts, (0.5, 1.0, 1.5) for modified (KenLM's --discount_fallback values) and 0.75 for
plain. Every discount thus lies in (0, r] for count r, so probabilities are positive and sum to 1.
`discount_sources` says which rule each order used.

Each sentence is padded on the left with order-1 bos tokens and ends with eos, which is predicted;
bos is only ever context, never predicted.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

from treeseq.errors import ConfigError, TreeseqError

Ngram = tuple[int, ...]
Discounts = tuple[float, float, float]
FALLBACK_MODIFIED = (0.5, 1.0, 1.5)
FALLBACK_PLAIN = 0.75
BOS_ID, EOS_ID, UNK_ID = 0, 1, 2


def estimate_discounts(n1: int, n2: int, n3: int, n4: int, modified: bool = True) -> tuple[Discounts, str]:
    """(D1, D2, D3+) from the count-of-counts of one order, and the rule used: "modified", "single" or
    "fallback" (see the module docstring). A plain (not modified) estimate repeats one value three times."""
    if n1 > 0 and n2 > 0:
        y = n1 / (n1 + 2 * n2)
        if modified and n3 > 0 and n4 > 0:
            d = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
            if d[0] > 0 and d[1] > 0 and d[2] > 0:  # upper bounds hold by construction
                return d, "modified"
        return (y, y, y), "single"
    if modified:
        return FALLBACK_MODIFIED, "fallback"
    return (FALLBACK_PLAIN,) * 3, "fallback"


class KneserNey:
    """An interpolated (modified) Kneser-Ney n-gram model over string tokens; see the module docstring.

    Args:
        order: n, the longest n-gram (1 = unigram interpolated with uniform).
        modified: three discounts per order (Chen & Goodman) rather than one.
        discount: a fixed discount in (0, 1] for every order and count; overrides `modified`.
        bos, eos, unk: the padding, end-of-sentence and unknown tokens (three different strings).
    """

    def __init__(self, order: int = 5, *, modified: bool = True, discount: float | None = None,
                 bos: str = "<s>", eos: str = "<eos>", unk: str = "<unk>") -> None:  # fmt: skip
        if order < 1:
            raise ConfigError(f"an n-gram order is at least 1, not {order}")
        if discount is not None and not 0 < discount <= 1:
            raise ConfigError(f"a fixed Kneser-Ney discount lies in (0, 1], not {discount}")
        if len({bos, eos, unk}) != 3:
            raise ConfigError(f"bos, eos and unk must differ: {bos!r}, {eos!r}, {unk!r}")
        self.order, self.modified, self.discount = order, modified, discount
        self.bos, self.eos, self.unk = bos, eos, unk
        self._ids: dict[str, int] = {}
        self._alpha: list[dict[Ngram, float]] = []  # per order k-1: discounted count / context total
        self._gamma: list[dict[Ngram, float]] = []  # per order k-1: back-off weight of each seen context
        self._uniform = 0.0
        self.discounts: list[Discounts] = []  # per order k-1: (D1, D2, D3+)
        self.discount_sources: list[str] = []  # per order k-1: "fixed", "modified", "single" or "fallback"

    def fit(self, sentences: Iterable[Sequence[str]]) -> KneserNey:
        """Count every sentence (a list of tokens) and estimate the model; returns the model.

        Raises:
            TreeseqError: a sentence contains the bos token.
        """
        n = self.order
        ids = {self.bos: BOS_ID, self.eos: EOS_ID, self.unk: UNK_ID}
        counts: Counter[Ngram] = Counter()
        pad = [BOS_ID] * (n - 1)
        for sentence in sentences:
            row = pad.copy()
            for token in sentence:
                i = ids.get(token)
                if i is None:
                    i = ids[token] = len(ids)
                elif i == BOS_ID:
                    raise TreeseqError(f"the bos token {self.bos!r} occurs inside a training sentence")
                row.append(i)
            row.append(EOS_ID)
            counts.update(zip(*(row[k:] for k in range(n))))  # the n-grams that end on a predicted token
        self._ids = ids
        self._uniform = 1.0 / (len(ids) - 1)  # bos is never predicted
        alphas, gammas, discounts, sources = [], [], [], []
        for k in range(n, 0, -1):
            if k < n:  # continuation counts N1+(.g) from the distinct n-grams one order up
                counts = Counter(g[1:] for g in counts)
            alpha, gamma, d, source = self._estimate(counts)
            alphas.append(alpha)
            gammas.append(gamma)
            discounts.append(d)
            sources.append(source)
            counts = alpha  # same keys (the values are now alphas): all the next order needs
        self._alpha, self._gamma = alphas[::-1], gammas[::-1]
        self.discounts, self.discount_sources = discounts[::-1], sources[::-1]
        return self

    def _estimate(self, counts: Counter[Ngram]) -> tuple[dict[Ngram, float], dict[Ngram, float], Discounts, str]:
        """One order: its discounts, the back-off weight of every context and, reusing `counts` in place,
        the discounted share of every n-gram."""
        if self.discount is not None:
            d, source = (self.discount,) * 3, "fixed"
        else:
            of = Counter(counts.values())
            d, source = estimate_discounts(of[1], of[2], of[3], of[4], self.modified)
        by_count = (0.0, d[0], d[1], d[2])
        totals: dict[Ngram, int] = {}
        mass: dict[Ngram, float] = {}
        for g, c in counts.items():
            h = g[:-1]
            totals[h] = totals.get(h, 0) + c
            mass[h] = mass.get(h, 0.0) + by_count[c if c < 3 else 3]
        for g, c in counts.items():  # values replaced, keys kept: no resizing
            counts[g] = (c - by_count[c if c < 3 else 3]) / totals[g[:-1]]
        gamma = {h: m / totals[h] for h, m in mass.items()}
        return counts, gamma, d, source  # type: ignore[return-value] (a Counter of floats now)

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every token the model predicts: the training types, eos and unk (never bos)."""
        if not self._ids:
            return frozenset({self.eos, self.unk})
        return frozenset(t for t, i in self._ids.items() if i != BOS_ID)

    def _check(self) -> None:
        if not self._ids:
            raise TreeseqError("the n-gram model is not fitted: call fit() first")

    def _token_id(self, token: str) -> int:
        i = self._ids.get(token, UNK_ID)
        return UNK_ID if i == BOS_ID else i

    def _context_ids(self, context: Sequence[str]) -> Ngram:
        """The last order-1 tokens as ids (unseen ones as unk), padded on the left with bos."""
        m = self.order - 1
        if m == 0:
            return ()
        tail = [self._ids.get(t, UNK_ID) for t in list(context)[-m:]]
        return (BOS_ID,) * (m - len(tail)) + tuple(tail)

    def _prob(self, context: Ngram, w: int) -> float:
        """P(w | context), with a context of exactly order-1 ids."""
        p = self._uniform
        n = self.order
        for k, (alpha, gamma) in enumerate(zip(self._alpha, self._gamma), 1):
            h = context[n - k :]
            g = gamma.get(h)
            if g is None:  # unseen here, so at every higher order too
                break
            p = alpha.get(h + (w,), 0.0) + g * p
        return p

    def prob(self, token: str, context: Sequence[str]) -> float:
        """P(token | the last order-1 tokens of context). An unknown token is scored as unk; unknown
        context tokens count as unk; a shorter context is padded with bos, as at a sentence start."""
        self._check()
        return self._prob(self._context_ids(context), self._token_id(token))

    def logprob(self, token: str, context: Sequence[str]) -> float:
        """Natural log of `prob`."""
        return math.log(self.prob(token, context))

    def sentence_logprob(self, tokens: Sequence[str]) -> tuple[float, int]:
        """Sum of the natural-log probabilities of every token and the final eos, and their number
        (len(tokens) + 1)."""
        self._check()
        m = self.order - 1
        ids = self._ids
        context = [BOS_ID] * m + [ids.get(t, UNK_ID) for t in tokens]  # as `prob` reads a context
        predicted = [self._token_id(t) for t in tokens] + [EOS_ID]
        total = 0.0
        for j, w in enumerate(predicted):
            total += math.log(self._prob(tuple(context[j : j + m]), w))
        return total, len(predicted)

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """exp(-total log probability / number of predicted tokens), eos included; nan with no sentences."""
        total, count = 0.0, 0
        for sentence in sentences:
            lp, c = self.sentence_logprob(sentence)
            total, count = total + lp, count + c
        return math.exp(-total / count) if count else float("nan")
