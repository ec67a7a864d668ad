"""Parallel corpora: line-aligned file pairs (plain or gzip, e.g. Multi30k's train.de/train.en) and TSV.

Policy for bad lines: a mismatched line count or invalid UTF-8 always fails (`file:line: problem`),
because nothing after it can be trusted to be aligned. An empty or whitespace-only side is skipped and
counted (one warning per file pair), or fails with `strict=True`. Over-long pairs are handled after
subword encoding by the translator task, with the same policy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

from treeseq.data.parallel import SentencePair
from treeseq.errors import CorpusFormatError
from treeseq.files import read_lines

logger = logging.getLogger(__name__)


@dataclass
class ParallelData:
    """Pairs read from one split, and how many lines were skipped and why."""

    pairs: list[SentencePair]
    source: str
    skipped: dict[str, int] = field(default_factory=dict)


def find_file(data_dir: Path, name: str) -> Path:
    """`DIR/name` or `DIR/name.gz`.

    Raises:
        CorpusFormatError: neither exists.
    """
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise CorpusFormatError(f"{data_dir / name}: no such file (nor {name}.gz)")


def read_split(data_dir: Path, split: str, src: str, tgt: str, strict: bool = False) -> ParallelData:
    """NAME.src and NAME.tgt (gzip or not) in `data_dir`, or NAME.tsv (source TAB target)."""
    tsv = data_dir / f"{split}.tsv"
    if tsv.is_file() or (data_dir / f"{split}.tsv.gz").is_file():
        return read_tsv(find_file(data_dir, f"{split}.tsv"), strict)
    return read_aligned(find_file(data_dir, f"{split}.{src}"), find_file(data_dir, f"{split}.{tgt}"), strict)


def read_aligned(src_path: Path, tgt_path: Path, strict: bool = False) -> ParallelData:
    """Pairs from two line-aligned files.

    Raises:
        CorpusFormatError: the files have different line counts, invalid UTF-8, or (strict) an empty line.
    """
    data = ParallelData([], f"{src_path} + {tgt_path}")
    line_no = 0
    for line_no, (src, tgt) in enumerate(zip_longest(read_lines(src_path), read_lines(tgt_path)), start=1):
        if src is None or tgt is None:
            short, other = (src_path, tgt_path) if src is None else (tgt_path, src_path)
            raise CorpusFormatError(f"{short}:{line_no}: the file ends after {line_no - 1} lines but {other} goes on")
        _add(data, src[1], tgt[1], src_path, tgt_path, line_no, strict)
    _warn(data)
    return data


def read_tsv(path: Path, strict: bool = False) -> ParallelData:
    """Pairs from `source<TAB>target` lines.

    Raises:
        CorpusFormatError: a line without exactly one tab, invalid UTF-8, or (strict) an empty side.
    """
    data = ParallelData([], str(path))
    for line_no, line in read_lines(path):
        columns = line.split("\t")
        if len(columns) != 2:
            if not line.strip() and not strict:
                data.skipped["empty"] = data.skipped.get("empty", 0) + 1
                continue
            raise CorpusFormatError(f"{path}:{line_no}: expected 2 tab-separated columns, found {len(columns)}")
        _add(data, columns[0], columns[1], path, path, line_no, strict)
    _warn(data)
    return data


def _add(data: ParallelData, src: str, tgt: str, src_path: Path, tgt_path: Path, line_no: int, strict: bool) -> None:
    src, tgt = src.strip(), tgt.strip()
    if not src or not tgt:
        if strict:
            empty = src_path if not src else tgt_path
            raise CorpusFormatError(f"{empty}:{line_no}: empty or whitespace-only line (drop --strict to skip such pairs)")
        data.skipped["empty"] = data.skipped.get("empty", 0) + 1
        return
    data.pairs.append(SentencePair(src, tgt, f"{src_path}:{line_no}"))


def _warn(data: ParallelData) -> None:
    if data.skipped.get("empty"):
        logger.warning("%s: skipped %d pair(s) with an empty side", data.source, data.skipped["empty"])
    if not data.pairs:
        raise CorpusFormatError(f"{data.source}: no sentence pairs")
