from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from treeseq.corpora.readers.parallel import read_aligned, read_split, read_tsv
from treeseq.data.parallel import pair_batches
from treeseq.errors import CorpusFormatError


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8")) if not path.suffix == ".gz" else path.write_bytes(gzip.compress(text.encode()))
    return path


def test_misaligned_files_fail_with_file_and_line(tmp_path: Path) -> None:
    src, tgt = write(tmp_path / "a.de", "eins\nzwei\ndrei\n"), write(tmp_path / "a.en", "one\ntwo\n")
    with pytest.raises(CorpusFormatError, match=r"a\.en:3: the file ends after 2 lines"):
        read_aligned(src, tgt)


def test_empty_lines_are_skipped_and_counted_or_fail_when_strict(tmp_path: Path) -> None:
    write(tmp_path / "train.de.gz", "eins\n  \ndrei\n")
    write(tmp_path / "train.en", "one\ntwo\nthree\n")
    data = read_split(tmp_path, "train", "de", "en")
    assert [p.tgt for p in data.pairs] == ["one", "three"] and data.skipped == {"empty": 1}
    assert data.pairs[1].where.endswith("train.de.gz:3")
    with pytest.raises(CorpusFormatError, match=r"train\.de\.gz:2: empty"):
        read_split(tmp_path, "train", "de", "en", strict=True)


def test_invalid_utf8_and_bad_tsv_point_at_the_line(tmp_path: Path) -> None:
    (tmp_path / "b.de").write_bytes(b"gut\n\xff\n")
    write(tmp_path / "b.en", "good\nbad\n")
    with pytest.raises(CorpusFormatError, match=r"b\.de:2:1: byte 0xff"):
        read_aligned(tmp_path / "b.de", tmp_path / "b.en")
    with pytest.raises(CorpusFormatError, match=r"c\.tsv:2: expected 2 tab-separated columns"):
        read_tsv(write(tmp_path / "c.tsv", "a\tb\nno tab\n"))


def test_pair_batches_respect_the_budget_and_cover_every_pair() -> None:
    rng = random.Random(0)
    lengths = [(rng.randint(1, 30), rng.randint(1, 30)) for _ in range(500)]
    batches = pair_batches(lengths, 200, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        assert len(batch) * max(max(lengths[i]) + 1 for i in batch) <= 200
    assert batches == pair_batches(lengths, 200, random.Random(1))
