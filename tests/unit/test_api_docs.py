"""The Python API as docs/api.md shows it: every example runs and prints what it says, for every archive kind."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import treeseq
from treeseq.errors import CheckpointError, ConfigError, CorpusFormatError

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "corpora" / "samples"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def workdir(docs_folder: Callable[[str], Path]) -> Path:  # docs_folder: tests/unit/conftest.py
    """A folder with runs/ (one small model of each kind, trained through the API) and corpora/."""
    return docs_folder("api")


def test_every_example_in_docs_api_runs(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = BLOCK.findall((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 7
    monkeypatch.chdir(workdir)
    namespace: dict = {}
    for number, code in enumerate(blocks, start=1):
        exec(compile(code, f"docs/api.md example {number}", "exec"), namespace)  # noqa: S102 (our own docs)
    assert (workdir / "tree.svg").read_text(encoding="utf-8").startswith("<svg")
    archives = [p for p in (workdir / "runs").glob("*.pt") if not p.name.endswith(".last.pt") and ".epoch" not in p.name]
    # the docs train demo.pt, the intents ensemble (its archive and two members) and an averaged archive
    assert sorted(treeseq.load(p).family for p in archives) == ["classifier"] * 5 + ["lm", "parser", "tagger", "tagger", "translator", "tree", "tree"]
    assert sorted(p.name for p in (workdir / "runs").glob("intents.seed*.epoch*.pt")) == [
        "intents.seed1.epoch2.pt", "intents.seed1.epoch3.pt", "intents.seed2.epoch2.pt", "intents.seed2.epoch3.pt"]


def test_results_follow_the_input_order_and_match_the_jsonl_records(workdir: Path) -> None:
    model = treeseq.load(workdir / "runs" / "sst.pt")
    texts = ["A dull plot.", "The film is not bad at all.", "Fun."]
    one_by_one = [model.predict([t])[0].to_dict() for t in texts]
    assert [r.to_dict() for r in model.predict(texts)] == one_by_one
    assert [r["text"] for r in one_by_one] == texts
    for record in one_by_one:  # offsets point at the words in the input
        assert [record["text"][n["start"] : n["end"]] for n in record["nodes"] if n["span"][1] - n["span"][0] == 1] == record["words"]


def test_predict_iter_reads_at_most_one_batch_ahead(workdir: Path) -> None:
    tagger = treeseq.load(workdir / "runs" / "ewt.pt")
    consumed = 0

    def lines():  # noqa: ANN202
        nonlocal consumed
        for index in itertools.count():
            consumed += 1
            yield f"the cat sat {index}\n"

    stream = tagger.predict_iter(lines(), batch_size=8)
    first = next(stream)
    assert first.text == "the cat sat 0" and consumed <= 8
    rest = [next(stream) for _ in range(20)]
    assert [r.text for r in rest] == [f"the cat sat {i}" for i in range(1, 21)] and consumed <= 24
    assert [r.to_dict() for r in tagger.predict_iter(["a b", "c"], batch_size=1)] == [r.to_dict() for r in tagger.predict(["a b", "c"])]


def test_load_and_train_refuse_what_they_cannot_use(workdir: Path, tmp_path: Path) -> None:
    runs = workdir / "runs"
    with pytest.raises(CheckpointError, match="expected a 'translator' model"):
        treeseq.load(runs / "ewt.pt", family="translator")
    with pytest.raises(ConfigError, match="workers applies to tree and parser models; this is a tagger model"):
        treeseq.load(runs / "ewt.pt", workers=2)
    with pytest.raises(CheckpointError, match="not a treeseq model archive"):
        (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
        treeseq.load(tmp_path / "notes.txt")
    with pytest.raises(ConfigError, match="unknown option 'hiden_size'"):
        treeseq.train("tagger", SAMPLES / "pos", tmp_path / "x.pt", hiden_size=3)
    with pytest.raises(ConfigError, match="unknown model family"):
        treeseq.train("ngram", SAMPLES / "pos", tmp_path / "x.pt")
    with pytest.raises(CorpusFormatError, match=r"<input>:2: no tokens"):
        treeseq.load(runs / "sst.pt").predict(["Good.", "  "])


def test_import_treeseq_loads_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, treeseq; treeseq.Tree; treeseq.TreeResult; print(any(m.split('.')[0] in ('torch', 'spacy', 'matplotlib') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ})
    assert done.stdout.strip() == "False"
