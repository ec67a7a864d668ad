"""CoNLL column files (CoNLL-2003 style): one token a line, whitespace-separated columns, blank lines
between sentences, `-DOCSTART-` lines ignored. Which column holds the token and which the tag is
configurable (default: first and last).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from treeseq.data.tagging import TaggedSentence
from treeseq.errors import CorpusFormatError
from treeseq.files import read_lines


def read_columns(path: str | Path, token_column: int = 0, tag_column: int = -1) -> list[TaggedSentence]:
    """Read every sentence of a column file.

    Raises:
        CorpusFormatError: `file:line: problem` for a line without the token or tag column, or with
            another number of columns than the first line (a file of plain sentences is not a column file).
    """
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    first, width = 0, 0
    for line_no, line in read_lines(path):
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if tokens:
                sentences.append(TaggedSentence(tuple(tokens), tuple(tags), None, f"{path}:{first}"))
                tokens, tags = [], []
            continue
        if len(parts) < 2 or not all(-len(parts) <= col < len(parts) for col in (token_column, tag_column)):
            raise CorpusFormatError(f"{path}:{line_no}: {len(parts)} column(s), expected a token and a tag column")
        width = width or len(parts)
        if len(parts) != width:
            raise CorpusFormatError(f"{path}:{line_no}: {len(parts)} columns, but the file's first line has {width}; a CoNLL "
                                    "column file has one token a line and the same columns on every line (not plain sentences)")  # fmt: skip
        if not tokens:
            first = line_no
        tokens.append(parts[token_column])
        tags.append(parts[tag_column])
    if tokens:
        sentences.append(TaggedSentence(tuple(tokens), tuple(tags), None, f"{path}:{first}"))
    if not sentences:
        raise CorpusFormatError(f"{path}:1: no sentences (only blank or -DOCSTART- lines)")
    return sentences


def write_columns(sentences: Iterable[tuple[Iterable[str], Iterable[str]]]) -> str:
    """The text of a two-column file (token, tag) for (tokens, tags) pairs."""
    blocks = ("".join(f"{token} {tag}\n" for token, tag in zip(tokens, tags)) for tokens, tags in sentences)
    return "\n".join(blocks)
