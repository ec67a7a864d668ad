"""CoNLL-U: sentences with their comments and all ten columns, kept byte for byte.

Multiword-token ranges (`1-2`) and empty nodes (`8.1`) are kept as lines but are not words: they
carry no tag and no head in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from treeseq.errors import CorpusFormatError
from treeseq.files import read_lines
from treeseq.trees import Tree

ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD, DEPREL, DEPS, MISC = range(10)


@dataclass
class ConlluSentence:
    """One sentence: every line as read, and which lines are words (integer ids)."""

    lines: list[str]  # comments and token lines, without newlines
    word_lines: list[int] = field(default_factory=list)  # indices into `lines` of the words
    first_line_no: int = 1  # where the sentence starts in its file

    def columns(self, index: int) -> list[str]:
        return self.lines[self.word_lines[index]].split("\t")

    @property
    def words(self) -> list[str]:
        return [self.columns(i)[FORM] for i in range(len(self.word_lines))]

    def column(self, col: int) -> list[str]:
        return [self.columns(i)[col] for i in range(len(self.word_lines))]

    def with_column(self, col: int, values: list[str]) -> ConlluSentence:
        """A copy with one column of the words replaced; every other byte stays as it was."""
        if len(values) != len(self.word_lines):
            raise ValueError(f"{len(values)} values for {len(self.word_lines)} words")
        lines = list(self.lines)
        for value, index in zip(values, self.word_lines):
            parts = lines[index].split("\t")
            parts[col] = value
            lines[index] = "\t".join(parts)
        return ConlluSentence(lines, list(self.word_lines), self.first_line_no)

    def tree(self, source: str = "<conllu>") -> Tree:
        """The dependency tree of the words (labels: DEPREL).

        Raises:
            CorpusFormatError: `source:line: problem` for heads that make no tree (missing, no single
                root, a cycle).
        """
        where = f"{source}:{self.first_line_no}"
        heads = self.column(HEAD)
        if "_" in heads:
            raise CorpusFormatError(f"{where}: a word without a head ('_'): no dependency tree")
        try:
            return Tree.from_heads(self.words, [int(h) for h in heads], self.column(DEPREL))
        except ValueError as err:
            raise CorpusFormatError(f"{where}: {err}") from None


def read_conllu(path: str | Path) -> list[ConlluSentence]:
    """Read every sentence of a CoNLL-U file.

    Raises:
        CorpusFormatError: `file:line: problem` for a line without 10 columns, a bad id or head.
    """
    return list(parse_conllu_lines(read_lines(path), str(path)))


def parse_conllu_lines(lines: Iterable[tuple[int, str]], source: str) -> Iterator[ConlluSentence]:
    """Sentences from numbered lines (`(line number, text)`), lazily; `source` names them in errors."""
    current: ConlluSentence | None = None
    for line_no, line in lines:
        if not line.strip():
            if current is not None:
                _check(current, source)
                yield current
            current = None
            continue
        if current is None:
            current = ConlluSentence([], [], line_no)
        current.lines.append(line)
        if line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 10:
            raise CorpusFormatError(f"{source}:{line_no}: expected 10 tab-separated columns, found {len(parts)}")
        token_id = parts[ID]
        if _is_number(token_id):
            if int(token_id) != len(current.word_lines) + 1:
                raise CorpusFormatError(f"{source}:{line_no}: word id {token_id}, expected {len(current.word_lines) + 1}")
            if not _is_number(parts[HEAD]) and parts[HEAD] != "_":
                raise CorpusFormatError(f"{source}:{line_no}: head {parts[HEAD]!r} is not a number")
            current.word_lines.append(len(current.lines) - 1)
        elif not _is_range_or_empty(token_id):
            raise CorpusFormatError(f"{source}:{line_no}: bad token id {token_id!r}")
    if current is not None:
        _check(current, source)
        yield current


def _is_number(text: str) -> bool:
    """ASCII digits only: `str.isdigit` also accepts "²", which `int` refuses."""
    return text.isascii() and text.isdigit()


def _is_range_or_empty(token_id: str) -> bool:
    for sep in ("-", "."):
        left, found, right = token_id.partition(sep)
        if found and _is_number(left) and _is_number(right):
            return True
    return False


def _check(sentence: ConlluSentence, source: str) -> None:
    if not sentence.word_lines:
        raise CorpusFormatError(f"{source}:{sentence.first_line_no}: a sentence with no words")
    words = len(sentence.word_lines)
    for line in sentence.word_lines:
        head = sentence.lines[line].split("\t")[HEAD]
        if head != "_" and int(head) > words:
            raise CorpusFormatError(f"{source}:{sentence.first_line_no + line}: head {head} is beyond the sentence's {words} words")


def write_conllu(sentences: Iterable[ConlluSentence]) -> str:
    """The text of a CoNLL-U file: each sentence's lines, then a blank line."""
    return "".join("\n".join(s.lines) + "\n\n" for s in sentences)
