from __future__ import annotations

import random
from pathlib import Path

import pytest

from treeseq.corpora.readers.atis import read_atis, write_atis
from treeseq.corpora.readers.columns import read_columns, write_columns
from treeseq.corpora.readers.conllu import FORM, UPOS, read_conllu, write_conllu
from treeseq.corpora.readers.jsonl import read_jsonl
from treeseq.corpora.readers.tagging import conllu_sentences, find_split, read_split
from treeseq.data.batching import budget_batches, pooled_batches
from treeseq.errors import CorpusFormatError
from treeseq.tokenize import blank_tokens as tokenize
from treeseq.tokenize import whitespace_tokens

SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"


def test_conllu_round_trip_changes_only_the_tag_column(tmp_path: Path) -> None:
    path = SAMPLES / "pos" / "sample-ud-train.conllu"
    original = path.read_bytes()
    sentences = read_conllu(path)
    retagged = [s.with_column(UPOS, ["X"] * len(s.word_lines)) for s in sentences]
    written = write_conllu(retagged).encode("utf-8")
    before, after = original.split(b"\n"), written.split(b"\n")
    assert len(before) == len(after)
    for old, new in zip(before, after):
        old_cols, new_cols = old.split(b"\t"), new.split(b"\t")
        is_word = len(old_cols) == 10 and old_cols[0].isdigit()
        if not is_word:  # comments, blank lines, multiword ranges and empty nodes: untouched
            assert old == new
        else:
            assert new_cols[UPOS] == b"X"
            assert old_cols[:UPOS] + old_cols[UPOS + 1 :] == new_cols[:UPOS] + new_cols[UPOS + 1 :]
    assert write_conllu(sentences).encode("utf-8") == original
    assert any(b"\t" in line and line.split(b"\t")[0].count(b"-") for line in before)  # the sample has ranges
    tagged = conllu_sentences(sentences, "upos", str(path))
    assert tagged[0].tokens == tuple(sentences[0].column(FORM)) and tagged[0].where.endswith(":1")


def test_splits_are_found_by_layout() -> None:
    assert find_split(SAMPLES / "pos", "dev")[0] == "conllu"
    kind, path = find_split(SAMPLES / "nlu", "dev")
    assert kind == "atis" and path.name == "valid"
    with pytest.raises(CorpusFormatError, match="no test2 split"):
        find_split(SAMPLES / "nlu", "test2")


def test_atis_round_trip_and_errors(tmp_path: Path) -> None:
    sentences = read_atis(SAMPLES / "nlu" / "train")
    write_atis(sentences, tmp_path / "copy")
    assert read_atis(tmp_path / "copy") == [s.__class__(s.tokens, s.tags, s.intent, s.where.replace(str(SAMPLES / "nlu" / "train"), str(tmp_path / "copy"))) for s in sentences]
    (tmp_path / "copy" / "seq.out").write_text("O O\n" * len(sentences), encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"seq.out:1: 2 tags for \d+ tokens"):
        read_atis(tmp_path / "copy")


def test_column_files(tmp_path: Path) -> None:
    path = tmp_path / "train.conll"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP B-ORG\nrejects VBZ O\n\nPeter NNP B-PER\n", encoding="utf-8")
    sentences = read_columns(path)
    assert [s.tags for s in sentences] == [("B-ORG", "O"), ("B-PER",)]
    assert read_columns(path, tag_column=1)[0].tags == ("NNP", "VBZ")
    assert write_columns([(s.tokens, s.tags) for s in sentences]).startswith("EU B-ORG\nrejects O\n\nPeter")
    path.write_text("EU B-ORG\nrejects\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="train.conll:2: 1 column"):
        read_columns(path)


def test_jsonl_records(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"tokens": ["a", "b"], "tags": ["O", "B-x"], "intent": "i"}\n{"text": "Don\'t go."}\n', encoding="utf-8")
    first, second = read_jsonl(path)
    assert first.intent == "i" and second.tokens == ("Do", "n't", "go", ".")
    path.write_text('{"tokens": ["a", "b"], "tags": ["O"]}\n', encoding="utf-8")
    with pytest.raises(CorpusFormatError, match="train.jsonl:1: 1 tags for 2 tokens"):
        read_jsonl(path)


def test_tokenizers_keep_character_offsets() -> None:
    text = "Flights  from  New York, tomorrow."
    tokens, offsets = tokenize([text])[0]
    assert tokens == ["Flights", "from", "New", "York", ",", "tomorrow", "."]
    assert [text[a:b] for a, b in offsets] == tokens
    tokens, offsets = whitespace_tokens("a  bb a")
    assert offsets == [(0, 1), (3, 5), (6, 7)]


def test_batches_cover_every_sentence_once_and_are_deterministic() -> None:
    lengths = [((i * 7919) % 29) + 1 for i in range(200)]
    one = pooled_batches(len(lengths), 16, random.Random(5), lengths.__getitem__)
    assert one == pooled_batches(len(lengths), 16, random.Random(5), lengths.__getitem__)
    assert sorted(i for b in one for i in b) == list(range(200))
    for batch in budget_batches(lengths, lengths, 100):
        assert len(batch) * max(lengths[i] for i in batch) <= 100 or len(batch) == 1
    assert read_split(SAMPLES / "pos", "test").kind == "conllu"
