from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treeseq.corpora.readers.conllu import read_conllu, write_conllu
from treeseq.corpora.readers.ptb import read_trees, write_trees
from treeseq.errors import CorpusFormatError
from treeseq.tasks.tree import LabelScheme, TreeModelConfig
from treeseq.trees import Tree

CHECK = LabelScheme(TreeModelConfig()).check


def test_sample_treebank_reads_and_round_trips(sample_dir: Path, tmp_path: Path) -> None:
    trees = read_trees(sample_dir / "train.txt", CHECK)
    assert len(trees) == 500 and all(t.is_binary() for t in trees)
    write_trees(trees, tmp_path / "copy.txt")
    assert (tmp_path / "copy.txt").read_text() == (sample_dir / "train.txt").read_text()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"(3 (2 a) (2 b))\n(3 (2 a) (2 b)\n", "bad.txt:2:1: unbalanced brackets"),
        (b"(3 (2 a) (x b))\n", "bad.txt:1: label 'x' is not an integer"),
        (b"(3 (2 a) (7 b))\n", "bad.txt:1: label 7 is out of range 0..4"),
        (b"(3 (2 a) (2 ))\n", "bad.txt:1:10: node '(2' has no tokens"),
        (b"(3 (2 a) (2 b))\n\n(3 (2 a) (2 b))\n", "bad.txt:2: empty line"),
        (b"(3 (2 a) (2 b\xff))\n", "bad.txt:1:14: byte 0xff is not valid UTF-8"),
        (b"", "bad.txt:1: the file is empty"),
    ],
)
def test_bad_treebank_lines_name_file_and_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusFormatError) as info:
        read_trees(path, CHECK)
    message = str(info.value)
    assert message.startswith(str(tmp_path)) and expected in message
    assert "\n" not in message


CONLLU = """# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t3:aux\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t3:advmod\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t0:root\tSpaceAfter=No
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t3:conj\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t3:punct\t_

"""


def test_conllu_tree_skips_ranges_and_empty_nodes(tmp_path: Path) -> None:
    path = tmp_path / "a.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    (sentence,) = read_conllu(path)
    assert sentence.words == ["Do", "n't", "go", "."]
    tree = sentence.tree()
    assert tree.kind == "dependency" and tree.to_brackets() == "(root (aux Do) (advmod n't) go (punct .))"
    assert write_conllu([sentence]) == CONLLU


@given(st.lists(st.sampled_from(["NOUN", "VERB", "DET", "X"]), min_size=4, max_size=4))
@settings(max_examples=30, deadline=None)
def test_conllu_column_rewrite_keeps_every_other_byte(tags: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.conllu"
        path.write_text(CONLLU, encoding="utf-8")
        (sentence,) = read_conllu(path)
    changed = sentence.with_column(3, tags)
    assert changed.column(3) == tags
    for old, new in zip(sentence.lines, changed.lines):
        old_parts, new_parts = old.split("\t"), new.split("\t")
        if old_parts[0].isdigit():
            assert old_parts[:3] + old_parts[4:] == new_parts[:3] + new_parts[4:]
        else:
            assert old == new


def test_conllu_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.conllu"
    path.write_text("# c\n1\tword\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"bad.conllu:2: expected 10 tab-separated columns, found 2"):
        read_conllu(path)


def test_spacy_doc_becomes_a_dependency_tree() -> None:
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import Doc

    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["I", "saw", "her"], heads=[1, 1, 1], deps=["nsubj", "ROOT", "obj"])
    tree = Tree.from_spacy(doc)
    assert tree.to_brackets() == "(ROOT (nsubj I) saw (obj her))"
