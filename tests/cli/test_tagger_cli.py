from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from treeseq.checkpoint import load_archive
from treeseq.cli.main import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
SMALL = ["--epochs", "4", "--embed-dim", "16", "--hidden-size", "16", "--layers", "1", "--set", "model.char_out=8",
         "--set", "train.lr=0.01", "--quiet", "--device", "cpu"]  # fmt: skip


def train(data_dir: Path, out: Path, *extra: str) -> None:
    result = runner.invoke(app, ["train", "tagger", "--data-dir", str(data_dir), "--output", str(out), *SMALL, *extra])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def pos_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pos") / "pos.pt"
    train(SAMPLES / "pos", out)
    return out


@pytest.fixture(scope="module")
def nlu_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nlu") / "nlu.pt"
    train(SAMPLES / "nlu", out, "--epochs", "8")
    return out


def test_train_picks_the_task_from_the_data(pos_model: Path, nlu_model: Path) -> None:
    pos, nlu = load_archive(pos_model, task="tagger"), load_archive(nlu_model, task="tagger")
    assert pos["kind"] == "pos" and pos["config"]["model"]["output"] == "softmax" and "NOUN" in pos["tags"]
    assert nlu["kind"] == "nlu" and nlu["config"]["model"]["output"] == "crf" and "atis_flight" in nlu["intents"]
    assert pos["config"]["train"]["optimizer"] == "adam" and pos["config"]["model"]["hidden_size"] == 16


def test_tag_text_and_jsonl_with_character_offsets(pos_model: Path, nlu_model: Path) -> None:
    result = runner.invoke(app, ["tag", "--model", str(pos_model), "The old dog saw Anna."])
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith("The/") and result.output.strip().endswith("./PUNCT")
    text = "show me flights from boston to  new york tomorrow"
    result = runner.invoke(app, ["tag", "--model", str(nlu_model), "--format", "jsonl"], input=text + "\n\n" + text + "\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == 3 and records[1] == {}  # line-aligned: a blank line gives an empty record
    record = records[0]
    assert set(record) >= {"intent", "intent_prob", "slots", "tokens", "tags"} and 0 <= record["intent_prob"] <= 1
    for slot in record["slots"]:
        assert text[slot["start"] : slot["end"]] == slot["text"] and set(slot) == {"type", "text", "start", "end"}


def test_tag_conllu_fills_the_tag_column_and_keeps_every_other_byte(pos_model: Path) -> None:
    source = (SAMPLES / "pos" / "sample-ud-dev.conllu").read_text(encoding="utf-8")
    result = runner.invoke(app, ["tag", "--model", str(pos_model), "--format", "conllu", "--precision", "bf16",
                                 "--threads", "1"], input=source)  # fmt: skip
    assert result.exit_code == 0, result.output
    before, after = source.split("\n"), result.stdout.split("\n")
    assert len(before) == len(after)
    for old, new in zip(before, after):
        old_cols, new_cols = old.split("\t"), new.split("\t")
        if len(old_cols) == 10 and old_cols[0].isdigit():
            assert old_cols[:3] + old_cols[4:] == new_cols[:3] + new_cols[4:]
        else:
            assert old == new


def test_tag_conllu_writes_the_models_predictions_into_a_blank_tag_column(pos_model: Path) -> None:
    """On input without tags (UPOS blanked to `_`), the column must come back filled with what the model
    predicts for those tokens: a tagger that copied its input, or left the column alone, would fail."""
    import treeseq

    source = (SAMPLES / "pos" / "sample-ud-dev.conllu").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in source.split("\n")]
    blank = "\n".join("\t".join(cols[:3] + ["_"] + cols[4:]) if len(cols) == 10 and cols[0].isdigit() else "\t".join(cols) for cols in rows)
    result = runner.invoke(app, ["tag", "--model", str(pos_model), "--format", "conllu"], input=blank)
    assert result.exit_code == 0, result.output
    sentences: list[list[list[str]]] = [[]]
    for line in result.stdout.split("\n"):
        cols = line.split("\t")
        if len(cols) == 10 and cols[0].isdigit():
            sentences[-1].append(cols)
        elif not line and sentences[-1]:
            sentences.append([])
    sentences = [s for s in sentences if s]
    assert len(sentences) >= 10
    tagger = treeseq.load(pos_model, "cpu")
    predicted = tagger.predict([[cols[1] for cols in sentence] for sentence in sentences])
    for sentence, want in zip(sentences, predicted, strict=True):
        assert [cols[3] for cols in sentence] == list(want.tags)
    assert all(cols[3] != "_" for sentence in sentences for cols in sentence)


def test_slot_offsets_are_the_characters_of_their_words(nlu_model: Path) -> None:
    """Offsets against positions found independently in the text (regex over non-space runs), not against
    text cut by the offsets themselves; the two spaces before "new" shift every later offset."""
    import re

    text = "show me flights from boston to  new york tomorrow"
    result = runner.invoke(app, ["tag", "--model", str(nlu_model), "--format", "jsonl", text])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    assert record["tokens"] == [text[a:b] for a, b in words]
    expected, open_chunk = [], None  # BIO chunks of the predicted tags, read here by hand
    for index, tag in enumerate(record["tags"] + ["O"]):
        if open_chunk and not (tag.startswith("I-") and tag[2:] == open_chunk[0]):
            expected.append({"type": open_chunk[0], "start": words[open_chunk[1]][0], "end": words[index - 1][1]})
            open_chunk = None
        if tag.startswith("B-") or (tag.startswith("I-") and open_chunk is None):
            open_chunk = (tag[2:], index)
    assert expected, record  # the model finds slots here ("boston", "new york", ...)
    assert [{k: s[k] for k in ("type", "start", "end")} for s in record["slots"]] == expected
    assert [s["text"] for s in record["slots"]] == [text[e["start"] : e["end"]] for e in expected]


def test_evaluate_reports_the_task_metrics(pos_model: Path, nlu_model: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--model", str(nlu_model), "--data-dir", str(SAMPLES / "nlu"),
                                 "--split", "test", "--format", "jsonl"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sentences"] == 40 and {"acc", "slot_f1", "intent_acc", "frame_acc"} <= set(report)
    assert report["family"] == "tagger" and 0 <= report["slot_f1"] <= 100  # percent, like every report
    assert "fromloc.city_name" in [row[0] for row in report["tables"]["by_type"]["rows"]]
    dev = runner.invoke(app, ["evaluate", "--model", str(pos_model), "--data-dir", str(SAMPLES / "pos"), "--split", "dev"])
    assert dev.exit_code == 0 and "acc" in dev.output and "sample-ud-dev.conllu" in dev.output


@pytest.fixture
def nlu_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "nlu"
    shutil.copytree(SAMPLES / "nlu", folder)
    return folder


@pytest.fixture
def pos_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "pos"
    shutil.copytree(SAMPLES / "pos", folder)
    return folder


def replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[number - 1] = text
    path.write_text("\n".join(lines), encoding="utf-8")


def bad_nlu_tags(folder: Path) -> str:
    replace_line(folder / "train" / "seq.out", 2, "O O")
    return "train/seq.out:2: 2 tags for 9 tokens in seq.in"


def bad_nlu_empty(folder: Path) -> str:
    replace_line(folder / "valid" / "seq.in", 3, "  ")
    return "valid/seq.in:3: an empty sentence"


def bad_nlu_lines(folder: Path) -> str:
    (folder / "train" / "label").write_text("atis_flight\n", encoding="utf-8")
    return "train/label:2: 1 lines, but seq.in has 150"


def bad_pos_unknown_tag(folder: Path) -> str:
    path = folder / "sample-ud-dev.conllu"
    path.write_text(path.read_text(encoding="utf-8").replace("\tDET\tDT\t", "\tDETX\tDT\t", 1), encoding="utf-8")
    return "sample-ud-dev.conllu:1: token 5 ('this') has tag 'DETX', which does not occur in the training data"


def bad_pos_columns(folder: Path) -> str:
    replace_line(folder / "sample-ud-train.conllu", 4, "2\tsaw\tsee\tVERB")
    return "sample-ud-train.conllu:4: expected 10 tab-separated columns, found 4"


@pytest.mark.parametrize("corrupt", [bad_nlu_tags, bad_nlu_empty, bad_nlu_lines, bad_pos_unknown_tag, bad_pos_columns])
def test_bad_training_data_exits_2_with_one_line_and_writes_nothing(
    corrupt, nlu_copy: Path, pos_copy: Path, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    folder = nlu_copy if corrupt.__name__.startswith("bad_nlu") else pos_copy
    expected = corrupt(folder)
    out = tmp_path / "out" / "m.pt"
    result = runner.invoke(app, ["train", "tagger", "--data-dir", str(folder), "--output", str(out), *SMALL])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_tag_bad_conllu_and_wrong_model(pos_model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["tag", "--model", str(pos_model), "--format", "conllu"], input="1\tThe\tthe\n")
    assert result.exit_code == 2 and "<stdin>:1: expected 10 tab-separated columns" in result.output
    assert len(result.output.strip().splitlines()) == 1
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    result = runner.invoke(app, ["tag", "--model", str(junk), "hello"])
    assert result.exit_code == 2 and "not a treeseq model archive" in result.output


def test_tagger_commands_explain_themselves() -> None:
    for command in (["train", "tagger", "--help"], ["tag", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0 and "Usage" in result.output
