"""JSONL sentences: one object a line with `tokens` (a list of strings) or `text` (tokenized with
spaCy's blank English tokenizer), optional `tags` (one per token) and optional `intent`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from treeseq.data.tagging import TaggedSentence
from treeseq.errors import CorpusFormatError
from treeseq.files import json_objects, read_lines


def read_jsonl(path: str | Path) -> list[TaggedSentence]:
    """Read tagged (or untagged) sentences from a JSONL file.

    Raises:
        CorpusFormatError: `file:line: problem` for invalid JSON, no tokens, or a tag count mismatch.
    """
    return parse_jsonl_lines(((n, line) for n, line in read_lines(path)), str(path))


def parse_jsonl_lines(lines: Iterable[tuple[int, str]], source: str) -> list[TaggedSentence]:
    """Parse (line number, text) pairs; blank lines are skipped."""
    from treeseq.tokenize import blank_tokens  # noqa: PLC0415 (spaCy only when a record needs it)

    sentences = []
    for line_no, record in json_objects(lines, source):
        where = f"{source}:{line_no}"
        tokens, offsets = record.get("tokens"), None
        if tokens is None and isinstance(record.get("text"), str):
            tokens, offsets = blank_tokens([record["text"]])[0]
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
            raise CorpusFormatError(f"{where}: 'tokens' must be a list of non-empty strings (or give 'text')")
        if not tokens:
            raise CorpusFormatError(f"{where}: an empty sentence")
        tags = record.get("tags")
        if tags is not None and (not isinstance(tags, list) or len(tags) != len(tokens)):
            count = len(tags) if isinstance(tags, list) else "no list of"
            raise CorpusFormatError(f"{where}: {count} tags for {len(tokens)} tokens")
        intent = record.get("intent")
        sentences.append(TaggedSentence(tuple(tokens), tuple(map(str, tags)) if tags else None,
                                        None if intent is None else str(intent), where,
                                        tuple(offsets) if offsets else None))  # fmt: skip
    return sentences
