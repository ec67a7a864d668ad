"""PTB-style bracketed treebanks (SST and friends): one tree a line."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from treeseq.errors import CorpusFormatError
from treeseq.files import read_lines
from treeseq.trees import BracketError, Tree

LabelCheck = Callable[[str | None], "str | None"]  # returns a problem, or None when the label is fine


def parse_tree_line(text: str, where: str, check_label: LabelCheck | None = None) -> Tree:
    """Parse one bracketed tree; errors are prefixed with `where` (e.g. `file:line`)."""
    if not text.strip():
        raise CorpusFormatError(f"{where}: empty line (expected a bracketed tree)")
    try:
        tree = Tree.from_brackets(text)
    except BracketError as err:
        raise CorpusFormatError(f"{where}:{err.column}: {err}") from None
    if check_label is not None:
        for label in tree.labels:
            problem = check_label(label)
            if problem:
                raise CorpusFormatError(f"{where}: {problem}")
    return tree


def read_trees(path: str | Path, check_label: LabelCheck | None = None) -> list[Tree]:
    """Read every tree of a treebank file.

    Raises:
        CorpusFormatError: `file:line[:column]: problem` for the first bad line.
    """
    return [parse_tree_line(line, f"{path}:{no}", check_label) for no, line in read_lines(path)]


def write_trees(trees: Iterable[Tree], path: str | Path) -> None:
    """Write trees one a line (not atomic: for tests and samples)."""
    Path(path).write_text("".join(t.to_brackets() + "\n" for t in trees), encoding="utf-8")
