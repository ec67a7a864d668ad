"""`limit`: training and evaluating on a seeded random sample of a corpus's examples."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import treeseq
from treeseq.corpora.readers.ptb import read_trees
from treeseq.recipes.common import sample_limit

SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
QUIET = {"progress": False, "device": "cpu"}


@given(st.lists(st.integers(), max_size=40), st.integers(0, 50), st.integers(0, 2**32))
def test_a_sample_keeps_the_order_and_is_the_seeds(items: list[int], limit: int, seed: int) -> None:
    kept = sample_limit(items, limit, seed, "items", "x")
    if limit == 0 or limit >= len(items):
        assert kept == items
        return
    positions = sorted(random.Random(seed).sample(range(len(items)), limit))
    assert kept == [items[i] for i in positions] and len(kept) == limit
    assert kept == sample_limit(items, limit, seed, "items", "x")  # the seed's, every time


def test_train_tree_with_limit_3_trains_on_3_trees(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train = read_trees(SAMPLES / "sentiment" / "train.txt")
    with caplog.at_level(logging.INFO, logger="treeseq"):
        fit = treeseq.train("tree", SAMPLES / "sentiment", tmp_path / "m.pt", epochs=1, embed_dim=8, hidden_size=8,
                            limit=3, seed=5, **QUIET)  # fmt: skip
    assert fit.status == "finished"
    assert f"kept 3 of {len(train)} trees (a random sample, seed 5)" in caplog.text
    chosen = [train[i] for i in sorted(random.Random(5).sample(range(len(train)), 3))]
    words = {w for t in chosen for w in t.tokens}
    vocab = torch_load(tmp_path / "m.pt")["vocabs"]["words"]
    learned = set(vocab["itos"] if isinstance(vocab, dict) and "itos" in vocab else vocab)
    assert words <= learned and len(learned - words) <= 3  # the 3 trees' words and the special entries only


def torch_load(path: Path) -> dict:
    import torch

    return torch.load(path, weights_only=True)


def test_evaluate_with_limit_scores_the_same_as_those_examples_alone(tmp_path: Path) -> None:
    treeseq.train("tree", SAMPLES / "sentiment", tmp_path / "m.pt", epochs=1, embed_dim=8, hidden_size=8, **QUIET)
    model = treeseq.load(tmp_path / "m.pt", "cpu")
    lines = [line for line in (SAMPLES / "sentiment" / "dev.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    sliced = treeseq.evaluate(model, SAMPLES / "sentiment", limit=7)
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "dev.txt").write_text(
        "".join(lines[i] + "\n" for i in sorted(random.Random(0).sample(range(len(lines)), 7))), encoding="utf-8")
    alone = treeseq.evaluate(model, tmp_path / "only")
    assert sliced.info["sentences"] == 7 and sliced.metrics == alone.metrics


@pytest.mark.parametrize(("family", "folder", "options", "count"), [
    ("tagger", "pos", {"hidden_size": 8}, "sentences"),
    ("classifier", "nlu", {"hidden_size": 8}, "sentences"),
    ("parser", "sentiment", {"hidden_size": 8, "overrides": ["model.mlp_size=8", "model.embed_dim=8"]}, "sentences"),
    ("lm", "parallel", {"hidden_size": 8, "embed_dim": 8, "train_file": "train.en", "dev_file": "val.en", "head": 0,
                        "batch_size": 2, "bptt": 5}, "lines"),
])  # fmt: skip
def test_every_family_trains_and_evaluates_on_a_slice(family: str, folder: str, options: dict, count: str, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    with caplog.at_level(logging.INFO, logger="treeseq"):
        treeseq.train(family, SAMPLES / folder, tmp_path / "m.pt", epochs=1, limit=20, **options, **QUIET)
    assert "kept 20 of " in caplog.text
    split = "val.en" if family == "lm" else None
    report = treeseq.evaluate(tmp_path / "m.pt", SAMPLES / folder, split, limit=9)
    assert report.info[count] == 9


def test_a_classifier_slice_keeps_whole_sentences_with_their_phrases() -> None:
    from treeseq.corpora.readers.classification import Split
    from treeseq.data.classification import LabelledText
    from treeseq.recipes.classifier import limited_split

    items = []
    for line in range(1, 11):
        items.append(LabelledText(("a", "b"), "1", f"train.txt:{line}"))
        items += [LabelledText(("a",), "1", f"train.txt:{line}", phrase=True), LabelledText(("b",), "1", f"train.txt:{line}", phrase=True)]
    kept = limited_split(Split("sst", Path("train.txt"), items), 3, 7).items
    sentences = [item.where for item in kept if not item.phrase]
    assert len(sentences) == 3 and len(kept) == 9 and {item.where for item in kept} == set(sentences)
