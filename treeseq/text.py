"""What a text is, defined once: which texts are blank, and which are not valid Unicode.

A blank text is one made only of the characters Python's `str.isspace` accepts (the library's
`text.strip()`); the browser page gets the same set from the server (`BLANK_PATTERN`), since
JavaScript's `trim()` keeps U+001C..U+001F and U+0085 and drops U+FEFF.

Python lets a `str` hold lone surrogates (U+D800..U+DFFF): JSON's `"\\ud800"` decodes to one, and a
command-line argument that is not UTF-8 arrives with its bad bytes as U+DC80..U+DCFF. Such a text
cannot be written, tokenized or echoed as UTF-8, so every entry point refuses it with its position.
"""

from __future__ import annotations

import re

from treeseq.errors import CorpusFormatError

# Every character `str.isspace` accepts (a test checks the list against Python's own).
BLANK_CHARACTERS = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _character_class(characters: str) -> str:
    """A regular-expression class for `characters`, written with \\uXXXX escapes (JavaScript reads it too)."""
    return "[" + "".join(f"\\u{ord(c):04x}" for c in characters) + "]"


# The blank-line test as a pattern both Python's `re` and JavaScript's RegExp read the same way.
BLANK_PATTERN = f"^{_character_class(BLANK_CHARACTERS)}*$"


def is_blank(text: str) -> bool:
    """Whether a text holds nothing but whitespace (`str.isspace`), i.e. gives an empty record."""
    return not text.strip()


def unicode_problem(text: str) -> str | None:
    """`COLUMN: problem` for the first character of `text` that is not valid Unicode, else None.

    A surrogate from a byte that was not UTF-8 (Python's surrogateescape) is named as that byte.
    """
    if text.isascii():
        return None
    found = _SURROGATE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"{found.start() + 1}: byte 0x{code - 0xDC00:02x} is not valid UTF-8"
    return f"{found.start() + 1}: a lone surrogate U+{code:04X} is not valid Unicode"


def check_unicode(text: str, where: str) -> None:
    """Raise CorpusFormatError (`where:COLUMN: problem`) for a text that is not valid Unicode."""
    problem = unicode_problem(text)
    if problem is not None:
        raise CorpusFormatError(f"{where}:{problem}")


_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # where str.splitlines splits


def check_label(label: str, where: str, what: str = "label") -> None:
    """Raise CorpusFormatError (`where: problem`) for a label (a class, tag or intent) that is not one
    line: printed, it would add output lines and break the line alignment of every command."""
    found = _LINE_BREAK.search(label)
    if found is not None:
        raise CorpusFormatError(f"{where}: the {what} {label[:40]!r} holds a line break (U+{ord(found.group()):04X}); a {what} is one line")
