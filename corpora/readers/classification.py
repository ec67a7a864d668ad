"""Sentence classification corpora: one label per sentence, in one of four layouts.

- SST-style treebanks (`train.txt`, `dev.txt`: a bracketed tree a line): the sentence is the tree's
  tokens and its label the root's; with `phrases`, every labelled phrase is an example too (each
  distinct phrase once, as Tai et al. 2015 trained their sequence baselines).
- ATIS/SNIPS folders (`train/`, `valid/` with `seq.in` and `label`): the intent only; `seq.out` is
  not read. A multi-intent label such as `atis_flight#atis_airfare` is one class.
- TSV (`train.tsv`, `dev.tsv`): `label<TAB>text` a line.
- JSONL (`train.jsonl`, `dev.jsonl`): `{"text": ..., "label": ...}` a line (or `"tokens": [...]`).

`dev`, `valid` and `validation` name the same split. Blank lines are skipped in TSV and JSONL files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from treeseq.corpora.readers.ptb import LabelCheck, read_trees
from treeseq.data.classification import LabelledText
from treeseq.errors import CorpusFormatError
from treeseq.files import json_objects, read_lines
from treeseq.trees import Tree

FORMATS = ("sst", "atis", "tsv", "jsonl")
ALIASES = {"dev": ("dev", "valid", "validation"), "valid": ("valid", "dev", "validation")}


@dataclass
class Split:
    """One split as read: its layout (sst, atis, tsv or jsonl), where it is, and its examples."""

    format: str
    path: Path
    items: list[LabelledText]


def find_split(data_dir: str | Path, split: str) -> tuple[str, Path]:
    """(layout, path) of a split inside `data_dir`.

    Raises:
        CorpusFormatError: no such folder, or no file for that split.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise CorpusFormatError(f"{data_dir}: no such data folder")
    for name in ALIASES.get(split, (split,)):
        if (data_dir / name / "seq.in").is_file():
            return "atis", data_dir / name
        for suffix, kind in ((".tsv", "tsv"), (".jsonl", "jsonl"), (".txt", "sst")):
            if (data_dir / f"{name}{suffix}").is_file():
                return kind, data_dir / f"{name}{suffix}"
    raise CorpusFormatError(
        f"{data_dir}: no {split} split (expected {split}.txt of bracketed trees, {split}/seq.in + label, "
        f"{split}.tsv or {split}.jsonl)"
    )


def read_split(data_dir: str | Path, split: str, *, check_label: LabelCheck | None = None, phrases: bool = False) -> Split:
    """Read one split (see the module docstring); `check_label` checks treebank labels, `phrases`
    adds every labelled phrase of a treebank."""
    kind, path = find_split(data_dir, split)
    if kind == "sst":
        return Split(kind, path, tree_items(read_trees(path, check_label), str(path), phrases))
    if kind == "atis":
        return Split(kind, path, read_intents(path))
    return Split(kind, path, read_tsv(path) if kind == "tsv" else read_text_jsonl(path))


def tree_items(trees: Sequence[Tree], source: str, phrases: bool = False) -> list[LabelledText]:
    """Each tree's sentence with its root label (tree i is line i + 1 of `source`); with `phrases`
    also every labelled phrase, each (tokens, label) once over the whole treebank."""
    out = [LabelledText(tree.tokens, tree.labels[tree.root], f"{source}:{n}") for n, tree in enumerate(trees, start=1)]
    if not phrases:
        return out
    seen = {(item.tokens, item.label) for item in out}
    for n, tree in enumerate(trees, start=1):
        spans = tree.spans()
        for node, _ in tree.preorder():
            label = tree.labels[node]
            start, end = spans[node]
            key = (tree.tokens[start:end], label)
            if label is None or key in seen:
                continue
            seen.add(key)
            out.append(LabelledText(key[0], label, f"{source}:{n}", phrase=True))
    return out


def read_intents(folder: str | Path) -> list[LabelledText]:
    """Sentences (`seq.in`, tokens separated by spaces) and their intents (`label`), line by line.

    Raises:
        CorpusFormatError: `file:line: problem` for a missing label file, files with different numbers
            of lines, an empty sentence or an empty intent.
    """
    folder = Path(folder)
    label_path = folder / "label"
    if not label_path.is_file():
        raise CorpusFormatError(f"{label_path}: no such file (a classifier needs one intent a line beside seq.in)")
    token_lines, label_lines = list(read_lines(folder / "seq.in")), list(read_lines(label_path))
    if len(token_lines) != len(label_lines):
        line = min(len(token_lines), len(label_lines)) + 1
        raise CorpusFormatError(f"{label_path}:{line}: {len(label_lines)} lines, but seq.in has {len(token_lines)} "
                                "(files must be line-aligned)")  # fmt: skip
    out = []
    for (line_no, text), (_, label) in zip(token_lines, label_lines):
        tokens = tuple(text.split())
        if not tokens:
            raise CorpusFormatError(f"{folder / 'seq.in'}:{line_no}: an empty sentence")
        if not label.strip():
            raise CorpusFormatError(f"{label_path}:{line_no}: an empty intent")
        out.append(LabelledText(tokens, label.strip(), f"{folder / 'seq.in'}:{line_no}"))
    return out


def read_tsv(path: str | Path) -> list[LabelledText]:
    """`label<TAB>text` lines (label and text stripped of surrounding whitespace; the text keeps any
    further tabs); blank lines are skipped.

    Raises:
        CorpusFormatError: `file:line: problem` for a line without a tab, an empty label or text, bytes
            that are not UTF-8, or an empty file.
    """
    return parse_tsv_lines(read_lines(path), str(path))


def parse_tsv_lines(lines: Iterable[tuple[int, str]], source: str) -> list[LabelledText]:
    out = []
    for line_no, line in lines:
        if not line.strip():
            continue
        where = f"{source}:{line_no}"
        if "\t" not in line:
            raise CorpusFormatError(f"{where}: no tab (expected LABEL<TAB>TEXT)")
        label, text = (part.strip() for part in line.split("\t", 1))
        if not label:
            raise CorpusFormatError(f"{where}: an empty label")
        if not text:
            raise CorpusFormatError(f"{where}: an empty text")
        out.append(LabelledText(None, label, where, text))
    return out


def read_text_jsonl(path: str | Path) -> list[LabelledText]:
    """One object a line: `text` (a string) or `tokens` (a list of strings), and `label` (a string or
    a number, read as its string); blank lines are skipped.

    Raises:
        CorpusFormatError: `file:line: problem` for invalid JSON, no label, or an empty text.
    """
    out = []
    for line_no, record in json_objects(read_lines(path), str(path)):
        where = f"{path}:{line_no}"
        label = record.get("label")
        if isinstance(label, bool) or not isinstance(label, (str, int)) or not str(label).strip():
            raise CorpusFormatError(f"{where}: 'label' must be a non-empty string or an integer")
        tokens, text = record.get("tokens"), record.get("text")
        if tokens is not None:
            if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) and t.strip() for t in tokens):
                raise CorpusFormatError(f"{where}: 'tokens' must be a non-empty list of non-empty strings")
            out.append(LabelledText(tuple(tokens), str(label).strip(), where, " ".join(tokens)))
        elif isinstance(text, str) and text.strip():
            out.append(LabelledText(None, str(label).strip(), where, text.strip()))
        else:
            raise CorpusFormatError(f"{where}: an empty text (expected a non-empty 'text' string or a 'tokens' list)")
    return out


def write_tsv(items: Iterable[tuple[str, str]], path: str | Path) -> None:
    """Write (label, text) pairs as `label<TAB>text` lines (not atomic: for tests and samples)."""
    Path(path).write_text("".join(f"{label}\t{text}\n" for label, text in items), encoding="utf-8")
