"""Write the project's small sample corpora (deterministic): `python -m treeseq.corpora.samples.make_samples`.

sentiment/: an SST-format treebank from a tiny compositional grammar. Every node carries a 0-4
sentiment label computed by rules a tree model can learn from structure: negation flips polarity
("not bad" is mildly positive), intensifiers push to the extremes, and after "but" the second clause
decides. Sentences are short and binary-branching, like SST's.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

ADJECTIVES = {
    "awful": 0, "terrible": 0, "dreadful": 0, "bad": 1, "dull": 1, "boring": 1, "weak": 1,
    "long": 2, "new": 2, "french": 2, "quiet": 2,
    "good": 3, "charming": 3, "funny": 3, "solid": 3, "great": 4, "brilliant": 4, "wonderful": 4,
}  # fmt: skip
NOUNS = ("film", "movie", "plot", "acting", "story", "cast", "script", "ending", "score", "director")
DETERMINERS = ("The", "This", "That")
VERBS = ("is", "was", "seems", "feels")
INTENSIFIERS = ("very", "really", "truly")
NEGATIONS = ("not", "never")


def negate(score: int) -> int:
    """Negation flips polarity and softens it: not awful -> 3, not great -> 1, neutral stays."""
    return {0: 3, 1: 3, 2: 2, 3: 1, 4: 1}[score]


def intensify(score: int) -> int:
    return {0: 0, 1: 0, 2: 2, 3: 4, 4: 4}[score]


def node(label: int, *children: str) -> str:
    return f"({label} {' '.join(children)})"


def adjective_phrase(rng: random.Random) -> tuple[str, int]:
    word = rng.choice(sorted(ADJECTIVES))
    score = ADJECTIVES[word]
    phrase = node(score, word)
    if rng.random() < 0.35:
        score = intensify(score)
        phrase = node(score, node(2, rng.choice(INTENSIFIERS)), phrase)
    if rng.random() < 0.4:
        score = negate(score)
        phrase = node(score, node(2, rng.choice(NEGATIONS)), phrase)
    return phrase, score


def clause(rng: random.Random, capital: bool) -> tuple[str, int]:
    det = rng.choice(DETERMINERS)
    det = det if capital else det.lower()
    subject = node(2, node(2, det), node(2, rng.choice(NOUNS)))
    adjp, score = adjective_phrase(rng)
    predicate = node(score, node(2, rng.choice(VERBS)), adjp)
    return node(score, subject, predicate), score


def sentence(rng: random.Random) -> str:
    first, score = clause(rng, capital=True)
    if rng.random() < 0.25:
        second, second_score = clause(rng, capital=False)
        but = node(second_score, node(2, "but"), second)
        first, score = node(second_score, first, but), second_score
    return node(score, first, node(2, "."))


def unlabelled(tree: str) -> str:
    """The same brackets with every label replaced by X, as a user would give them to `classify`."""
    return " ".join("(X" if part.startswith("(") else part for part in tree.split(" "))


def write_sentiment(folder: Path, seed: int = 13) -> None:
    rng = random.Random(seed)
    seen: set[str] = set()
    trees: list[str] = []
    while len(trees) < 700:
        tree = sentence(rng)
        if tree not in seen:
            seen.add(tree)
            trees.append(tree)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n".join(trees[:500]) + "\n", encoding="utf-8")
    (folder / "dev.txt").write_text("\n".join(trees[500:600]) + "\n", encoding="utf-8")
    (folder / "test.txt").write_text("\n".join(trees[600:]) + "\n", encoding="utf-8")
    (folder / "examples.txt").write_text("\n".join(unlabelled(t) for t in DEMO) + "\n", encoding="utf-8")


DEMO = (  # for the README's demo: negation, intensifiers and "but" at work
    "(3 (3 (2 (2 The) (2 acting)) (3 (2 is) (3 (2 not) (1 bad)))) (2 .))",
    "(0 (0 (2 (2 This) (2 plot)) (0 (2 was) (0 (2 really) (1 dull)))) (2 .))",
    "(4 (4 (3 (2 (2 The) (2 story)) (3 (2 is) (3 funny))) (4 (2 but) (4 (2 (2 the) (2 cast)) (4 (2 is) (4 brilliant))))) (2 .))",
)


if __name__ == "__main__":
    write_sentiment(HERE / "sentiment")
    from treeseq.corpora.samples.make_tagging_samples import write_tagging_samples

    write_tagging_samples()
    from treeseq.corpora.samples.make_parallel_samples import write_parallel

    write_parallel()
