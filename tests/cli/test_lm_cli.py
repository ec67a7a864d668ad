"""`treeseq train lm`, `generate`, `score` and `evaluate` on a language model, through the CLI."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from treeseq.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "corpora" / "samples" / "parallel"
runner = CliRunner()
TINY = ["--epochs", "2", "--embed-dim", "16", "--hidden-size", "16", "--batch-size", "4", "--bptt", "10", "--quiet"]


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("text")
    (folder / "train.txt").write_text((SAMPLE / "train.en").read_text(encoding="utf-8"), encoding="utf-8")
    with gzip.open(folder / "dev.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write((SAMPLE / "val.en").read_text(encoding="utf-8"))
    return folder


@pytest.fixture(scope="module")
def word_lm(text_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("lm") / "lm.pt"
    result = runner.invoke(app, ["train", "lm", "--data-dir", str(text_dir), "--output", str(output), *TINY])
    assert result.exit_code == 0, result.output
    return output


def test_train_reports_dev_perplexity(word_lm: Path) -> None:
    records = [json.loads(line) for line in word_lm.with_name("lm.metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if "dev_ppl" in r]
    assert len(epochs) == 2 and all(r["dev_ppl"] > 1 for r in epochs)
    config = torch.load(word_lm, weights_only=True)["config"]
    assert config["model"]["head"] == 2000 and config["train"]["fused"] is True  # the defaults (a 2000-word head, a fused Adam,
    assert config["model"]["unigram_bias"] is True and config["data"]["shuffle_lines"] is False  # the unigram start, lines in order)


def test_evaluate_measures_dev_as_training_did(word_lm: Path, text_dir: Path) -> None:
    result = runner.invoke(app, ["evaluate", "-m", str(word_lm), "--data-dir", str(text_dir), "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    best = min(json.loads(line)["dev_ppl"] for line in word_lm.with_name("lm.metrics.jsonl").read_text().splitlines() if "dev_ppl" in line)
    assert record["family"] == "lm" and record["ppl"] == pytest.approx(best, rel=1e-4)
    text = runner.invoke(app, ["evaluate", "-m", str(word_lm), "--data-dir", str(text_dir)])
    assert "perplexity" in text.output and "value" in text.output


def test_score_is_line_aligned_and_agrees_with_jsonl(word_lm: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("A dog runs in the park .\n\n[bold]red[/bold] cat\n", encoding="utf-8")
    text = runner.invoke(app, ["score", "-m", str(word_lm), "-i", str(source)])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert len(lines) == 3 and lines[1] == ""
    logprob, ppl, count = lines[0].split("\t")
    assert int(count) == 8 and float(logprob) < 0 and float(ppl) > 1
    jsonl = runner.invoke(app, ["score", "-m", str(word_lm), "-i", str(source), "-f", "jsonl", "--tokens"])
    records = [json.loads(line) for line in jsonl.output.splitlines()]
    assert records[1] == {} and records[2]["text"] == "[bold]red[/bold] cat"
    assert records[0]["logprob"] == pytest.approx(float(logprob), abs=1e-3)
    # "tokens" is the list of units the model read (an unknown word as <unk>), as every family's record
    # lists its tokens; "scored" counts their log-probabilities and the line's end
    assert records[0]["tokens"][1:] == ["dog", "runs", "in", "the", "park", "."] and records[0]["scored"] == 8
    assert records[0]["tokens"][0] in ("A", "<unk>")
    assert len(records[0]["token_logprobs"]) == 8


def test_generate_is_reproducible_with_a_seed(word_lm: Path) -> None:
    args = ["generate", "-m", str(word_lm), "--prompt", "A dog", "--samples", "3", "--max-tokens", "8", "--seed", "4", "-f", "jsonl"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    samples = [json.loads(line) for line in first.output.splitlines()]
    assert [s["sample"] for s in samples] == [0, 1, 2] and all(s["text"].startswith("A dog") for s in samples)
    greedy = runner.invoke(app, ["generate", "-m", str(word_lm), "--temperature", "0", "--samples", "2", "--max-tokens", "5"])
    lines = greedy.output.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]


def test_generate_samples_differ_from_greedy_and_between_seeds(word_lm: Path) -> None:
    """Reproducibility alone would pass an always-greedy sampler and an ignored --seed."""

    def texts(*extra: str) -> list[str]:
        done = runner.invoke(app, ["generate", "-m", str(word_lm), "--prompt", "A dog", "--samples", "4", "--max-tokens", "8", "-f",
                                   "jsonl", *extra])  # fmt: skip
        assert done.exit_code == 0, done.output
        return [json.loads(line)["text"] for line in done.output.splitlines()]

    seed_4, seed_5, greedy = texts("--seed", "4"), texts("--seed", "5"), texts("--temperature", "0")
    assert seed_4 == texts("--seed", "4") and len(set(greedy)) == 1
    assert seed_4 != seed_5  # the seed is used
    assert len(set(seed_4)) > 1 and set(seed_4) != set(greedy)  # samples are drawn, not the greedy continuation


def test_a_two_level_softmax_trains_evaluates_scores_and_generates(text_dir: Path, tmp_path: Path) -> None:
    # with the unigram start, the lines shuffled each epoch and the weight average: dev measures the average
    output = tmp_path / "head.pt"
    args = ["train", "lm", "--data-dir", str(text_dir), "--output", str(output), *TINY, "--head", "8", "--set", "train.fused=true",
            "--set", "model.unigram_bias=true", "--set", "data.shuffle_lines=true", "--set", "train.ema=0.99"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    archive = torch.load(output, weights_only=True)
    config = archive["config"]
    assert config["model"]["head"] == 8 and config["train"]["fused"] is True and config["train"]["ema"] == 0.99
    assert config["model"]["unigram_bias"] is True and config["data"]["shuffle_lines"] is True
    assert "tail_vector" in archive["state_dict"]
    best = min(json.loads(line)["dev_ppl"] for line in output.with_name("head.metrics.jsonl").read_text().splitlines() if "dev_ppl" in line)
    report = json.loads(runner.invoke(app, ["evaluate", "-m", str(output), "--data-dir", str(text_dir), "-f", "jsonl"]).output)
    assert report["ppl"] == pytest.approx(best, rel=1e-4)
    source = tmp_path / "lines.txt"
    source.write_text("A man is walking .\n\nTwo dogs run .\n", encoding="utf-8")
    scored = runner.invoke(app, ["score", "-m", str(output), "-i", str(source), "-f", "jsonl"]).output.splitlines()
    records = [json.loads(line) for line in scored]
    assert len(records) == 3 and records[1] == {} and records[0]["logprob"] < 0 and records[2]["logprob"] < 0
    generated = runner.invoke(app, ["generate", "-m", str(output), "--samples", "2", "--seed", "3", "--max-tokens", "6"])
    assert generated.exit_code == 0 and len(generated.output.splitlines()) == 2


@pytest.mark.parametrize("unit", ["char", "subword"])
def test_char_and_subword_models(text_dir: Path, tmp_path: Path, unit: str) -> None:
    output = tmp_path / f"{unit}.pt"
    extra = ["--vocab-size", "300"] if unit == "subword" else []
    result = runner.invoke(app, ["train", "lm", "--data-dir", str(text_dir), "--output", str(output), "--unit", unit, *TINY, "--epochs", "1", *extra])
    assert result.exit_code == 0, result.output
    report = json.loads(runner.invoke(app, ["evaluate", "-m", str(output), "--data-dir", str(text_dir), "-f", "jsonl"]).output)
    assert report["unit"] == unit and report["bpc"] > 0
    generated = runner.invoke(app, ["generate", "-m", str(output), "--prompt", "A ", "--max-tokens", "20", "--seed", "1"])
    assert generated.exit_code == 0 and generated.output.startswith("A")


@pytest.mark.parametrize(
    ("train_text", "expected"),
    [
        (b"", "train.txt:1: the file is empty"),
        (b"\n\n", "train.txt:1: no text"),
        (b"a b\n", "train.txt:1: the corpus has 4 tokens"),
        (b"a b c\nd \xff e\n", "train.txt:2:3: byte 0xff is not valid UTF-8"),
    ],
)
def test_bad_corpora_fail_in_one_line_and_write_nothing(tmp_path: Path, train_text: bytes, expected: str) -> None:
    (tmp_path / "train.txt").write_bytes(train_text)
    (tmp_path / "dev.txt").write_text("a b c\n", encoding="utf-8")
    output = tmp_path / "out" / "lm.pt"
    result = runner.invoke(app, ["train", "lm", "--data-dir", str(tmp_path), "--output", str(output), *TINY])
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert expected in message and message.startswith("error:") and "Traceback" not in result.output
    assert not output.exists() and not output.with_name("lm.last.pt").exists()


def test_options_of_other_families_are_refused(word_lm: Path, text_dir: Path) -> None:
    result = runner.invoke(app, ["evaluate", "-m", str(word_lm), "--data-dir", str(text_dir), "--beam", "3"])
    assert result.exit_code == 2 and "--beam applies to translator models" in result.output
    wrong = runner.invoke(app, ["translate", "-m", str(word_lm), "hello"])
    assert wrong.exit_code == 2 and "expected a 'translator' model" in wrong.output
    bad = runner.invoke(app, ["generate", "-m", str(word_lm), "--top-p", "0"])
    assert bad.exit_code == 2
