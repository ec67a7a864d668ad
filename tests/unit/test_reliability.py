"""Bad input, damaged files and failing writes end in the project's own one-line errors, by class."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest
import torch

import treeseq
from treeseq.checkpoint import load_archive
from treeseq.errors import CheckpointError, CorpusFormatError, OutputError
from treeseq.files import json_objects, write_text_atomic

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "corpora" / "samples"


@pytest.mark.parametrize("version", [0, True, -3, "1"])
def test_archive_versions_that_are_not_whole_positive_numbers_are_refused(tmp_path: Path, version: object) -> None:
    path = tmp_path / "odd.pt"
    torch.save({"format": "treeseq-archive", "format_version": version, "task": "tree", "config": {}, "state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not a treeseq model archive"):
        load_archive(path)


@pytest.fixture(scope="module")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rel") / "pos.pt"
    treeseq.train("tagger", SAMPLES / "pos", out, epochs=1, hidden_size=8, embed_dim=8, progress=False)
    return out


@pytest.mark.parametrize("damage", ["no config", "missing weight", "changed tag count", "unknown config key"])
def test_damaged_archives_are_one_line(tagger: Path, tmp_path: Path, damage: str) -> None:
    archive = torch.load(tagger, weights_only=True)
    if damage == "no config":
        del archive["config"]
    elif damage == "missing weight":
        archive["state_dict"].pop(next(iter(archive["state_dict"])))
    elif damage == "changed tag count":
        archive["tags"] = archive["tags"][:-1]
    else:
        archive["config"]["model"]["surprise"] = 1
    path = tmp_path / "damaged.pt"
    torch.save(archive, path)
    with pytest.raises(CheckpointError, match="damaged"):
        treeseq.load(path)


def test_no_usable_training_data_is_a_one_line_error(tmp_path: Path) -> None:
    data = tmp_path / "sst"
    data.mkdir()
    (data / "train.txt").write_text("(2 (2 a) (2 b))\n(3 (2 a) (4 good))\n", encoding="utf-8")
    (data / "dev.txt").write_text("(2 (2 a) (2 b))\n", encoding="utf-8")  # only neutral roots
    with pytest.raises(CorpusFormatError, match=r"dev.txt: no usable trees .*labels binary drops"):
        treeseq.train("tree", data, tmp_path / "m.pt", labels="binary", epochs=1, progress=False)
    assert not (tmp_path / "m.metrics.jsonl").exists()


def test_an_nlu_dev_split_without_intents_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "nlu"
    shutil.copytree(SAMPLES / "nlu", data)
    (data / "valid" / "label").unlink()
    with pytest.raises(CorpusFormatError, match="without an intent .*no label file"):
        treeseq.train("tagger", data, tmp_path / "m.pt", epochs=1, progress=False)


def test_an_unwritable_output_folder_is_one_line(tmp_path: Path) -> None:
    """An output path under a regular file: no user, root included, can create it (a read-only folder
    stops everyone but root, so a test built on one would skip where the suite runs as root)."""
    blocker = tmp_path / "ro"
    blocker.write_text("a file, not a folder\n")
    with pytest.raises(OutputError, match="ro/out.txt: cannot write"):
        write_text_atomic("x", blocker / "out.txt")
    assert blocker.read_text() == "a file, not a folder\n" and sorted(p.name for p in tmp_path.iterdir()) == ["ro"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="ro/out.txt: cannot write"):
            write_text_atomic("x", folder / "out.txt")
    finally:
        folder.chmod(0o700)


def test_a_failing_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OutputError, match="out.txt: cannot write .No space left on device"):
        write_text_atomic("new\n", target)
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_deep_json_and_odd_epochs_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(CorpusFormatError, match=r"x.jsonl:1:101: not valid JSON \(nested more than 100 levels deep\)"):
        list(json_objects([(1, "[" * 100_000 + "]" * 100_000)], "x.jsonl"))
    from treeseq.curves import read_epochs

    log = tmp_path / "m.metrics.jsonl"
    log.write_text('{"epoch": null, "dev_acc": 50}\n')
    with pytest.raises(CorpusFormatError, match="m.metrics.jsonl:1: epoch None is not a whole number"):
        read_epochs(log)


@pytest.mark.parametrize("variant", ["truncated", "corrupt", "plain text named .gz"])
def test_broken_gzip_corpora_are_one_line(tmp_path: Path, variant: str) -> None:
    from treeseq.corpora.readers.ptb import read_trees

    text = (SAMPLES / "sentiment" / "dev.txt").read_bytes()
    packed = gzip.compress(text)
    data = {"truncated": packed[: len(packed) // 2], "corrupt": packed[:20] + b"\x00" * 40 + packed[60:],
            "plain text named .gz": text}[variant]  # fmt: skip
    path = tmp_path / "dev.txt.gz"
    path.write_bytes(data)
    with pytest.raises(CorpusFormatError, match="dev.txt.gz"):
        read_trees(path)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    from treeseq.corpora.readers.conllu import read_conllu
    from treeseq.corpora.readers.ptb import read_trees

    trees = tmp_path / "t.txt"
    trees.write_bytes(b"\xef\xbb\xbf(3 (2 a) (4 b))\n")
    assert read_trees(trees)[0].tokens == ("a", "b")
    conllu = tmp_path / "c.conllu"
    conllu.write_bytes(b"\xef\xbb\xbf1\tHi\t_\tINTJ\t_\t_\t0\troot\t_\t_\n\n")
    assert read_conllu(conllu)[0].words == ["Hi"]
