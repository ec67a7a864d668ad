"""Line-oriented reading that turns bad bytes and empty files into `file:line: problem` errors."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator

from treeseq.errors import CorpusFormatError


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) from a UTF-8 file, plain or gzip.

    Raises:
        CorpusFormatError: the file is missing or empty, or a line is not valid UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusFormatError(f"{path}: no such file")
    opener = gzip.open if path.suffix == ".gz" else open
    seen_any = False
    with opener(path, "rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            seen_any = True
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise CorpusFormatError(
                    f"{path}:{line_no}:{err.start + 1}: byte 0x{raw[err.start]:02x} is not valid UTF-8"
                ) from None
            yield line_no, line.rstrip("\r\n")
    if not seen_any:
        raise CorpusFormatError(f"{path}:1: the file is empty")
