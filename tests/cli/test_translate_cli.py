from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from treeseq.cli.main import app

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "samples" / "parallel"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tr") / "m.pt"
    result = runner.invoke(app, ["train", "translator", "--data-dir", str(SAMPLE), "--src", "de", "--tgt", "en",
                                 "--output", str(out), "--epochs", "3", "--hidden-size", "24", "--embed-dim", "24",
                                 "--vocab-size", "400", "--batch-size", "600", "--lr", "0.01", "--quiet",
                                 "--device", "cpu", "--set", "data.dev_subset=10"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_translate_text_jsonl_attention_and_plots(model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", "--model", str(model), "--beam", "3"], input="Zwei rote hund läuft .\nEin ∑ fisch .\n")
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 2
    result = runner.invoke(app, ["translate", "--model", str(model), "--beam", "3", "--n-best", "2", "--format", "jsonl",
                                 "--attention", "--plot-attention", str(tmp_path / "plots")], input="Drei katze .\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    scores = [t["score"] for t in record["translations"]]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True) and "attention" in record["translations"][0]
    assert (tmp_path / "plots" / "attention-00001.png").stat().st_size > 0


def test_interactive_and_scored_references(model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["translate", "--model", str(model), "--interactive", "--beam", "1"], input="Ein hund .\n")
    assert result.exit_code == 0 and len(result.output.splitlines()) == 1
    refs = tmp_path / "refs.en"
    refs.write_text("One dog .\nTwo cats .\n", encoding="utf-8")
    result = runner.invoke(app, ["translate", "--model", str(model), "--score-references", str(refs)], input="Ein hund .\nZwei katze .\n")
    assert result.exit_code == 0, result.output
    values = [float(v) for v in result.output.split()]
    import treeseq

    forced = treeseq.load(model, "cpu").score(["Ein hund .", "Zwei katze ."], ["One dog .", "Two cats ."])
    assert len(values) == 2 and all(v < 0 for v in values)  # one log-probability a line, not an empty output
    assert values == pytest.approx(forced, abs=1e-3)
    result = runner.invoke(app, ["translate", "--model", str(model), "--score-references", str(refs)], input="Ein hund .\n")
    assert result.exit_code == 2 and "refs.en" in result.output


def test_evaluate_prints_bleu_chrf_and_signatures(model: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--model", str(model), "--data-dir", str(SAMPLE), "--split", "test", "--beam", "2"])
    assert result.exit_code == 0, result.output
    assert "BLEU" in result.output and "chrF" in result.output and "version:" in result.output


def test_evaluate_bf16_writes_the_translations(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "hyp.en"
    result = runner.invoke(app, ["evaluate", "--model", str(model), "--data-dir", str(SAMPLE), "--split", "test", "--beam", "2",
                                 "--precision", "bf16", "--format", "jsonl", "--output", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert record["precision"] == "bf16" and len(lines) == record["sentences"] and 0 <= record["bleu"] <= 100
    bad = runner.invoke(app, ["evaluate", "--model", str(model), "--data-dir", str(SAMPLE), "--precision", "fp16"])
    assert bad.exit_code == 2 and "fp16" in bad.output


def test_train_reports_misaligned_data(tmp_path: Path) -> None:
    (tmp_path / "train.de").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "train.en").write_text("a\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "translator", "--data-dir", str(tmp_path), "--output", str(tmp_path / "m.pt")])
    assert result.exit_code == 2 and "train.en:2" in result.output
