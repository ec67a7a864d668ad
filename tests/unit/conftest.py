"""Small models of every family trained once for the whole run, and folders laid out as the docs assume.

The docs' examples (tests/unit/test_docs_examples.py, tests/unit/test_api_docs.py) run from a folder
holding `runs/` (these models), `corpora/` (this repository's), a copy of `docs/configs/` and, beside
it, `../shared/corpora/`, whose `sst`, `atis`, `ud-english-ewt`, `multi30k` and `multi30k-en` are the
project's samples in those corpora's layouts: the commands and paths the docs show for the real
corpora run unchanged.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "corpora" / "samples"

# the files a reader of the docs has at hand: raw English sentences, German sentences, CoNLL-U
INPUT_FILES = {
    "sentences.txt": "The film is not bad at all.\nA dull plot.\n\nIt's a lovely film.\n",
    "german.txt": (SAMPLES / "parallel" / "val.de").read_text(encoding="utf-8").splitlines(keepends=True)[:5],
    "in.conllu": None,  # the sample treebank's dev split, below
}


@pytest.fixture(scope="session")
def docs_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/ with one small model of each family, trained through the API on the samples (about 15 s)."""
    import treeseq

    runs = tmp_path_factory.mktemp("docs-models") / "runs"
    quiet = {"progress": False, "device": "cpu"}
    treeseq.train("parser", SAMPLES / "sentiment", runs / "parser.pt", epochs=2, hidden_size=24,
                  overrides=["model.mlp_size=24", "model.embed_dim=16", "model.char_out=16"], **quiet)  # fmt: skip
    treeseq.train("tree", SAMPLES / "sentiment", runs / "sst.pt", epochs=1, embed_dim=24, hidden_size=24,
                  parser=runs / "parser.pt", lowercase=True, **quiet)  # fmt: skip
    treeseq.train("tagger", SAMPLES / "pos", runs / "ewt.pt", epochs=1, hidden_size=16, word_dim=16, **quiet)
    treeseq.train("tagger", SAMPLES / "nlu", runs / "atis.pt", epochs=3, hidden_size=16, word_dim=16, **quiet)
    treeseq.train("translator", SAMPLES / "parallel", runs / "de-en.pt", epochs=1, hidden_size=24, embed_dim=24,
                  vocab_size=400, batch_size=600, lr=0.01, overrides=["data.dev_subset=10"], **quiet)  # fmt: skip
    treeseq.train("classifier", SAMPLES / "nlu", runs / "intent.pt", epochs=2, hidden_size=16, embed_dim=16, **quiet)
    treeseq.train("lm", SAMPLES / "parallel", runs / "lm.pt", train_file="train.en", dev_file="val.en", epochs=1,
                  hidden_size=16, embed_dim=16, batch_size=4, bptt=10, tokenized=True, **quiet)  # fmt: skip
    return runs


@pytest.fixture(scope="session")
def docs_folder(tmp_path_factory: pytest.TempPathFactory, docs_models: Path) -> Callable[[str], Path]:
    """A factory: docs_folder(name) is a new folder with runs/ (a copy of the models), corpora/, the
    input files the docs read, and ../shared/corpora/ mapped onto the samples."""
    base = tmp_path_factory.mktemp("docs")
    shared = base / "shared" / "corpora"
    shared.mkdir(parents=True)
    for name, sample in (("sst", "sentiment"), ("atis", "nlu"), ("ud-english-ewt", "pos"), ("multi30k", "parallel")):
        (shared / name).symlink_to(SAMPLES / sample)
    (shared / "multi30k-en").mkdir()
    (shared / "multi30k-en" / "train.txt").symlink_to(SAMPLES / "parallel" / "train.en")
    (shared / "multi30k-en" / "dev.txt").symlink_to(SAMPLES / "parallel" / "val.en")

    def make(name: str) -> Path:
        folder = base / name
        folder.mkdir()
        (folder / "corpora").symlink_to(ROOT / "corpora")
        shutil.copytree(ROOT / "docs" / "configs", folder / "docs" / "configs")  # a copy: examples write under docs/
        (folder / "docs" / "img").mkdir()
        shutil.copytree(docs_models, folder / "runs")
        for file_name, text in INPUT_FILES.items():
            if text is None:
                shutil.copy(SAMPLES / "pos" / "sample-ud-dev.conllu", folder / file_name)
            else:
                (folder / file_name).write_text("".join(text), encoding="utf-8")
        return folder

    return make
