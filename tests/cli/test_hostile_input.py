"""Hostile input to the commands and the library: arguments that are not UTF-8, seeds and numbers beyond
their bounds, runaway generation, labels with line breaks, folders of the wrong layout, and scores that
must not depend on the batch a line was in. Each is one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import treeseq
from treeseq.cli.main import app
from treeseq.errors import CorpusFormatError

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
TINY = ["--epochs", "1", "--embed-dim", "16", "--hidden-size", "16", "--batch-size", "4", "--bptt", "10", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    runs = tmp_path_factory.mktemp("hostile")
    text = runs / "text"
    text.mkdir()
    lines = (SAMPLES / "parallel" / "train.en").read_text(encoding="utf-8")
    (text / "train.txt").write_text(lines, encoding="utf-8")
    (text / "dev.txt").write_text((SAMPLES / "parallel" / "val.en").read_text(encoding="utf-8"), encoding="utf-8")
    assert runner.invoke(app, ["train", "lm", "--data-dir", str(text), "--output", str(runs / "lm.pt"), *TINY]).exit_code == 0
    treeseq.train("tagger", SAMPLES / "nlu", runs / "nlu.pt", epochs=1, hidden_size=8, embed_dim=8, progress=False, device="cpu")
    return {"lm": runs / "lm.pt", "nlu": runs / "nlu.pt", "text": text}


def one_line_error(result: object, *expected: str) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 2, output  # type: ignore[attr-defined]
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    for part in expected:
        assert part in output, output


def test_arguments_that_are_not_utf8_are_one_line(models: dict[str, Path]) -> None:
    # Python hands a command-line byte that is not UTF-8 to the program as a lone surrogate (U+DCFF for 0xff).
    one_line_error(runner.invoke(app, ["score", "-m", str(models["lm"]), "a \udcff dog"]), "<args>:1:3: byte 0xff is not valid UTF-8")
    one_line_error(runner.invoke(app, ["tag", "-m", str(models["nlu"]), "ok", "to \udcff boston"]), "<args>:2:4: byte 0xff")
    one_line_error(runner.invoke(app, ["generate", "-m", str(models["lm"]), "--prompt", "a \udcfe"]), "--prompt:3: byte 0xfe")
    real = subprocess.run([sys.executable, "-m", "treeseq.cli.main", "score", "-m", str(models["lm"]), b"a \xff dog"],
                          capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert real.returncode == 2 and real.stderr.decode().strip() == "error: <args>:1:3: byte 0xff is not valid UTF-8"


def test_lone_surrogates_are_refused_by_every_predict(models: dict[str, Path]) -> None:
    for name in ("lm", "nlu"):
        with pytest.raises(CorpusFormatError, match=r"texts:2:3: a lone surrogate U\+D800 is not valid Unicode"):
            treeseq.load(models[name], "cpu").predict(["fine", "x \ud800 y"], source="texts")


def test_a_seed_beyond_64_bits_is_one_line(models: dict[str, Path], tmp_path: Path) -> None:
    huge = str(2**70)
    one_line_error(runner.invoke(app, ["generate", "-m", str(models["lm"]), "--seed", huge]), "--seed must be from 0 to 18,446,744,073,709,551,615, got 1,180,591,620,717,411,303,424")
    one_line_error(runner.invoke(app, ["train", "lm", "--data-dir", str(models["text"]), "--output", str(tmp_path / "m.pt"),
                                       *TINY, "--seed", huge]), "train.seed must fit in 64 bits")  # fmt: skip
    assert not (tmp_path / "m.pt").exists()
    assert runner.invoke(app, ["generate", "-m", str(models["lm"]), "--seed", str(2**64 - 1), "--max-tokens", "3"]).exit_code == 0


def test_every_jsonl_reader_refuses_a_runaway_number_in_one_line(tmp_path: Path) -> None:
    from treeseq.corpora.readers.classification import read_text_jsonl
    from treeseq.corpora.readers.jsonl import read_jsonl
    from treeseq.curves import read_epochs

    long = "9" * 5000
    cases = [(read_text_jsonl, f'{{"text": "a b", "label": {long}}}'), (read_jsonl, f'{{"tokens": ["a"], "tags": [{long}]}}'),
             (read_epochs, f'{{"epoch": {long}, "dev_acc": 1}}')]  # fmt: skip
    for reader, line in cases:
        path = tmp_path / "x.jsonl"
        path.write_text('{"text": "fine", "label": "a"}\n' + line + "\n")
        with pytest.raises(CorpusFormatError, match=r"x.jsonl:2:\d+: not valid JSON \(a number of 5,000 digits \(at most 100\)\)"):
            reader(path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text(f'{{"text": "a b", "label": {long}}}\n')
    (data / "dev.jsonl").write_text('{"text": "a b", "label": "x"}\n')
    one_line_error(runner.invoke(app, ["train", "classifier", "--data-dir", str(data), "--output", str(tmp_path / "c.pt"), "--quiet"]),
                   "train.jsonl:1:26: not valid JSON")  # fmt: skip


def test_generation_streams_and_has_a_ceiling(models: dict[str, Path]) -> None:
    one_line_error(runner.invoke(app, ["generate", "-m", str(models["lm"]), "--temperature", "0", "--max-tokens", "1000000000"]),
                   "--max-tokens must be from 1 to 10,000, got 1,000,000,000")  # fmt: skip
    assert "at most 10,000" in " ".join(runner.invoke(app, ["generate", "--help"]).output.split())
    lm = treeseq.load(models["lm"], "cpu")
    pieces: list[str] = []
    found = lm.generate("A man", max_tokens=40, seed=5, on_text=pieces.append)[0]
    assert len(found.tokens) > 1 and len(pieces) == len(found.tokens)  # a word unit's text as soon as it is drawn
    assert "A man" + "".join(pieces) == found.text  # nothing lost
    printed = runner.invoke(app, ["generate", "-m", str(models["lm"]), "--prompt", "A man", "--seed", "5", "--max-tokens", "40"])
    assert printed.exit_code == 0 and printed.stdout == " ".join(found.text.splitlines()) + "\n"


@pytest.mark.parametrize("layout", ["tsv", "jsonl"])
def test_a_label_holding_a_line_break_is_refused_in_training(tmp_path: Path, layout: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [("good", "a fine film"), ("bad", "a dull film"), ("go\u2028od" if layout == "tsv" else "go\nod", "a nice film")]
    for split in ("train", "dev"):
        if layout == "tsv":
            (data / f"{split}.tsv").write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")
        else:
            (data / f"{split}.jsonl").write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for label, t in rows), encoding="utf-8")
    result = runner.invoke(app, ["train", "classifier", "--data-dir", str(data), "--output", str(tmp_path / "c.pt"), "--quiet"])
    one_line_error(result, f"train.{layout}:3: the label", "holds a line break", "a label is one line")
    assert not (tmp_path / "c.pt").exists()


def test_evaluating_a_tagger_on_plain_sentences_is_refused(models: dict[str, Path], tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "dev.txt").write_text("show me flights to boston\nwhat is the fare\n")
    one_line_error(runner.invoke(app, ["evaluate", "-m", str(models["nlu"]), "--data-dir", str(plain)]),
                   "dev.txt:2: 4 columns, but the file's first line has 5", "not plain sentences")  # fmt: skip
    (plain / "dev.txt").write_text("show me flights\nto boston today\n")  # same width: read as columns, tags the model never saw
    one_line_error(runner.invoke(app, ["evaluate", "-m", str(models["nlu"]), "--data-dir", str(plain)]),
                   "dev.txt:1: none of the data's tags (e.g. 'flights') is one the model predicts")  # fmt: skip


def test_a_lines_score_does_not_depend_on_its_batch(models: dict[str, Path], tmp_path: Path) -> None:
    # 128 units: large enough that a product over one row rounds differently from one over many
    lm = tmp_path / "lm128.pt"
    wider = [*TINY[:2], "--embed-dim", "64", "--hidden-size", "128", *TINY[6:]]
    assert runner.invoke(app, ["train", "lm", "--data-dir", str(models["text"]), "--output", str(lm), *wider]).exit_code == 0
    lines = [line for line in (SAMPLES / "parallel" / "train.en").read_text(encoding="utf-8").splitlines() if line.strip()][:300]
    source = tmp_path / "lines.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outputs = []
    for batch in ("1", "7", "64"):
        result = runner.invoke(app, ["score", "-m", str(lm), "-i", str(source), "-b", batch, "-f", "jsonl", "--tokens"])
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] == outputs[2]  # every token's log-probability, to the last bit
