"""Which files hold a tagging corpus's splits, reading them as sentences, and raw-text tokenization.

A data folder is one of: a UD treebank (`*-ud-train.conllu`, `*-ud-dev.conllu`, `*-ud-test.conllu`),
an ATIS/SNIPS folder (`train/`, `valid/`, `test/`, each with `seq.in`, `seq.out` and `label`), JSONL
files (`train.jsonl`, ...) or CoNLL column files (`train.conll` or `train.txt`, ...), or a layout
registered with `register_tagging_format` (docs/contributing.md). `dev` and `valid` name the same split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from treeseq.corpora.readers.atis import is_atis_folder, read_atis
from treeseq.corpora.readers.columns import read_columns
from treeseq.corpora.readers.conllu import UPOS, XPOS, ConlluSentence, read_conllu
from treeseq.corpora.readers.jsonl import read_jsonl
from treeseq.data.tagging import TaggedSentence
from treeseq.errors import ConfigError, CorpusFormatError

ALIASES = {"dev": ("dev", "valid", "validation"), "valid": ("valid", "dev", "validation")}
CONLLU_COLUMNS = {"upos": UPOS, "xpos": XPOS}


@dataclass
class Split:
    """One split as read: its format, where it is, the sentences, and the CoNLL-U lines when it is CoNLL-U."""

    kind: str  # conllu, atis, jsonl or columns
    path: Path
    sentences: list[TaggedSentence]
    conllu: list[ConlluSentence] | None = None


@dataclass(frozen=True)
class ReadOptions:
    """What a reader may need besides the path: the CoNLL-U column to tag, the columns of a column file."""

    column: str = "upos"
    token_column: int = 0
    tag_column: int = -1


@dataclass(frozen=True)
class TaggingFormat:
    """A tagging corpus layout, registered by name (`register_tagging_format`).

    `find(data_dir, name)` gives the file or folder of the split called `name` (train, dev, valid, ...)
    in `data_dir`, or None; `read(path, options)` gives its sentences as a `Split`; `expected` says in
    the error for a missing split how this layout names it (`{split}.jsonl`).
    """

    name: str
    find: Callable[[Path, str], Path | None]
    read: Callable[[Path, ReadOptions], Split]
    expected: str


TAGGING_FORMATS: dict[str, TaggingFormat] = {}


def register_tagging_format(name: str, find: Callable[[Path, str], Path | None],
                            read: Callable[[Path, ReadOptions], Split], expected: str) -> None:  # fmt: skip
    """Make a tagging corpus layout readable by `train tagger`, `evaluate` and every tagger surface.
    Layouts are tried in the order they were registered (the built-in ones first).

    Raises:
        ConfigError: the name is taken.
    """
    if name in TAGGING_FORMATS:
        raise ConfigError(f"tagging format {name!r} is already registered")
    TAGGING_FORMATS[name] = TaggingFormat(name, find, read, expected)


def _file(suffixes: tuple[str, ...]) -> Callable[[Path, str], Path | None]:
    def find(data_dir: Path, name: str) -> Path | None:
        return next((data_dir / f"{name}{s}" for s in suffixes if (data_dir / f"{name}{s}").is_file()), None)

    return find


def _read_conllu(path: Path, options: ReadOptions) -> Split:
    conllu = read_conllu(path)
    return Split("conllu", path, conllu_sentences(conllu, options.column, str(path)), conllu)


register_tagging_format("conllu", lambda d, name: next(iter(sorted(d.glob(f"*-ud-{name}.conllu"))), None), _read_conllu,
                        "*-ud-{split}.conllu")  # fmt: skip
register_tagging_format("atis", lambda d, name: d / name if is_atis_folder(d / name) else None,
                        lambda path, _: Split("atis", path, read_atis(path)), "{split}/seq.in + seq.out + label")  # fmt: skip
register_tagging_format("jsonl", _file((".jsonl",)), lambda path, _: Split("jsonl", path, read_jsonl(path)), "{split}.jsonl")
register_tagging_format("columns", _file((".conll", ".txt")),
                        lambda path, o: Split("columns", path, read_columns(path, o.token_column, o.tag_column)),
                        "{split}.conll")  # fmt: skip


BUILT_IN = frozenset(TAGGING_FORMATS)  # the layouts above; corpora/readers/layouts.py knows these by their files


def find_split(data_dir: Path, split: str) -> tuple[str, Path]:
    """(format, path) of a split inside `data_dir`: the first registered layout that has it, under the
    split's name or an alias (dev, valid, validation).

    Raises:
        CorpusFormatError: no file or folder for that split.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise CorpusFormatError(f"{data_dir}: no such data folder")
    for name in ALIASES.get(split, (split,)):
        for layout in TAGGING_FORMATS.values():
            found = layout.find(data_dir, name)
            if found is not None:
                return layout.name, found
    expected = [layout.expected.format(split=split) for layout in TAGGING_FORMATS.values()]
    raise CorpusFormatError(f"{data_dir}: no {split} split (expected {', '.join(expected[:-1])} or {expected[-1]})")


def read_split(data_dir: Path, split: str, column: str = "upos", token_column: int = 0, tag_column: int = -1) -> Split:
    """Read a split of a tagging corpus (see the module docstring for the layouts)."""
    kind, path = find_split(data_dir, split)
    return TAGGING_FORMATS[kind].read(path, ReadOptions(column, token_column, tag_column))


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
