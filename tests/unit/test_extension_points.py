"""A corpus layout registered from outside the package: a tagger trains on it, evaluates and tags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import treeseq
from treeseq.corpora.readers.tagging import TAGGING_FORMATS, ReadOptions, Split, register_tagging_format
from treeseq.data.tagging import TaggedSentence
from treeseq.errors import ConfigError

SENTENCES = ["The/DET cat/NOUN sat/VERB ./PUNCT", "A/DET dog/NOUN ran/VERB ./PUNCT", "The/DET dog/NOUN sat/VERB ./PUNCT",
             "A/DET cat/NOUN ran/VERB ./PUNCT"] * 6  # fmt: skip


def read_slashes(path: Path, options: ReadOptions) -> Split:
    """word/TAG pairs, a sentence a line."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        pairs = [item.rsplit("/", 1) for item in line.split()]
        out.append(TaggedSentence(tuple(w for w, _ in pairs), tuple(t for _, t in pairs), None, f"{path}:{number}"))
    return Split("slashes", path, out)


@pytest.fixture
def slashes() -> Iterator[None]:
    find = lambda folder, name: folder / f"{name}.slash" if (folder / f"{name}.slash").is_file() else None  # noqa: E731
    register_tagging_format("slashes", find, read_slashes, "{split}.slash")
    yield
    del TAGGING_FORMATS["slashes"]


def test_a_registered_corpus_layout_trains_evaluates_and_tags(slashes: None, tmp_path: Path) -> None:
    data = tmp_path / "corpus"
    data.mkdir()
    for split in ("train", "dev"):
        (data / f"{split}.slash").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    treeseq.train("tagger", data, tmp_path / "m.pt", epochs=12, hidden_size=16, lr=0.02, progress=False, device="cpu")
    report = treeseq.evaluate(tmp_path / "m.pt", data)
    assert report.info["sentences"] == len(SENTENCES) and report.metrics["acc"] == 100.0
    tagged = treeseq.load(tmp_path / "m.pt", "cpu").predict(["A dog sat ."], tokenized=True)[0]
    assert list(tagged.tags) == ["DET", "NOUN", "VERB", "PUNCT"]


def test_a_taken_name_is_refused(slashes: None) -> None:
    with pytest.raises(ConfigError, match="tagging format 'slashes' is already registered"):
        register_tagging_format("slashes", lambda d, n: None, read_slashes, "{split}.slash")


def test_a_missing_split_names_every_layout(slashes: None, tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"no train split \(expected \*-ud-train.conllu, train/seq.in \+ seq.out \+ label, "
                                         r"train.jsonl, train.conll or train.slash\)"):  # fmt: skip
        treeseq.train("tagger", tmp_path, tmp_path / "m.pt", epochs=1, progress=False)
