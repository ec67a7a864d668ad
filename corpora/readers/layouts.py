"""What a corpus folder holds, told from its file names and first lines, and which families read it.

Every family reads its own layouts (a tagger: a UD treebank, ATIS/SNIPS folders, tagged JSONL, CoNLL
columns; a tree model: bracketed trees; ...). A folder in another family's layout would otherwise be
read as if it were one of its own (bracketed trees as CoNLL columns) or fail deep inside a reader;
`check_layout` refuses it first, in one line that names the layouts the family reads and the
families (commands) that read this one.

Only what is recognised with confidence is refused: a folder whose layout is not recognised, or that
holds a layout the family reads, goes on to the family's reader and its own `file:line` errors.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from treeseq.errors import CorpusFormatError
from treeseq.files import json_objects, read_lines
from treeseq.trees import BracketError, Tree

ALIASES = {"dev": ("dev", "valid", "validation", "val"), "valid": ("valid", "dev", "validation", "val"),
           "val": ("val", "valid", "dev", "validation")}  # fmt: skip
PEEK = 20  # non-blank lines read from the start of a file to tell its layout


@dataclass(frozen=True)
class Layout:
    """A corpus layout: how to name it to a user and which families read it."""

    name: str
    description: str  # with the file names, e.g. "bracketed trees (train.txt, dev.txt: one tree a line)"
    families: tuple[str, ...]


LAYOUTS = {layout.name: layout for layout in (
    Layout("trees", "bracketed trees (train.txt, dev.txt: one tree a line)", ("tree", "parser", "classifier")),
    Layout("conllu", "a CoNLL-U treebank (*-ud-train.conllu, *-ud-dev.conllu)", ("tagger",)),
    Layout("atis", "an ATIS/SNIPS folder (train/, valid/ with seq.in, seq.out, label)", ("tagger", "classifier")),
    Layout("tagged-jsonl", "tagged JSONL (train.jsonl, dev.jsonl: tokens and tags a line)", ("tagger",)),
    Layout("labelled-jsonl", "labelled JSONL (train.jsonl, dev.jsonl: text and label a line)", ("classifier",)),
    Layout("columns", "CoNLL columns (train.conll or train.txt: a token and its tag a line)", ("tagger",)),
    Layout("tsv", "TSV (train.tsv, dev.tsv: two fields a line)", ("classifier", "translator")),
    Layout("parallel", "a parallel corpus (train.SRC, train.TGT, plain or .gz, line-aligned)", ("translator",)),
    Layout("text", "plain text (train.txt or train.txt.gz: one sentence a line)", ("lm",)),
)}  # fmt: skip

# What each family reads, in the order its messages name them.
FAMILY_LAYOUTS: dict[str, tuple[str, ...]] = {
    "tree": ("trees",), "parser": ("trees",), "classifier": ("trees", "atis", "tsv", "labelled-jsonl"),
    "tagger": ("conllu", "atis", "tagged-jsonl", "columns"), "translator": ("parallel", "tsv"), "lm": ("text",),
}  # fmt: skip
# Read without a word: a text of short lines looks like columns.
ALSO_READ = {"lm": ("columns",)}
# The command that trains each family (and so reads its corpora).
TRAIN_COMMANDS = {family: f"treeseq train {family}" for family in FAMILY_LAYOUTS}
_NOT_LANGUAGES = {"txt", "jsonl", "tsv", "conll", "conllu", "json", "gz", "md", "csv"}


def split_names(split: str) -> tuple[str, ...]:
    return ALIASES.get(split, (split,))


def folder_layouts(data_dir: str | Path, split: str = "train") -> list[str]:
    """The layouts recognised in `data_dir` for `split` (its aliases too: dev, valid, val), most specific first."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return []
    found: list[str] = []
    for name in split_names(split):
        if any(data_dir.glob(f"*-ud-{name}.conllu")) or (data_dir / f"{name}.conllu").is_file():
            found.append("conllu")
        if (data_dir / name / "seq.in").is_file():
            found.append("atis")
        jsonl = data_dir / f"{name}.jsonl"
        if jsonl.is_file():
            found.append(_jsonl_layout(jsonl))
        if (data_dir / f"{name}.conll").is_file():
            found.append("columns")
        if (data_dir / f"{name}.tsv").is_file() or (data_dir / f"{name}.tsv.gz").is_file():
            found.append("tsv")
        for text in (data_dir / f"{name}.txt", data_dir / f"{name}.txt.gz"):
            if text.is_file():
                found.append(file_layout(text))
        languages = {p.name[len(name) + 1 :].removesuffix(".gz") for p in data_dir.glob(f"{name}.*")}
        if len(languages - _NOT_LANGUAGES) >= 2:
            found.append("parallel")
    return list(dict.fromkeys(layout for layout in found if layout))


def file_layout(path: str | Path) -> str:
    """`trees` when a file's first line is a bracketed tree, `columns` when its first lines all have the
    same number of fields (2 or more: a token and its tags; `-DOCSTART-` lines aside), else `text`; "" for an empty file or a
    tree that does not parse (its reader says where)."""
    lines = list(itertools.islice(((n, line) for n, line in read_lines(path, allow_empty=True)), 4 * PEEK))
    filled = [line for _, line in lines if line.strip()][:PEEK]
    if not filled:
        return ""
    if filled[0].lstrip().startswith("("):
        try:
            Tree.from_brackets(filled[0])
            return "trees"
        except BracketError:
            return ""  # a tree that does not parse: the tree reader says where
    fields = {len(line.split()) for line in filled if line.split()[0] != "-DOCSTART-"}  # the column reader skips those
    return "columns" if len(fields) == 1 and min(fields) >= 2 else "text"


def _jsonl_layout(path: Path) -> str:
    for _, record in json_objects(itertools.islice(read_lines(path, allow_empty=True), PEEK), str(path)):
        if "tags" in record:
            return "tagged-jsonl"
        if "label" in record:
            return "labelled-jsonl"
    return ""


def check_layout(data_dir: str | Path, family: str, split: str = "train") -> None:
    """Refuse a folder whose `split` is in another family's layout (and in none of `family`'s).

    Raises:
        CorpusFormatError: one line: `DIR: LAYOUT, which a FAMILY model does not read (it reads ...);
            LAYOUT is read by treeseq train X`.
    """
    if family == "tagger" and _registered_tagging_layout(Path(data_dir), split):
        return  # a layout registered with register_tagging_format is the tagger's own
    found = folder_layouts(data_dir, split)
    reads = FAMILY_LAYOUTS[family] + ALSO_READ.get(family, ())
    if not found or any(layout in reads for layout in found):
        return
    raise CorpusFormatError(refusal(data_dir, family, found[0]))


def _registered_tagging_layout(data_dir: Path, split: str) -> bool:
    """Whether a tagging layout registered from outside (not one of the four built in) finds the split."""
    from treeseq.corpora.readers.tagging import BUILT_IN, TAGGING_FORMATS  # noqa: PLC0415

    added = [f for name, f in TAGGING_FORMATS.items() if name not in BUILT_IN]
    return data_dir.is_dir() and any(f.find(data_dir, name) is not None for f in added for name in split_names(split))


def refusal(data_dir: str | Path, family: str, layout: str) -> str:
    """The one-line refusal of `layout` by `family`."""
    held = LAYOUTS[layout]
    takes = "; ".join(LAYOUTS[name].description for name in FAMILY_LAYOUTS[family])
    readers = " or ".join(f"`{TRAIN_COMMANDS[f]}`" for f in held.families)
    return f"{data_dir}: {held.description}, which a {family} model does not read (it reads {takes}); this corpus is for {readers}"
