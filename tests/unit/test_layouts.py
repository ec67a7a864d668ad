"""Each family recognises the corpus layouts it reads and refuses another family's in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

import treeseq
from treeseq.corpora.readers.layouts import FAMILY_LAYOUTS, check_layout, file_layout, folder_layouts
from treeseq.errors import CorpusFormatError

SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
FOLDERS = {"sentiment": "trees", "pos": "conllu", "nlu": "atis", "parallel": "parallel"}


def test_the_samples_layouts_are_recognised() -> None:
    assert {name: folder_layouts(SAMPLES / name) for name in FOLDERS} == {name: [layout] for name, layout in FOLDERS.items()}
    assert folder_layouts(SAMPLES / "parallel", "train.en") == []  # a file named as given: read as it is


def test_file_layouts(tmp_path: Path) -> None:
    cases = {"trees.txt": "\n(3 (2 A) (3 film))\n", "columns.txt": "The DET\ncat NOUN\n\nsat VERB\n",
             "text.txt": "A dog runs .\nTwo men talk in the park .\n", "empty.txt": "\n\n"}  # fmt: skip
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert {name: file_layout(tmp_path / name) for name in cases} == {
        "trees.txt": "trees", "columns.txt": "columns", "text.txt": "text", "empty.txt": ""}


@pytest.mark.parametrize("family", sorted(FAMILY_LAYOUTS))
def test_another_familys_layout_is_refused_before_anything_is_read(family: str, tmp_path: Path) -> None:
    for folder, layout in FOLDERS.items():
        reads = layout in FAMILY_LAYOUTS[family]
        if reads:
            check_layout(SAMPLES / folder, family)  # no error
            continue
        with pytest.raises(CorpusFormatError) as refused:
            treeseq.train(family, SAMPLES / folder, tmp_path / "m.pt", epochs=1, progress=False)
        message = str(refused.value)
        assert "\n" not in message and message.startswith(f"{SAMPLES / folder}: ")
        assert f"which a {family} model does not read (it reads " in message and "this corpus is for `treeseq train " in message
        assert not list(tmp_path.iterdir())  # nothing written


def test_the_tagger_refuses_the_treebank_as_the_issue_shows_it() -> None:
    with pytest.raises(CorpusFormatError) as refused:
        check_layout(SAMPLES / "sentiment", "tagger")
    assert str(refused.value) == (
        f"{SAMPLES / 'sentiment'}: bracketed trees (train.txt, dev.txt: one tree a line), which a tagger model does not "
        "read (it reads a CoNLL-U treebank (*-ud-train.conllu, *-ud-dev.conllu); an ATIS/SNIPS folder (train/, valid/ "
        "with seq.in, seq.out, label); tagged JSONL (train.jsonl, dev.jsonl: tokens and tags a line); CoNLL columns "
        "(train.conll or train.txt: a token and its tag a line)); this corpus is for `treeseq train tree` or "
        "`treeseq train parser` or `treeseq train classifier`"
    )


def test_column_files_with_docstart_lines_or_many_columns_are_columns(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("-DOCSTART-\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n", encoding="utf-8")
    assert file_layout(tmp_path / "train.txt") == "columns"
    check_layout(tmp_path, "tagger")  # read by the column reader: not refused
    wide = " ".join(f"c{i}" for i in range(14))
    (tmp_path / "train.txt").write_text(f"{wide}\n{wide}\n", encoding="utf-8")
    assert file_layout(tmp_path / "train.txt") == "columns"


def test_a_registered_tagging_layout_is_never_refused_as_another_familys(tmp_path: Path) -> None:
    from treeseq.corpora.readers.tagging import TAGGING_FORMATS, register_tagging_format

    (tmp_path / "train.tsv").write_text("The\tDET\ncat\tNOUN\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="TSV"):
        check_layout(tmp_path, "tagger")  # a classifier's or translator's layout, until a tagging layout claims it
    register_tagging_format("tsv-tags", lambda d, n: d / f"{n}.tsv" if (d / f"{n}.tsv").is_file() else None,
                            lambda path, options: None, "{split}.tsv")  # type: ignore[arg-type, return-value]
    try:
        check_layout(tmp_path, "tagger")
    finally:
        del TAGGING_FORMATS["tsv-tags"]
