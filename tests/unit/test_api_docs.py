"""The Python API as docs/api.md shows it: every example runs and prints what it says, for every archive kind."""

from __future__ import annotations

import ast
import contextlib
import io
import itertools
import math
import os
import re
from pathlib import Path

import pytest

import treeseq
from treeseq.errors import CheckpointError, ConfigError, CorpusFormatError
from treeseq.trees import Tree

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "corpora" / "samples"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with runs/ (one small model of each kind, trained through the API) and corpora/."""
    folder = tmp_path_factory.mktemp("api")
    (folder / "corpora").symlink_to(ROOT / "corpora")
    runs, quiet = folder / "runs", {"progress": False, "device": "cpu"}
    treeseq.train("parser", SAMPLES / "sentiment", runs / "parser.pt", epochs=2, hidden_size=24,
                  overrides=["model.mlp_size=24", "model.embed_dim=16", "model.char_out=16"], **quiet)  # fmt: skip
    treeseq.train("tree", SAMPLES / "sentiment", runs / "sst.pt", epochs=1, embed_dim=24, hidden_size=24,
                  parser=runs / "parser.pt", lowercase=True, **quiet)  # fmt: skip
    treeseq.train("tagger", SAMPLES / "pos", runs / "ewt.pt", epochs=1, hidden_size=16, word_dim=16, **quiet)
    treeseq.train("tagger", SAMPLES / "nlu", runs / "atis.pt", epochs=8, lr=0.01, hidden_size=16, word_dim=16, **quiet)  # finds slots
    treeseq.train("translator", SAMPLES / "parallel", runs / "de-en.pt", epochs=1, hidden_size=24, embed_dim=24,
                  vocab_size=400, batch_size=600, lr=0.01, overrides=["data.dev_subset=10"], **quiet)  # fmt: skip
    treeseq.train("classifier", SAMPLES / "nlu", runs / "intent.pt", epochs=2, hidden_size=16, embed_dim=16, **quiet)
    treeseq.train("lm", SAMPLES / "parallel", runs / "lm.pt", train_file="train.en", dev_file="val.en", epochs=1,
                  hidden_size=16, embed_dim=16, batch_size=4, bptt=10, tokenized=True, **quiet)  # fmt: skip
    return folder


SST = r"(very negative|negative|neutral|positive|very positive)"
PROB = r"(0|1)\.\d+"
NUMBER = r"-?\d+\.\d+"

# What each docs/api.md example prints, line by line (regular expressions matched in full): exact where
# the output does not depend on the trained weights (tokens, offsets, labels of the samples), in form
# where it does. `check_example_output` adds what the lines must say about each other and the input.
EXPECTED_LINES: dict[int, list[str]] = {
    1: [rf"{SST} {PROB}"],
    2: [rf"{SST} .+"] * 50,  # one per line of val.en, which has no blank line
    3: [re.escape("""('It', "'s", '-LRB-', 'really', '-RRB-', 'good', '.')"""),
        re.escape("""('It', "'s", '(', 'really', ')', 'good', '.')"""),
        re.escape("((0, 2), (2, 4), (5, 6), (6, 12), (12, 13), (14, 18), (18, 19))"),
        rf"{SST} {PROB} \(({PROB}, ){{4}}{PROB}\) 0 19",
        r"\([0-4] \([0-4] A\) \([0-4] \([0-4] good\) \([0-4] film\)\)\)"],
    4: [r"\(X .*\)", r"\[\(\d, \d\)(, \(\d, \d\))*\]"],
    5: [r"\[\('The', '[A-Z]+'\), \('cat', '[A-Z]+'\), \('sat', '[A-Z]+'\), \('on', '[A-Z]+'\), \('the', '[A-Z]+'\), "
        r"\('mat', '[A-Z]+'\), \('\.', '[A-Z]+'\)\]",
        rf"atis_\w+ {PROB} \[.*\]", rf"atis_\w+ {PROB} \[.*\]"],
    6: [rf"atis_\w+ {PROB} " + re.escape("('atis_airfare', 'atis_flight', 'atis_ground_service')")],
    7: [rf"{NUMBER} {NUMBER} .+", rf"{NUMBER} {NUMBER} .+", ".+", r"\d+ \d+"],
    8: [rf"\[{NUMBER}, {NUMBER}\] \[{NUMBER}, {NUMBER}\]", r"Two dogs.* (True|False)", r"Two dogs.* (True|False)",
        rf"\{{'ppl': {NUMBER}, 'bpc': {NUMBER}\}}"],
    9: [rf"finished {PROB}",
        rf"\{{'root_acc': {NUMBER}, 'phrase_acc': {NUMBER}, 'root_binary_acc': {NUMBER}, 'phrase_binary_acc': {NUMBER}\}}",
        r"\('very negative', \d+, \d+, \d+, \d+, \d+\)"],
}  # fmt: skip


def check_example_output(number: int, lines: list[str], namespace: dict) -> None:
    """What the printed lines of example `number` must say beyond their form."""
    if number == 2:  # results in input order, each with its own line's text
        inputs = (ROOT / "corpora" / "samples" / "parallel" / "val.en").read_text(encoding="utf-8").splitlines()
        assert [line.split(" ", 1)[1] for line in lines] == [text.strip() for text in inputs]
        assert all(line.split(" ", 1)[0] in namespace["model"].labels for line in lines)
    elif number == 3:  # the root's label is its most probable class, and its span the whole text
        label, prob, *rest = lines[3].split(" ", 2)
        probs = ast.literal_eval(lines[3][lines[3].index("(") : lines[3].index(")") + 1])
        assert float(prob) == max(probs) and label == namespace["model"].labels[probs.index(max(probs))]
    elif number == 4:  # a binary tree over the sentence's tokens, and its constituents of 2+ tokens
        tree = Tree.from_brackets(lines[0])
        assert tree.tokens == ("It", "'s", "a", "lovely", "film", ".") and tree.is_binary()
        spans = ast.literal_eval(lines[1])
        assert len(spans) == 5 and all(j - i >= 2 and 0 <= i < j <= 6 for i, j in spans)  # n - 1 inner nodes
    elif number == 5:  # slots: their text is the input's characters at their offsets
        assert {tag for _, tag in ast.literal_eval(lines[0])} <= set(namespace["pos"].labels)
        found = 0
        for line, text in zip(lines[1:], ["show flights from boston to denver tomorrow", "flights to dallas"]):
            for _, slot_text, start, end in ast.literal_eval(line[line.index("[") :]):
                assert text[start:end] == slot_text
                assert text[start - 1 : start].strip() == text[end : end + 1].strip() == ""  # whole words, not "oston"
                found += 1
        assert found  # the model found slots to check
    elif number == 7:  # n-best sorted by score, the best one's text is out.text, attention is target x source
        (first, *_), (second, *_) = (line.split(" ", 2) for line in lines[:2])
        assert float(first) >= float(second) and lines[0].split(" ", 2)[2] == lines[2]
        hyp = namespace["out"].hypotheses[0]
        assert lines[3] == f"{len(hyp.attention)} {len(namespace['out'].source_pieces)}" and len(hyp.attention[0]) == len(namespace["out"].source_pieces)
    elif number == 8:  # log-probabilities in nats and perplexities per unit (the final <eos> included)
        logprobs, ppls = (ast.literal_eval(part + "]") for part in lines[0][:-1].split("] "))
        for logprob, ppl, result in zip(logprobs, ppls, namespace["scored"]):
            assert logprob < 0 and ppl == pytest.approx(math.exp(-result.logprob / len(result.token_logprobs)), abs=0.06)
        assert ast.literal_eval(lines[3])["ppl"] > 1
    elif number == 9:  # evaluate measures the archive the fit kept: its dev root accuracy, in percent
        best = float(lines[0].split()[1])
        metrics = ast.literal_eval(lines[1])
        assert metrics["root_acc"] == pytest.approx(100 * best, abs=1e-4) and all(0 <= v <= 100 for v in metrics.values())


def test_every_example_in_docs_api_runs_and_prints_what_it_says(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = BLOCK.findall((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    assert len(blocks) == len(EXPECTED_LINES)  # a new example needs its expected output here
    monkeypatch.chdir(workdir)
    namespace: dict = {}
    for number, code in enumerate(blocks, start=1):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"docs/api.md example {number}", "exec"), namespace)  # noqa: S102 (our own docs)
        lines = printed.getvalue().splitlines()
        assert len(lines) == len(EXPECTED_LINES[number]), (number, lines)
        for line, pattern in zip(lines, EXPECTED_LINES[number]):
            assert re.fullmatch(pattern, line), (number, line, pattern)
        check_example_output(number, lines, namespace)
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
    with pytest.raises(ConfigError, match="does not take workers"):
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
