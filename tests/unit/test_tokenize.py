from __future__ import annotations

import pytest

from treeseq.corpora.readers.ptb import read_trees
from treeseq.tokenize import clean_text, detokenize, raw_form, tokenize

SAMPLE_TREES = [
    "(3 (2 It) (4 (2 (2 's) (3 (2 a) (3 well-acted) (2 film))) (2 .)))",
    "(1 (2 I) (1 (2 (2 ca) (2 n't)) (2 (2 stand) (2 (2 -LRB-) (2 (2 or) (2 (2 sit) (2 -RRB-)))))))",
    "(2 (2 ``) (2 (2 Writer\\/director) (2 (2 '') (2 (2 Smith) (2 (2 's) (2 ...))))))",
    "(2 (2 The) (2 (2 `) (2 (2 quiet) (2 (2 ') (2 (2 '70s) (2 (2 --) (2 (2 cannot) (2 ?))))))))",
]


@pytest.mark.parametrize("brackets", SAMPLE_TREES)
def test_detokenized_treebank_sentences_tokenize_back(brackets: str) -> None:
    from treeseq.trees import Tree

    tokens = list(Tree.from_brackets(brackets).tokens)
    if "cannot" in tokens:  # spaCy, like the PTB, splits `cannot`
        tokens[tokens.index("cannot") : tokens.index("cannot") + 1] = ["can", "not"]
    assert tokenize(detokenize(tokens)) == tokens


def test_raw_text_gets_treebank_conventions() -> None:
    assert tokenize('The film isn\'t "bad" (at all)… wo n\'t') == [
        "The", "film", "is", "n't", "``", "bad", "''", "-LRB-", "at", "all", "-RRB-", "...", "wo", "n't",
    ]  # fmt: skip
    assert tokenize("It’s a low-budget sci-fi/comedy.") == ["It", "'s", "a", "low-budget", "sci-fi\\/comedy", "."]
    assert raw_form("-LRB-") == "(" and raw_form("``") == '"' and raw_form("a\\/b") == "a/b"


def test_control_characters_and_blank_text() -> None:
    assert clean_text("a\x00b\tc\u200bd") == "ab cd"
    assert tokenize("  \x07 ") == []
    assert tokenize("bad\x1b movie\r\n") == ["bad", "movie"]


def test_agreement_on_the_sample_treebank(sample_dir) -> None:  # type: ignore[no-untyped-def]
    trees = read_trees(sample_dir / "dev.txt")
    same = sum(tokenize(detokenize(t.tokens)) == list(t.tokens) for t in trees)
    assert same / len(trees) >= 0.97
