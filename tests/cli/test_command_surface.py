"""One command surface: the same spellings everywhere, line-aligned streams, refusals with a reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import treeseq
from treeseq.cli.main import app

runner = CliRunner()
SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
PREDICTING = ("classify", "parse", "tag", "translate", "score")
PREDICT_OPTIONS = {"--input", "-i", "--output", "-o", "--format", "-f", "--batch-size", "--threads", "--device",
                   "--precision", "--quiet", "--skip-bad", "--max-length", "--verbose", "--model", "-m"}  # fmt: skip
TRAIN_OPTIONS = {"--data-dir", "--output", "-o", "--epochs", "--seed", "--batch-size", "--optimizer", "--lr",
                 "--weight-decay", "--schedule", "--clip-norm", "--patience", "--checkpoint-every", "--precision",
                 "--device", "--resume", "--config", "--set", "--quiet", "--verbose", "--embed-dim", "--hidden-size",
                 "--dropout"}  # fmt: skip


def options_of(command) -> set[str]:  # noqa: ANN001 (a click command, as Typer builds it)
    return {name for param in command.params for name in (*param.opts, *param.secondary_opts)}


def test_shared_options_have_one_spelling_on_every_command() -> None:
    root = typer.main.get_command(app)
    assert set(PREDICTING) <= set(root.commands)  # type: ignore[attr-defined]
    for name in PREDICTING:
        missing = PREDICT_OPTIONS - options_of(root.commands[name])
        assert not missing, (name, missing)
    train = root.commands["train"]
    assert {"tree", "parser", "tagger", "translator", "classifier"} <= set(train.commands)
    for name, command in train.commands.items():
        missing = TRAIN_OPTIONS - options_of(command)
        assert not missing, (name, missing)
        assert not {"--word-dim", "--batch-tokens"} & options_of(command)  # the old second spellings
    assert "--trees" in options_of(root.commands["classify"])
    for args in (["--version"], ["-h"], ["tag", "-h"], ["train", "tagger", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    assert runner.invoke(app, ["--version"]).output.strip() == f"treeseq {treeseq.__version__}"
    shown = runner.invoke(app, ["train", "translator", "-h"], env={"COLUMNS": "200"}).output
    assert "(default: 0.001)" in shown and "(default: 4096)" in shown  # the family's own defaults
    shown = runner.invoke(app, ["train", "lm", "-h"], env={"COLUMNS": "200"}).output
    assert "(default: 8)" in shown and "(default: linear)" in shown and "(default: 0.003)" in shown and "(default: 2000)" in shown


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    runs, quiet = tmp_path_factory.mktemp("surface"), {"progress": False, "device": "cpu"}
    treeseq.train("parser", SAMPLES / "sentiment", runs / "parser.pt", epochs=1, hidden_size=16,
                  overrides=["model.mlp_size=16", "model.embed_dim=8", "model.char_out=8"], **quiet)  # fmt: skip
    treeseq.train("tree", SAMPLES / "sentiment", runs / "sst.pt", epochs=1, embed_dim=12, hidden_size=12,
                  parser=runs / "parser.pt", **quiet)  # fmt: skip
    treeseq.train("tagger", SAMPLES / "pos", runs / "pos.pt", epochs=1, hidden_size=8, embed_dim=8, **quiet)
    treeseq.train("tagger", SAMPLES / "nlu", runs / "nlu.pt", epochs=1, hidden_size=8, embed_dim=8, **quiet)
    return {p.stem: p for p in runs.glob("*.pt") if not p.name.endswith(".last.pt")}


def test_output_stays_line_aligned_and_skip_bad_keeps_going(models: dict[str, Path], tmp_path: Path) -> None:
    lines = "It is good .\n\na b c d e f g\n(Spoilers) a fine film\n"
    stopped = runner.invoke(app, ["parse", "-m", str(models["parser"]), "--max-length", "6"], input=lines)
    assert stopped.exit_code == 2 and "<stdin>:3: 7 tokens is over the parser's limit of 6" in stopped.output
    kept = runner.invoke(app, ["parse", "-m", str(models["parser"]), "--max-length", "6", "--skip-bad", "-f", "jsonl"], input=lines)
    assert kept.exit_code == 0, kept.output
    records = [json.loads(line) for line in kept.stdout.splitlines()]
    assert len(records) == 4 and records[1] == {} and records[2] == {} and records[3]["tokens"][0] == "-LRB-"
    assert "1 line(s) skipped" in kept.output
    for command, model in (("classify", "sst"), ("tag", "pos"), ("tag", "nlu")):
        result = runner.invoke(app, [command, "-m", str(models[model]), "-f", "jsonl", "--batch-size", "2"], input=lines)
        assert result.exit_code == 0, result.output
        out = result.stdout.splitlines()
        assert len(out) == 4 and out[1] == "{}" and json.loads(out[3])["text"] == "(Spoilers) a fine film", command


def test_input_and_output_files(models: dict[str, Path], tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("The cat sat .\n\nA dog ran .\n", encoding="utf-8")
    target = tmp_path / "out" / "tags.jsonl"
    result = runner.invoke(app, ["tag", "-m", str(models["pos"]), "-i", str(source), "-o", str(target), "-f", "jsonl"])
    assert result.exit_code == 0 and result.stdout == ""
    direct = runner.invoke(app, ["tag", "-m", str(models["pos"]), "-f", "jsonl"], input=source.read_text(encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == direct.stdout and len(direct.stdout.splitlines()) == 3
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_stdin_is_checked_like_a_file(models: dict[str, Path]) -> None:
    result = runner.invoke(app, ["tag", "-m", str(models["pos"])], input=b"good line\nbad \xff byte\n")
    assert result.exit_code == 2 and "<stdin>:2:5: byte 0xff is not valid UTF-8" in result.output
    assert "Traceback" not in result.output


def test_conllu_from_arguments_and_refused_for_slot_models(models: dict[str, Path]) -> None:
    result = runner.invoke(app, ["tag", "-m", str(models["pos"]), "-f", "conllu", "The cat sat."])
    assert result.exit_code == 0 and result.stdout.startswith("# text = The cat sat.\n1\tThe\t_\t")
    assert len([line for line in result.stdout.splitlines() if line[:1].isdigit()]) == 4
    refused = runner.invoke(app, ["tag", "-m", str(models["nlu"]), "-f", "conllu", "flights to boston"])
    assert refused.exit_code == 2 and "not a CoNLL-U part-of-speech column" in refused.output


def test_evaluate_refuses_options_the_model_cannot_use_and_writes_predictions(models: dict[str, Path], tmp_path: Path) -> None:
    refused = runner.invoke(app, ["evaluate", "-m", str(models["pos"]), "--data-dir", str(SAMPLES / "pos"), "--beam", "3"])
    assert refused.exit_code == 2 and "--beam applies to translator models" in refused.output
    out = tmp_path / "pred.jsonl"
    result = runner.invoke(app, ["evaluate", "-m", str(models["sst"]), "--data-dir", str(SAMPLES / "sentiment"), "-f", "jsonl", "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(out.read_text(encoding="utf-8").splitlines()) == report["sentences"]


def test_resume_refuses_a_model_option_that_contradicts_the_checkpoint(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    base = ["train", "tagger", "--data-dir", str(SAMPLES / "pos"), "--output", str(out), "--hidden-size", "8", "--embed-dim", "8", "--quiet"]
    assert runner.invoke(app, [*base, "--epochs", "1"]).exit_code == 0
    refused = runner.invoke(app, [*base, "--epochs", "2", "--resume", "--hidden-size", "16"])
    assert refused.exit_code == 2 and "model.hidden_size is 8 in the checkpoint, not 16" in refused.output
    assert runner.invoke(app, [*base, "--epochs", "2", "--resume"]).exit_code == 0


def test_written_files_honour_the_umask(models: dict[str, Path], tmp_path: Path) -> None:
    import os

    previous = os.umask(0o027)
    try:
        out = tmp_path / "tags.txt"
        assert runner.invoke(app, ["tag", "-m", str(models["pos"]), "-o", str(out), "The cat sat ."]).exit_code == 0
        archive = tmp_path / "m.pt"
        treeseq.train("tagger", SAMPLES / "pos", archive, epochs=1, hidden_size=8, embed_dim=8, progress=False)
    finally:
        os.umask(previous)
    for path in (out, archive, archive.with_name("m.last.pt")):
        assert path.stat().st_mode & 0o777 == 0o640, path


def test_curve_and_corpora_speak_jsonl(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["corpora", "list", "-f", "jsonl"])
    names = [json.loads(line)["name"] for line in listed.output.splitlines()]
    assert listed.exit_code == 0 and "sst" in names and "multi30k" in names
    info = json.loads(runner.invoke(app, ["corpora", "info", "sst", "-f", "jsonl"]).output)
    assert info["name"] == "sst" and info["files"]


def test_reports_carry_per_class_tables_and_results_carry_offsets(models: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    data = tmp_path / "pos"
    shutil.copytree(SAMPLES / "pos", data)
    dev = data / "sample-ud-dev.conllu"
    unseen = "# sent_id = unseen\n1\tZyzzyva\t_\tNOUN\t_\t_\t0\troot\t_\t_\n2\tsat\t_\tVERB\t_\t_\t1\tdep\t_\t_\n\n"
    dev.write_text(dev.read_text(encoding="utf-8") + unseen, encoding="utf-8")
    pos = treeseq.evaluate(models["pos"], data, "dev")
    assert 1 <= pos.info["unseen_tokens"] <= 2 and 0 <= pos.metrics["unseen_acc"] <= 100  # Zyzzyva (and sat, if unseen)
    assert "NOUN" in [r[0] for r in pos.tables["by_tag"].rows]
    gold = sum(r[4] for r in pos.tables["by_tag"].rows)
    assert gold == pos.info["tokens"]  # every token counted once
    tree = treeseq.evaluate(models["sst"], SAMPLES / "sentiment", "dev")
    assert [r[0] for r in tree.tables["by_class"].rows] == ["very negative", "negative", "neutral", "positive", "very positive"]
    parsed = json.loads(runner.invoke(app, ["parse", "-m", str(models["parser"]), "-f", "jsonl", "It's (really) good."]).output)
    assert parsed["words"] == ["It", "'s", "(", "really", ")", "good", "."] and parsed["offsets"][2] == [5, 6]
    labelled = json.loads(runner.invoke(app, ["classify", "-m", str(models["sst"]), "-f", "jsonl", "It's (really) good."]).output)
    assert labelled["classes"][0] == "very negative" and labelled["offsets"][2] == [5, 6] and labelled["tokens"][2] == "-LRB-"


def test_user_text_is_never_markup(models: dict[str, Path], tmp_path: Path) -> None:
    shown = runner.invoke(app, ["classify", "-m", str(models["sst"]), "-f", "brackets", "--trees", "(X (X :smile:) (X [bold]x[/bold]))"])
    assert shown.exit_code == 0 and ":smile:" in shown.output and "[bold]x[/bold]" in shown.output
    text = runner.invoke(app, ["classify", "-m", str(models["sst"]), "--trees", "(X (X :smile:) (X [bold]y))"])
    assert ":smile:" in text.output and "[bold]y" in text.output
    missing = runner.invoke(app, ["tag", "-m", str(models["pos"]), "-i", str(tmp_path / "[red]gone.txt")])
    assert missing.exit_code == 2 and "[red]gone.txt: no such file" in missing.output


def _strict_json(text: str) -> dict:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_review_findings_stay_fixed(models: dict[str, Path], tmp_path: Path) -> None:
    tagger = treeseq.load(models["pos"])
    spaced = tagger.predict([["New York", "is", "big"]])[0]
    assert spaced.tokens == ("New York", "is", "big") and len(spaced.tags) == 3 and spaced.offsets[1] == (9, 11)
    streamed = list(tagger.predict_iter(["a b", "c d", "", "e"], batch_size=2))
    assert streamed[2] is None and [r.text for r in streamed if r] == ["a b", "c d", "e"]
    report = runner.invoke(app, ["evaluate", "-m", str(models["pos"]), "--data-dir", str(SAMPLES / "pos"), "-f", "jsonl"])
    assert report.exit_code == 0 and _strict_json(report.stdout)["unseen_acc"] is None  # nothing unseen: null, not NaN
    bare = tmp_path / "bare.pt"
    treeseq.train("tree", SAMPLES / "sentiment", bare, epochs=1, embed_dim=8, hidden_size=8, progress=False)
    stopped = runner.invoke(app, ["classify", "-m", str(bare), "--skip-bad"], input="a good film\n")
    assert stopped.exit_code == 2 and "carries no parser" in stopped.output  # a model-wide error is no bad line
    conllu = (SAMPLES / "pos" / "sample-ud-dev.conllu").read_text(encoding="utf-8")
    long = runner.invoke(app, ["tag", "-m", str(models["pos"]), "-f", "conllu", "--max-length", "3"], input=conllu)
    assert long.exit_code == 2 and "words is over the tagger's limit of 3" in long.output
    kept = runner.invoke(app, ["tag", "-m", str(models["pos"]), "-f", "conllu", "--max-length", "3", "--skip-bad"], input=conllu)
    assert kept.exit_code == 0 and kept.stdout.count("\n\n") == conllu.count("\n\n")  # every sentence written
    resumed = runner.invoke(app, ["train", "tagger", "--data-dir", str(SAMPLES / "pos"), "--output", str(tmp_path / "t.pt"),
                                  "--epochs", "1", "--hidden-size", "8", "--embed-dim", "8"])  # fmt: skip
    again = runner.invoke(app, ["train", "tagger", "--data-dir", str(SAMPLES / "pos"), "--output", str(tmp_path / "t.pt"),
                                "--epochs", "1", "--resume"])  # fmt: skip
    assert resumed.exit_code == 0 and again.exit_code == 0 and "best dev acc nan" not in again.output and "best dev acc" in again.output


def test_input_from_a_pipe(models: dict[str, Path], tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "lines"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w", encoding="utf-8") as handle:
            handle.write("The cat sat .\nA dog .\n")

    writer = threading.Thread(target=feed)
    writer.start()
    result = runner.invoke(app, ["tag", "-m", str(models["pos"]), "-i", str(fifo)])
    writer.join()
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2


def test_unwritable_outputs_are_one_line(models: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    train = runner.invoke(app, ["train", "tagger", "--data-dir", str(SAMPLES / "pos"), "--output", str(blocker / "m.pt"), "--epochs", "1"])
    assert train.exit_code == 1 and "cannot create its folder" in train.output and "Traceback" not in train.output
    tagged = runner.invoke(app, ["tag", "-m", str(models["pos"]), "-o", str(blocker / "out.txt"), "a b"])
    assert tagged.exit_code == 1 and "cannot write here" in tagged.output and "Traceback" not in tagged.output
    parsed = runner.invoke(app, ["evaluate", "-m", str(models["parser"]), "--data-dir", str(SAMPLES / "sentiment"), "--max-length", "400"])
    assert parsed.exit_code == 0, parsed.output  # --max-length applies to parsers too


def test_help_shows_bracketed_words_literally() -> None:
    """Typer renders help as Rich markup: an unescaped `[model]` would vanish from the page."""
    def walk(command, path: list[str]):  # noqa: ANN001, ANN202 (click commands)
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    checked = 0
    for path, command in walk(typer.main.get_command(app), []):
        texts = [command.help or ""] + [getattr(param, "help", None) or "" for param in command.params]
        words = {w.replace("\\[", "[") for text in texts for w in re.findall(r"\\?\[[a-z]+\]", text)}
        if not words:
            continue
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "400"}).output
        for word in words:
            assert word in shown, (path, word)
            checked += 1
    assert checked >= 3
