"""Sentence classifiers: encoders against a per-sentence reference, overfitting, readers, scoring."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treeseq.corpora.readers.classification import (
    find_split,
    parse_tsv_lines,
    read_intents,
    read_split,
    read_text_jsonl,
    read_tsv,
    tree_items,
    write_tsv,
)  # fmt: skip
from treeseq.corpora.readers.ptb import read_trees
from treeseq.data.classification import ClassExample, LabelledText, collate
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.models.classifier import ENCODERS, SequenceClassifier
from treeseq.results import ClassResult
from treeseq.tasks.classifier import ClassifierModelConfig, Labels, score
from treeseq.tasks.tree import SST_CLASSES

VARIANTS = [(encoder, rnn, bi) for encoder in ENCODERS for rnn, bi in (("lstm", True), ("gru", False), ("rnn", True))
            if not (encoder == "rcnn" and not bi)] + [("rcnn", "irnn", True), ("last", "irnn", False)]  # fmt: skip


def sentences(count: int, vocab: int, seed: int = 0) -> list[ClassExample]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 9, (count,), generator=generator).tolist()
    return [ClassExample(tuple(torch.randint(2, vocab, (n,), generator=generator).tolist()), i % 3)
            for i, n in enumerate(lengths)]  # fmt: skip


@pytest.mark.parametrize(("encoder", "rnn", "bidirectional"), VARIANTS)
def test_a_padded_batch_equals_each_sentence_alone(encoder: str, rnn: str, bidirectional: bool) -> None:
    torch.manual_seed(1)
    model = SequenceClassifier(30, 3, embed_dim=7, rnn=rnn, hidden_size=5, layers=2, bidirectional=bidirectional,
                               encoder=encoder, dropout=0.3).double().eval()  # fmt: skip
    examples = sentences(9, 30)
    assert len({len(e) for e in examples}) > 2 and min(len(e) for e in examples) == 1
    batched = model(collate(examples))
    vectors = model.sentence_vectors(collate(examples))
    for row, example in enumerate(examples):
        alone = collate([example])
        assert alone.word_ids.shape[1] == len(example)  # unpadded
        torch.testing.assert_close(model(alone)[0], batched[row], atol=1e-5, rtol=0)
        torch.testing.assert_close(model.sentence_vectors(alone)[0], vectors[row], atol=1e-5, rtol=0)


def test_rcnn_reads_each_word_between_its_left_and_right_contexts() -> None:
    """The RCNN written out word by word, as Lai et al. 2015 give it, against the batched module."""
    torch.manual_seed(2)
    model = SequenceClassifier(20, 2, embed_dim=4, rnn="gru", hidden_size=3, encoder="rcnn", dropout=0.0).double().eval()
    with torch.no_grad():
        model.left0.normal_()
        model.right0.normal_()
    ids = [5, 9, 2, 7]
    embedded = model.embedding(torch.tensor([ids]))
    fwd, bwd = model.rnn.forward_rnns[0], model.rnn.backward_rnns[0]
    forward = fwd(embedded)[0][0]
    backward = bwd(embedded.flip(1))[0][0].flip(0)
    rows = []
    for i in range(len(ids)):
        left = model.left0 if i == 0 else forward[i - 1]
        right = model.right0 if i == len(ids) - 1 else backward[i + 1]
        rows.append(torch.tanh(model.rcnn_proj(torch.cat([left, embedded[0, i], right]))))
    expected = torch.stack(rows).max(0).values
    torch.testing.assert_close(model.sentence_vectors(collate([ClassExample(tuple(ids))]))[0], expected)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_each_encoder_learns_a_tiny_sample_by_heart(encoder: str) -> None:
    torch.manual_seed(3)
    examples = sentences(8, 25, seed=4)
    model = SequenceClassifier(25, 3, embed_dim=16, hidden_size=16, encoder=encoder, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    batch = collate(examples)
    for _ in range(60):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(batch), batch.label_ids).backward()
        optimizer.step()
    model.eval()
    assert model(batch).argmax(-1).tolist() == batch.label_ids.tolist()


def test_config_refuses_what_cannot_work() -> None:
    with pytest.raises(ConfigError, match="rcnn"):
        ClassifierModelConfig(encoder="rcnn", bidirectional=False)
    with pytest.raises(ConfigError, match="encoder"):
        ClassifierModelConfig(encoder="cnn")
    with pytest.raises(ConfigError, match="labels binary"):
        Labels("tsv", "binary")


# ---------------------------------------------------------------- readers


SST = "(3 (2 A) (4 (4 fine) (2 film)))\n(1 (2 (2 A) (1 dull)) (2 film))\n"


def test_sst_gives_roots_and_with_phrases_each_labelled_phrase_once(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text(SST, encoding="utf-8")
    trees = read_trees(tmp_path / "train.txt")
    source = str(tmp_path / "train.txt")
    assert tree_items(trees, source) == [LabelledText(("A", "fine", "film"), "3", f"{source}:1"),
                                         LabelledText(("A", "dull", "film"), "1", f"{source}:2")]  # fmt: skip
    items = tree_items(trees, source, phrases=True)
    assert [(" ".join(i.tokens or ()), i.label) for i in items] == [
        ("A fine film", "3"), ("A dull film", "1"), ("A", "2"), ("fine film", "4"), ("fine", "4"), ("film", "2"),
        ("A dull", "2"), ("dull", "1"),
    ]  # fmt: skip
    assert [i.phrase for i in items] == [False] * 2 + [True] * 6  # the vocabulary counts sentences only
    split = read_split(tmp_path, "train", phrases=True)
    assert split.format == "sst" and split.items == items


def test_atis_folder_gives_the_intent_only(tmp_path: Path) -> None:
    folder = tmp_path / "valid"
    folder.mkdir()
    (folder / "seq.in").write_text("show flights to boston\nwhat is  the fare\n", encoding="utf-8")
    (folder / "label").write_text("atis_flight\natis_flight#atis_airfare\n", encoding="utf-8")
    assert find_split(tmp_path, "dev") == ("atis", folder)
    where = f"{folder / 'seq.in'}"
    assert read_intents(folder) == [
        LabelledText(("show", "flights", "to", "boston"), "atis_flight", f"{where}:1"),
        LabelledText(("what", "is", "the", "fare"), "atis_flight#atis_airfare", f"{where}:2"),
    ]
    (folder / "label").write_text("atis_flight\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError) as err:
        read_intents(folder)
    assert str(err.value) == f"{folder / 'label'}:2: 1 lines, but seq.in has 2 (files must be line-aligned)"


def test_tsv_and_jsonl_read_exactly(tmp_path: Path) -> None:
    tsv = tmp_path / "train.tsv"
    tsv.write_bytes(b"\xef\xbb\xbfpos\tA fine film.\r\n\nneg \t A dull\tplot \n")
    assert read_tsv(tsv) == [LabelledText(None, "pos", f"{tsv}:1", "A fine film."),
                             LabelledText(None, "neg", f"{tsv}:3", "A dull\tplot")]  # fmt: skip
    jsonl = tmp_path / "dev.jsonl"
    jsonl.write_text('{"text": " Great. ", "label": "pos"}\n\n{"tokens": ["so", "bad"], "label": 0}\n', encoding="utf-8")
    assert read_text_jsonl(jsonl) == [LabelledText(None, "pos", f"{jsonl}:1", "Great."),
                                      LabelledText(("so", "bad"), "0", f"{jsonl}:3", "so bad")]  # fmt: skip
    assert find_split(tmp_path, "train") == ("tsv", tsv) and find_split(tmp_path, "valid") == ("jsonl", jsonl)


@pytest.mark.parametrize(("content", "problem"), [
    (b"pos A fine film\n", ":1: no tab (expected LABEL<TAB>TEXT)"),
    (b"pos\tgood\nneg\t  \n", ":2: an empty text"),
    (b"\tgood\n", ":1: an empty label"),
    (b"pos\tgood\nneg\tbad \xff film\n", ":2:9: byte 0xff is not valid UTF-8"),
    (b"", ":1: the file is empty"),
])  # fmt: skip
def test_bad_tsv_lines_are_named(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "train.tsv"
    path.write_bytes(content)
    with pytest.raises(CorpusFormatError) as err:
        read_tsv(path)
    assert str(err.value) == f"{path}{problem}"


@pytest.mark.parametrize(("line", "problem"), [
    ('{"text": "good"}', "'label' must be a non-empty string or an integer"),
    ('{"text": "  ", "label": "pos"}', "an empty text"),
    ('{"tokens": [], "label": "pos"}', "'tokens' must be a non-empty list"),
    ('{"text": "x", "label": true}', "'label' must be"),
])  # fmt: skip
def test_bad_jsonl_records_are_named(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "ok", "label": "pos"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=f"^{path}:2: {problem}"):
        read_text_jsonl(path)


LABEL_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\ufeff\x85")
TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(LABEL_CHARS, min_size=1, max_size=8),
                          st.text(TEXT_CHARS, min_size=1, max_size=30).map(str.strip).filter(bool)),
                min_size=1, max_size=6))  # fmt: skip
def test_tsv_round_trip(tmp_path: Path, pairs: list[tuple[str, str]]) -> None:
    path = tmp_path / "round.tsv"
    write_tsv(pairs, path)
    items = read_tsv(path)
    assert [(i.label, i.text) for i in items] == pairs
    assert [i.where for i in items] == [f"{path}:{n}" for n in range(1, len(pairs) + 1)]
    assert parse_tsv_lines(enumerate(path.read_text(encoding="utf-8").split("\n"), start=1), "x") == [
        LabelledText(None, i.label, "x" + i.where[len(str(path)) :], i.text) for i in items
    ]


def test_tsv_round_trip_keeps_ordinary_text(tmp_path: Path) -> None:
    pairs = [("pos", "It's a lovely film, isn't it?"), ("neg", string.punctuation), ("2", "émigré naïve café")]
    write_tsv(pairs, tmp_path / "a.tsv")
    assert [(i.label, i.text) for i in read_tsv(tmp_path / "a.tsv")] == pairs


# ---------------------------------------------------------------- scoring and results


def test_score_counts_unseen_labels_wrong_and_collapses_sst_to_binary() -> None:
    classes = ("a", "b")
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    scored = score(["a", "b", "b", "new"], probs, classes)
    assert scored.metrics["acc"] == 0.5 and scored.unseen == 1 and scored.classes == ["a", "b", "new"]
    assert scored.confusion == [[1, 0, 0], [1, 1, 0], [0, 1, 0]]
    f1_a, f1_b = 2 * 0.5 * 1 / 1.5, 2 * 0.5 * 0.5 / 1.0
    assert scored.metrics["macro_f1"] == pytest.approx((f1_a + f1_b + 0.0) / 3)
    sst = torch.tensor([[0.3, 0.3, 0.0, 0.2, 0.2], [0.1, 0.1, 0.7, 0.05, 0.05], [0.0, 0.1, 0.5, 0.4, 0.0]])
    scored = score([SST_CLASSES[1], SST_CLASSES[3], SST_CLASSES[2]], sst, SST_CLASSES)
    assert scored.metrics["acc"] == pytest.approx(1 / 3) and scored.metrics["binary_acc"] == 0.5
    assert "binary_acc" not in score(["a"], probs[:1], classes).metrics


def test_class_result_record() -> None:
    result = ClassResult("A film", ("A", "film"), "pos", 0.71234, ("neg", "pos"), (0.28766, 0.71234), ((0, 1), (2, 6)))
    assert result.to_dict() == {"text": "A film", "tokens": ["A", "film"], "label": "pos", "prob": 0.7123,
                                "probs": {"neg": 0.2877, "pos": 0.7123}, "offsets": [[0, 1], [2, 6]]}  # fmt: skip
    assert "text" not in ClassResult(None, ("x",), "pos", 1.0, ("pos",), (1.0,)).to_dict()
