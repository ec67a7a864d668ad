"""ATIS/SNIPS-style folders: `seq.in` (tokens), `seq.out` (one tag per token) and `label` (one intent).

All three files are line-aligned, one sentence a line, tokens and tags separated by spaces. `label`
is optional (slot filling only); a few ATIS intents are joined with `#` and are kept as one label.
"""

from __future__ import annotations

from pathlib import Path

from treeseq.data.tagging import TaggedSentence
from treeseq.errors import CorpusFormatError
from treeseq.files import read_lines
from treeseq.tags import is_chunk_tag

FILES = ("seq.in", "seq.out", "label")


def is_atis_folder(folder: Path) -> bool:
    return (folder / "seq.in").is_file() and (folder / "seq.out").is_file()


def read_atis(folder: str | Path) -> list[TaggedSentence]:
    """Read one split folder.

    Raises:
        CorpusFormatError: `file:line: problem` for an empty sentence, a tag count that differs from
            the token count, a tag that is not `O` or `B-/I-/E-/S-TYPE`, an empty intent, or files
            with different numbers of lines.
    """
    folder = Path(folder)
    token_lines = list(read_lines(folder / "seq.in"))
    tag_lines = list(read_lines(folder / "seq.out"))
    label_path = folder / "label"
    label_lines = list(read_lines(label_path)) if label_path.is_file() else None
    _same_length(folder, token_lines, tag_lines, label_lines)
    sentences = []
    for index, ((line_no, text), (_, tag_text)) in enumerate(zip(token_lines, tag_lines)):
        tokens, tags = tuple(text.split()), tuple(tag_text.split())
        if not tokens:
            raise CorpusFormatError(f"{folder / 'seq.in'}:{line_no}: an empty sentence")
        if len(tags) != len(tokens):
            raise CorpusFormatError(f"{folder / 'seq.out'}:{line_no}: {len(tags)} tags for {len(tokens)} tokens in seq.in")
        bad = next((t for t in tags if not is_chunk_tag(t)), None)
        if bad is not None:
            raise CorpusFormatError(f"{folder / 'seq.out'}:{line_no}: tag {bad!r} is not O or B-/I-/E-/S-TYPE")
        intent = None
        if label_lines is not None:
            intent = label_lines[index][1].strip()
            if not intent:
                raise CorpusFormatError(f"{label_path}:{line_no}: an empty intent")
        sentences.append(TaggedSentence(tokens, tags, intent, f"{folder / 'seq.in'}:{line_no}"))
    return sentences


def _same_length(folder: Path, tokens: list, tags: list, labels: list | None) -> None:
    for name, lines in (("seq.out", tags), ("label", labels)):
        if lines is not None and len(lines) != len(tokens):
            line = min(len(lines), len(tokens)) + 1
            raise CorpusFormatError(
                f"{folder / name}:{line}: {len(lines)} lines, but seq.in has {len(tokens)} (files must be line-aligned)"
            )


def write_atis(sentences: list[TaggedSentence], folder: str | Path) -> None:
    """Write sentences as an ATIS-style folder (seq.in, seq.out and, when intents are given, label)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "seq.in").write_text("".join(" ".join(s.tokens) + "\n" for s in sentences), encoding="utf-8")
    (folder / "seq.out").write_text("".join(" ".join(s.tags or ()) + "\n" for s in sentences), encoding="utf-8")
    if all(s.intent is not None for s in sentences):
        (folder / "label").write_text("".join(f"{s.intent}\n" for s in sentences), encoding="utf-8")
