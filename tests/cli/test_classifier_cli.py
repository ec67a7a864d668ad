"""`treeseq train classifier`, `classify` and `evaluate` on sentence classifiers, through the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import treeseq
from treeseq.checkpoint import load_archive
from treeseq.cli.main import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
SMALL = ["--embed-dim", "16", "--hidden-size", "16", "--dropout", "0.1", "--lr", "0.01", "--quiet", "--device", "cpu"]


def train(data_dir: Path, out: Path, *extra: str) -> None:
    result = runner.invoke(app, ["train", "classifier", "--data-dir", str(data_dir), "--output", str(out), *SMALL, *extra])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def intent_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("intent") / "intent.pt"
    train(SAMPLES / "nlu", out, "--epochs", "6", "--encoder", "max")
    return out


@pytest.fixture(scope="module")
def sst_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sst") / "sst.pt"
    train(SAMPLES / "sentiment", out, "--epochs", "2", "--encoder", "rcnn", "--lowercase")
    return out


def test_train_stores_the_corpus_layout_and_tokenizer(intent_model: Path, sst_model: Path) -> None:
    intent, sst = load_archive(intent_model, task="classifier"), load_archive(sst_model, task="classifier")
    assert intent["corpus"] == "atis" and intent["tokenizer"] == "whitespace"
    assert intent["classes"] == ["atis_airfare", "atis_flight", "atis_ground_service"]
    assert intent["config"]["model"]["encoder"] == "max" and intent["config"]["train"]["optimizer"] == "adam"
    assert sst["corpus"] == "sst" and sst["tokenizer"] == "treebank" and sst["classes"][0] == "very negative"
    assert sst["config"]["model"]["lowercase"] is True
    model = treeseq.load(intent_model)
    assert model.family == "classifier" and model.labels == tuple(intent["classes"])
    results = model.predict(["show me flights to boston", ["what", "is", "the", "fare"]])
    assert results[0].tokens == ("show", "me", "flights", "to", "boston") and results[1].text is None
    assert sum(results[0].probabilities) == pytest.approx(1, abs=1e-5) and results[0].label in model.labels


def test_classify_prints_label_and_probability_line_aligned(intent_model: Path) -> None:
    text = "show me flights from boston to denver"
    result = runner.invoke(app, ["classify", "--model", str(intent_model)], input=f"{text}\n\nwhat is the fare\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""
    for line in (lines[0], lines[2]):
        label, prob = line.split("\t")
        assert label.startswith("atis_") and 0 < float(prob) <= 1
    result = runner.invoke(app, ["classify", "-m", str(intent_model), "-f", "jsonl", text, "ground transport in denver"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 2 and records[0]["text"] == text and records[0]["tokens"][0] == "show"
    assert set(records[0]) == {"text", "tokens", "label", "prob", "probs", "offsets"}
    assert records[0]["label"] == max(records[0]["probs"], key=records[0]["probs"].get)


def test_classify_skip_bad_and_tree_options(sst_model: Path) -> None:
    lines = "A fine film .\n\nIt is a b c d e f g\n(Spoilers) a lovely film\n"
    stopped = runner.invoke(app, ["classify", "-m", str(sst_model), "--max-length", "6"], input=lines)
    assert stopped.exit_code == 2 and "<stdin>:3: 9 tokens is over the classifier's limit of 6" in stopped.output
    kept = runner.invoke(app, ["classify", "-m", str(sst_model), "--max-length", "6", "--skip-bad", "-f", "jsonl"], input=lines)
    assert kept.exit_code == 0, kept.output
    records = [json.loads(line) for line in kept.stdout.splitlines()]
    assert len(records) == 4 and records[1] == {} and records[2] == {}
    assert records[3]["tokens"][:2] == ["-LRB-", "Spoilers"] and records[3]["offsets"][0] == [0, 1]  # treebank tokens
    for extra, flag in ((["--trees"], "--trees"), (["--render", "x.svg"], "--render"), (["--spacy-model", "x"], "--spacy-model"),
                        (["-f", "brackets"], "--format brackets")):  # fmt: skip
        refused = runner.invoke(app, ["classify", "-m", str(sst_model), *extra, "A film"])
        assert refused.exit_code == 2 and f"error: {flag} applies to tree models" in refused.output, extra


def test_evaluate_reports_accuracy_macro_f1_and_the_confusion(intent_model: Path, sst_model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "-m", str(intent_model), "--data-dir", str(SAMPLES / "nlu"), "--split", "test",
                                 "-f", "jsonl", "-o", str(tmp_path / "pred.jsonl")])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["family"] == "classifier" and report["sentences"] == 40 and {"acc", "macro_f1"} <= set(report)
    confusion = report["tables"]["confusion"]["rows"]
    assert sum(sum(row[1:]) for row in confusion) == 40
    assert sum(row[1 + i] for i, row in enumerate(confusion)) == round(report["acc"] * 40 / 100)
    predictions = (tmp_path / "pred.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(predictions) == 40 and json.loads(predictions[0])["label"].startswith("atis_")
    result = runner.invoke(app, ["evaluate", "-m", str(sst_model), "--data-dir", str(SAMPLES / "sentiment"), "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"acc", "macro_f1", "binary_acc"} <= set(report) and report["sentences"] == 100
    shown = runner.invoke(app, ["evaluate", "-m", str(sst_model), "--data-dir", str(SAMPLES / "sentiment")])
    assert shown.exit_code == 0 and "confusion" in shown.output


def test_tsv_and_jsonl_folders_train_and_an_unseen_dev_label_counts_wrong(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [("pos", "a fine film"), ("neg", "a dull film"), ("pos", "lovely, lovely"), ("neg", "so bad")] * 3
    (data / "train.tsv").write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
    (data / "dev.jsonl").write_text('{"text": "a fine plot", "label": "pos"}\n{"text": "meh", "label": "other"}\n',
                                    encoding="utf-8")  # fmt: skip
    result = runner.invoke(app, ["train", "classifier", "--data-dir", str(data), "--output", str(tmp_path / "m.pt"), *SMALL])
    assert result.exit_code == 2 and "different layouts" in result.output
    (data / "dev.jsonl").rename(data / "dev.tsv")
    (data / "dev.tsv").write_text("pos\ta fine plot\nother\tmeh\n", encoding="utf-8")
    train(data, tmp_path / "m.pt", "--epochs", "2", "--encoder", "attention", "--unidirectional", "--rnn", "gru")
    archive = load_archive(tmp_path / "m.pt")
    assert archive["tokenizer"] == "blank" and archive["config"]["model"]["bidirectional"] is False
    report = treeseq.evaluate(tmp_path / "m.pt", data)
    assert report.info["unseen_labels"] == 1 and report.metrics["acc"] <= 50
    assert [row[0] for row in report.tables["confusion"].rows] == ["neg", "pos", "other"]


def write_atis(folder: Path, seq_in: str, label: str) -> None:
    folder.mkdir(parents=True)
    (folder / "seq.in").write_text(seq_in, encoding="utf-8")
    (folder / "label").write_text(label, encoding="utf-8")


@pytest.mark.parametrize(("layout", "problem"), [
    ("empty", "train.tsv:1: the file is empty"),
    ("blank", "train.tsv: no examples to train or evaluate on"),
    ("bytes", "train.tsv:2:9: byte 0xff is not valid UTF-8"),
    ("no-tab", "dev.tsv:2: no tab (expected LABEL<TAB>TEXT)"),
    ("empty-text", "train.tsv:1: an empty text"),
    ("atis", "valid/label:3: 2 lines, but seq.in has 3 (files must be line-aligned)"),
    ("phrases", "phrases: only treebanks have labelled phrases"),
    ("binary", "labels binary collapses SST's five classes"),
    ("sst-label", "train.txt:1: label 7 is out of range 0..4"),
])  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path: Path, layout: str, problem: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    tsv = {"empty": b"", "blank": b"\n  \n", "bytes": b"pos\tgood\nneg\tbad \xff\n", "no-tab": b"pos\tgood\n",
           "empty-text": b"pos\t \n", "phrases": b"pos\tgood\nneg\tbad\n", "binary": b"pos\tgood\nneg\tbad\n"}  # fmt: skip
    extra = {"phrases": ["--phrases"], "binary": ["--labels", "binary"]}.get(layout, [])
    if layout == "atis":
        write_atis(data / "train", "a b\nc d\n", "x\ny\n")
        write_atis(data / "valid", "a b\nc\nd\n", "x\ny\n")
    elif layout == "sst-label":
        (data / "train.txt").write_text("(7 (2 a) (2 b))\n", encoding="utf-8")
        shutil.copy(data / "train.txt", data / "dev.txt")
    else:
        (data / "train.tsv").write_bytes(tsv[layout])
        (data / "dev.tsv").write_bytes(b"pos\tgood\nneg bad\n" if layout == "no-tab" else b"pos\tgood\n")
    out = tmp_path / "out" / "m.pt"
    result = runner.invoke(app, ["train", "classifier", "--data-dir", str(data), "--output", str(out), *SMALL, *extra])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and problem in lines[0], result.output
    assert not out.exists() and not (tmp_path / "out" / "m.last.pt").exists()


def test_a_confusion_matrix_of_many_classes_prints_as_its_most_frequent_errors() -> None:
    from rich.console import Console

    from treeseq.cli import evaluate as command
    from treeseq.results import Report, Table

    names = [f"atis_intent_number_{i}" for i in range(21)]
    rows = []
    for i, gold in enumerate(names):
        counts = [0] * 21
        counts[i] = 10
        counts[(i + 1) % 21] = 1 if i % 2 else 0  # 10 errors of one each
        rows.append((gold, *counts))
    rows[3] = (names[3], *[0] * 3, 2, *[7 if j == 4 else 0 for j in range(4, 21)])  # gold 3 taken for 4 seven times
    confusion = Table("confusion (rows: gold, columns: predicted)", ("gold \\ pred", *names), tuple(rows))
    report = Report("classifier", "dev", {"acc": 90.0}, {"sentences": 210}, {"confusion": confusion})
    buffer = Console(width=80, file=__import__("io").StringIO(), force_terminal=False)
    original = command.console
    command.console = buffer
    try:
        command.print_report(report)
    finally:
        command.console = original
    text = buffer.file.getvalue()
    assert "…" not in text  # nothing cut at 80 columns
    lines = [line for line in text.splitlines() if "atis_intent_number_3 " in line and "atis_intent_number_4" in line]
    assert lines and "7" in lines[0] and "77.8" in lines[0]  # 7 of gold 3's 9 sentences
    assert text.index("atis_intent_number_3 ") < text.index("atis_intent_number_1 ")  # the largest error first
    assert "the 10 most frequent of 10 kinds of error" in " ".join(text.split())  # 9 single errors and 3 -> 4
