from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from treeseq.checkpoint import load_archive
from treeseq.cli.main import app

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "samples" / "sentiment"
TRAIN = ["train", "tree", "--epochs", "3", "--embed-dim", "16", "--hidden-size", "16", "--dropout", "0.1",
         "--lr", "0.1", "--quiet", "--device", "cpu"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small model shared by the prediction tests."""
    out = tmp_path_factory.mktemp("model") / "sst.pt"
    result = runner.invoke(app, [*TRAIN, "--data-dir", str(SAMPLE), "--output", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_archive_with_resolved_config(trained: Path) -> None:
    archive = load_archive(trained, task="tree")
    assert archive["config"]["model"]["hidden_size"] == 16
    assert archive["config"]["train"]["epochs"] == 3
    assert archive["classes"][0] == "very negative"
    assert trained.with_name("sst.last.pt").is_file() and trained.with_name("sst.metrics.jsonl").is_file()


def test_train_from_config_file_and_set_overrides(small_treebank: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[model]\nkind = "childsum-lstm"\nhidden_size = 10\nembed_dim = 10\n[train]\nepochs = 1\nlr = 0.2\n')
    out = tmp_path / "m.pt"
    result = runner.invoke(app, ["train", "tree", "--data-dir", str(small_treebank), "--output", str(out),
                                 "--config", str(config), "--set", "train.batch_size=7", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    resolved = load_archive(out)["config"]
    assert resolved["model"]["kind"] == "childsum-lstm" and resolved["train"]["batch_size"] == 7
    assert resolved["train"]["lr"] == 0.2


def test_unknown_setting_is_a_one_line_error(small_treebank: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "tree", "--data-dir", str(small_treebank), "--output", str(tmp_path / "m.pt"),
                                 "--set", "train.learning_rate=1"])  # fmt: skip
    assert result.exit_code == 2
    assert "unknown setting train.learning_rate" in result.output
    assert not any(tmp_path.glob("m*"))


def test_evaluate_prints_fine_and_binary_accuracy_and_confusion(trained: Path, sample_dir: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--model", str(trained), "--data-dir", str(sample_dir), "--split", "test",
                                 "--format", "jsonl", "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sentences"] == 100
    assert set(report) >= {"root_acc", "phrase_acc", "root_binary_acc", "phrase_binary_acc", "confusion"}
    assert sum(map(sum, report["confusion"])) == 100
    text = runner.invoke(app, ["evaluate", "--model", str(trained), "--data-dir", str(sample_dir), "--split", "test"])
    assert text.exit_code == 0 and "root confusion" in text.output and "root_binary_acc" in text.output


def test_classify_labels_every_node(trained: Path) -> None:
    tree = "(X (X (X The) (X acting)) (X (X is) (X (X not) (X bad))))"
    result = runner.invoke(app, ["classify", "--model", str(trained), "--format", "jsonl", "--trees", tree])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert len(record["nodes"]) == 9 and record["nodes"][0]["text"] == "The acting is not bad"
    assert all(0 <= n["prob"] <= 1 and abs(sum(n["probs"]) - 1) < 1e-3 for n in record["nodes"])
    brackets = runner.invoke(app, ["classify", "--model", str(trained), "--format", "brackets", "--trees"], input=tree + "\n\n" + tree + "\n")
    assert brackets.exit_code == 0 and brackets.output.splitlines()[1] == "" and len(brackets.output.splitlines()) == 3
    shown = runner.invoke(app, ["classify", "--model", str(trained), "--trees"], input=tree + "\n")
    assert shown.exit_code == 0 and "└── " in shown.output and "not bad" in shown.output


def test_resume_extends_training_like_one_longer_run(small_treebank: Path, tmp_path: Path) -> None:
    base = ["train", "tree", "--data-dir", str(small_treebank), "--embed-dim", "8", "--hidden-size", "8", "--quiet"]
    assert runner.invoke(app, [*base, "--output", str(tmp_path / "a.pt"), "--epochs", "2"]).exit_code == 0
    assert runner.invoke(app, [*base, "--output", str(tmp_path / "b.pt"), "--epochs", "1"]).exit_code == 0
    first_epoch = (tmp_path / "b.metrics.jsonl").read_text().splitlines()
    resumed = runner.invoke(app, [*base, "--output", str(tmp_path / "b.pt"), "--epochs", "2", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    a, b = load_archive(tmp_path / "a.last.pt"), load_archive(tmp_path / "b.last.pt")
    assert all((a["state_dict"][k] == b["state_dict"][k]).all() for k in a["state_dict"])
    # A silent restart would end with the same weights (training is deterministic); the log tells them apart:
    # the first run's records stay as they were and the resumed run adds epoch 2 only.
    log = (tmp_path / "b.metrics.jsonl").read_text().splitlines()
    assert log[: len(first_epoch)] == first_epoch
    assert [json.loads(line)["epoch"] for line in log[len(first_epoch) :] if '"dev_' in line] == [2]


BAD_INPUTS = [
    (b"(3 (2 a) (2 b)\n", "train.txt:1:1: unbalanced brackets"),
    (b"(3 (2 a) (2 b))\n(3 (2 a) (q b))\n", "train.txt:2: label 'q' is not an integer"),
    (b"(3 (2 a) (9 b))\n", "train.txt:1: label 9 is out of range 0..4"),
    (b"(3 (2 a) (2 ))\n", "train.txt:1:10: node '(2' has no tokens"),
    (b"(3 (2 a) (2 b))\n\n", "train.txt:2: empty line"),
    (b"(3 (2 \xe9t\xe9) (2 b))\n", "train.txt:1:7: byte 0xe9 is not valid UTF-8"),
    (b"", "train.txt:1: the file is empty"),
]


@pytest.mark.parametrize(("content", "expected"), BAD_INPUTS)
def test_bad_training_data_exits_2_with_one_line_and_writes_nothing(
    small_treebank: Path, tmp_path: Path, content: bytes, expected: str
) -> None:
    (small_treebank / "train.txt").write_bytes(content)
    out = tmp_path / "out" / "m.pt"
    result = runner.invoke(app, ["train", "tree", "--data-dir", str(small_treebank), "--output", str(out), "--quiet"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and lines[0].startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_classify_bad_input_and_bad_model(trained: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["classify", "--model", str(trained), "--trees"], input="(X (X a) (X b)\n")
    assert result.exit_code == 2 and "<stdin>:1:1: unbalanced brackets" in result.output
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    result = runner.invoke(app, ["classify", "--model", str(junk), "--trees", "(X a)"])
    assert result.exit_code == 2 and "not a treeseq model archive" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_every_command_explains_itself() -> None:
    for command in (["--help"], ["train", "tree", "--help"], ["evaluate", "--help"], ["classify", "--help"], ["corpora", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0 and "Usage" in result.output
