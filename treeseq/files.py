"""Files, written once for the whole library: line and JSON-lines reading with `file:line` errors,
and atomic writing (a temporary file beside the target, then a rename), so a reader never sees a
half-written file and an interrupted write leaves the old file intact.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import tempfile
import zlib
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from treeseq.errors import CorpusFormatError, OutputError


def read_lines(path: str | Path, allow_empty: bool = False) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline) from a UTF-8 file, plain or gzip.

    A byte-order mark at the start is dropped.

    Raises:
        CorpusFormatError: the file is missing, empty (unless `allow_empty`), not valid gzip (truncated, corrupt, or plain text
            named .gz), or a line is not valid UTF-8.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusFormatError(f"{path}: no such file")
    if path.is_dir():
        raise CorpusFormatError(f"{path}: a folder, not a file")
    opener = gzip.open if path.suffix == ".gz" else open
    seen_any = False
    try:
        with opener(path, "rb") as handle:
            for line_no, line in decode_lines(handle, str(path)):
                seen_any = True
                yield line_no, line
    except (EOFError, OSError, zlib.error) as err:  # gzip: truncated (EOFError), not gzip or corrupt
        if isinstance(err, FileNotFoundError) or not path.suffix == ".gz":
            raise CorpusFormatError(f"{path}: cannot be read ({err.strerror or err})") from None
        raise CorpusFormatError(f"{path}: not a valid gzip file ({err or type(err).__name__})") from None
    if not seen_any and not allow_empty:
        raise CorpusFormatError(f"{path}:1: the file is empty")


def decode_lines(handle: IO[bytes], source: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its line end) of a byte stream, lazily; a byte-order mark at
    the start is dropped.

    Raises:
        CorpusFormatError: `source:line:column: byte 0x.. is not valid UTF-8`.
    """
    for line_no, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise CorpusFormatError(f"{source}:{line_no}:{err.start + 1}: byte 0x{raw[err.start]:02x} is not valid UTF-8") from None
        if line_no == 1 and line.startswith("\ufeff"):
            line = line[1:]
        yield line_no, line.rstrip("\r\n")


MAX_JSON_DEPTH = 100  # nesting levels of a JSON value; deeper is refused with its position
MAX_JSON_DIGITS = 100  # digits of a JSON integer; longer is refused with its position
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]|-?\d+')


class JSONProblem(ValueError):
    """Text that is not JSON the library takes: `message` and `position` (0-based character index)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at character {position + 1}")
        self.message, self.position = message, position


def parse_json(text: str, *, max_depth: int = MAX_JSON_DEPTH, max_digits: int = MAX_JSON_DIGITS) -> Any:
    """A JSON value, with bounds Python's own parser lacks: nesting at most `max_depth` deep (its
    recursion would fail without a position) and integers of at most `max_digits` digits (beyond
    4,300 it would raise a bare ValueError, and converting one costs time quadratic in its length).

    Raises:
        JSONProblem: invalid JSON, too deep or too long a number, with the character where it is.
    """
    if text.count("[") + text.count("{") > max_depth:
        _check_depth(text, max_depth)

    def checked_int(digits: str) -> int:
        if len(digits.lstrip("-")) > max_digits:
            raise _LongNumber(digits)
        return int(digits)

    try:
        return json.loads(text, parse_int=checked_int)
    except json.JSONDecodeError as err:
        raise JSONProblem(err.msg, err.pos) from None
    except _LongNumber as err:
        raise JSONProblem(f"a number of {len(err.digits.lstrip('-')):,} digits (at most {max_digits})",
                          _find_token(text, err.digits)) from None  # fmt: skip
    except RecursionError:  # not reached after the depth check; kept for safety
        raise JSONProblem(f"nested more than {max_depth} levels deep", 0) from None


class _LongNumber(Exception):
    def __init__(self, digits: str) -> None:
        super().__init__(digits[:20])
        self.digits = digits


def _check_depth(text: str, max_depth: int) -> None:
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        kind = token.group()[0]
        if kind in "[{":
            depth += 1
            if depth > max_depth:
                raise JSONProblem(f"nested more than {max_depth} levels deep", token.start())
        elif kind in "]}":
            depth -= 1


def _find_token(text: str, digits: str) -> int:
    """Where a number token (outside strings) is in `text`."""
    for token in _JSON_TOKEN.finditer(text):
        if token.group() == digits:
            return token.start()
    return 0


def json_objects(lines: Iterable[tuple[int, str]], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of JSON lines (`parse_json`'s bounds).

    Raises:
        CorpusFormatError: `source:line:column: not valid JSON (...)`, or a line that is not an object.
    """
    for line_no, line in lines:
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except JSONProblem as err:
            raise CorpusFormatError(f"{source}:{line_no}:{err.position + 1}: not valid JSON ({err.message})") from None
        if not isinstance(record, dict):
            raise CorpusFormatError(f"{source}:{line_no}: expected a JSON object")
        yield line_no, record


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed over `path` when the block ends without error.

    The parent folder is created. The file gets the permissions a plainly created file would (0666
    less the umask), not the temporary file's private 0600. On an error (or Ctrl-C) the temporary file
    is removed and `path` is left as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as err:
        raise OutputError(f"{path}: cannot write here ({err.strerror or err})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:  # a full disk, a folder made read-only meanwhile
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write ({err.strerror or err})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; set it straight back
    os.umask(mask)
    return mask


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write a UTF-8 text file atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
