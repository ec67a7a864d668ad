"""Which files hold a tagging corpus's splits, reading them as sentences, and raw-text tokenization.

A data folder is one of: a UD treebank (`*-ud-train.conllu`, `*-ud-dev.conllu`, `*-ud-test.conllu`),
an ATIS/SNIPS folder (`train/`, `valid/`, `test/`, each with `seq.in`, `seq.out` and `label`), JSONL
files (`train.jsonl`, ...) or CoNLL column files (`train.conll` or `train.txt`, ...). `dev` and
`valid` name the same split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from treeseq.corpora.readers.atis import is_atis_folder, read_atis
from treeseq.corpora.readers.columns import read_columns
from treeseq.corpora.readers.conllu import UPOS, XPOS, ConlluSentence, read_conllu
from treeseq.corpora.readers.jsonl import read_jsonl
from treeseq.data.tagging import TaggedSentence
from treeseq.errors import CorpusFormatError

ALIASES = {"dev": ("dev", "valid", "validation"), "valid": ("valid", "dev", "validation")}
CONLLU_COLUMNS = {"upos": UPOS, "xpos": XPOS}


@dataclass
class Split:
    """One split as read: its format, where it is, the sentences, and the CoNLL-U lines when it is CoNLL-U."""

    kind: str  # conllu, atis, jsonl or columns
    path: Path
    sentences: list[TaggedSentence]
    conllu: list[ConlluSentence] | None = None


def find_split(data_dir: Path, split: str) -> tuple[str, Path]:
    """(format, path) of a split inside `data_dir`.

    Raises:
        CorpusFormatError: no file or folder for that split.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise CorpusFormatError(f"{data_dir}: no such data folder")
    for name in ALIASES.get(split, (split,)):
        found = sorted(data_dir.glob(f"*-ud-{name}.conllu"))
        if found:
            return "conllu", found[0]
        if is_atis_folder(data_dir / name):
            return "atis", data_dir / name
        for suffix, kind in ((".jsonl", "jsonl"), (".conll", "columns"), (".txt", "columns")):
            if (data_dir / f"{name}{suffix}").is_file():
                return kind, data_dir / f"{name}{suffix}"
    raise CorpusFormatError(
        f"{data_dir}: no {split} split (expected *-ud-{split}.conllu, {split}/seq.in + seq.out + label, "
        f"{split}.jsonl or {split}.conll)"
    )


def read_split(data_dir: Path, split: str, column: str = "upos", token_column: int = 0, tag_column: int = -1) -> Split:
    """Read a split of a tagging corpus (see the module docstring for the layouts)."""
    kind, path = find_split(data_dir, split)
    if kind == "conllu":
        conllu = read_conllu(path)
        return Split(kind, path, conllu_sentences(conllu, column, str(path)), conllu)
    if kind == "atis":
        return Split(kind, path, read_atis(path))
    if kind == "jsonl":
        return Split(kind, path, read_jsonl(path))
    return Split(kind, path, read_columns(path, token_column, tag_column))


def conllu_sentences(sentences: Sequence[ConlluSentence], column: str, source: str) -> list[TaggedSentence]:
    """The words of CoNLL-U sentences with the UPOS or XPOS column as tags (`_` counts as no tag)."""
    index = CONLLU_COLUMNS[column]
    out = []
    for sentence in sentences:
        tags = tuple(sentence.column(index))
        out.append(TaggedSentence(tuple(sentence.words), None if "_" in tags else tags, None,
                                  f"{source}:{sentence.first_line_no}"))  # fmt: skip
    return out


def check_tagged(sentences: Sequence[TaggedSentence], column: str = "tag") -> None:
    """Every sentence of training or evaluation data must carry tags.

    Raises:
        CorpusFormatError: `file:line:` of the first sentence without (complete) tags.
    """
    for sentence in sentences:
        if sentence.tags is None:
            raise CorpusFormatError(f"{sentence.where}: a sentence with words that have no {column} ('_' or missing)")
