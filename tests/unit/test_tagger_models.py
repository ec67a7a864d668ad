from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from treeseq.corpora.readers.atis import read_atis
from treeseq.corpora.readers.tagging import read_split
from treeseq.data.tagging import collate
from treeseq.nn.char_encoder import CharCNN, CharLSTM
from treeseq.nn.rnn import BiRNN, recurrent_layer
from treeseq.tags import is_valid
from treeseq.tasks.tagger import (
    TaggerModelConfig,
    build_encoder,
    build_model,
    encode_sentences,
    predict_examples,
    score,
    tagging_loss,
    task_kind,
)  # fmt: skip

SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
TINY = TaggerModelConfig(word_dim=24, char_dim=8, char_out=16, hidden_size=32, layers=1, dropout=0.0, word_dropout=0.0)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn", "irnn"])
def test_padded_birnn_equals_packed_torch_rnn(kind: str) -> None:
    torch.manual_seed(1)
    ours = BiRNN(kind, 6, 5, layers=2)
    packed_rnn = recurrent_layer(kind, 6, 5, 2, bidirectional=True)  # torch's own bidirectional RNN of that cell
    with torch.no_grad():  # copy our weights into torch's bidirectional layout
        for layer in range(2):
            for suffix, rnn in (("", ours.forward_rnns[layer]), ("_reverse", ours.backward_rnns[layer])):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(packed_rnn, f"{name}_l{layer}{suffix}").copy_(getattr(rnn, f"{name}_l0"))
    lengths = torch.tensor([5, 2, 4])
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    inputs = torch.randn(3, 5, 6)
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    want, _ = pad_packed_sequence(packed_rnn(packed)[0], batch_first=True, total_length=5)
    torch.testing.assert_close(ours(inputs, lengths), want, atol=1e-6, rtol=1e-5)
    assert not mask.all()  # padding is checked: a packed RNN leaves it zero


def test_irnn_starts_from_the_identity_and_plain_cells_train() -> None:
    torch.manual_seed(0)
    irnn = recurrent_layer("irnn", 4, 6, 2)
    assert irnn.nonlinearity == "relu" and torch.equal(irnn.weight_hh_l1, torch.eye(6)) and not irnn.bias_hh_l0.any()
    assert irnn.weight_ih_l0.abs().max() < 0.01
    assert recurrent_layer("rnn", 4, 6).nonlinearity == "tanh"
    for kind in ("rnn", "irnn"):  # the tagger learns with either
        sentences = read_atis(SAMPLES / "nlu" / "train")[:40]
        assert overfit(sentences, replace(TINY, rnn=kind), steps=60)["acc"] > 0.5, kind


def test_char_encoders_ignore_padding() -> None:
    ids = torch.tensor([[3, 4, 5, 0, 0], [3, 4, 5, 6, 7]])
    lengths = torch.tensor([3, 5])
    for encoder in (CharCNN(10, 4, 6), CharLSTM(10, 4, 6)):
        out = encoder(ids, lengths)
        assert out.shape == (2, 6)
        alone = encoder(ids[:1, :3], lengths[:1])
        torch.testing.assert_close(out[:1], alone, atol=1e-6, rtol=1e-5)


def test_collate_encodes_each_distinct_word_once() -> None:
    sentences = read_split(SAMPLES / "pos", "train").sentences[:6]
    encoder = build_encoder(sentences, TINY, "pos")
    examples = encode_sentences(sentences, encoder, "pos", "bio")
    batch = collate(examples, encoder)
    distinct = {t for s in sentences for t in s.tokens}
    assert batch.char_ids.shape[0] == len(distinct)
    assert batch.mask.sum() == sum(len(s.tokens) for s in sentences)
    assert (batch.tag_ids[~batch.mask] == -1).all()


def test_batched_prediction_equals_one_sentence_at_a_time() -> None:
    sentences = read_split(SAMPLES / "pos", "dev").sentences
    encoder = build_encoder(sentences, TINY, "pos")
    model = build_model(replace(TINY, output="crf"), encoder, "slots").eval()  # unconstrained CRF on POS tags
    examples = encode_sentences(sentences, encoder, "pos", "bio")
    together = predict_examples(model, encoder, examples, max_tokens=64)
    alone = [predict_examples(model, encoder, [e])[0] for e in examples]
    assert [p.tags for p in together] == [p.tags for p in alone]
    for a, b in zip(together, alone):
        assert a.tag_probs == pytest.approx(b.tag_probs, abs=1e-5)


def overfit(sentences, cfg: TaggerModelConfig, steps: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    kind = task_kind(sentences)
    cfg = cfg.resolved(kind)
    encoder = build_encoder(sentences, cfg, kind)
    model = build_model(cfg, encoder, kind)
    examples = encode_sentences(sentences, encoder, kind, cfg.scheme)
    batch = collate(examples, encoder)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        loss, count = tagging_loss(model.crf, *model(batch), batch)
        optimizer.zero_grad()
        (loss / count).backward()
        optimizer.step()
    model.eval()
    predictions = predict_examples(model, encoder, examples)
    if kind != "pos":
        assert all(is_valid(p.tags, cfg.scheme) for p in predictions)
    return score(sentences, predictions, kind).metrics


@pytest.mark.parametrize("cfg", [TINY, replace(TINY, rnn="gru", char_kind="lstm", layers=2)], ids=["lstm-cnn", "gru-charlstm"])
def test_pos_tagger_overfits_a_tiny_sample(cfg: TaggerModelConfig) -> None:
    sentences = read_split(SAMPLES / "pos", "train").sentences[:16]
    assert overfit(sentences, cfg, 60)["acc"] == 1.0


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_joint_crf_nlu_model_overfits_a_tiny_sample(scheme: str) -> None:
    sentences = read_atis(SAMPLES / "nlu" / "train")[:16]
    metrics = overfit(sentences, replace(TINY, scheme=scheme), 80)
    assert metrics["slot_f1"] == 1.0 and metrics["intent_acc"] == 1.0 and metrics["frame_acc"] == 1.0


def test_softmax_slot_model_overfits() -> None:
    sentences = [replace(s, intent=None) for s in read_atis(SAMPLES / "nlu" / "train")[:16]]
    metrics = overfit(sentences, replace(TINY, output="softmax"), 80)
    assert metrics["slot_f1"] == 1.0 and "intent_acc" not in metrics


@pytest.mark.parametrize("output", ["softmax", "crf"])
def test_batch_loss_is_the_sum_of_sentence_losses(output: str) -> None:
    sentences = read_atis(SAMPLES / "nlu" / "train")[:5]
    cfg = replace(TINY, output=output)
    encoder = build_encoder(sentences, cfg, "nlu")
    model = build_model(cfg, encoder, "nlu").eval()
    examples = encode_sentences(sentences, encoder, "nlu", "bio")

    def loss(group: list, intent_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        batch = collate(group, encoder)
        return tagging_loss(model.crf, *model(batch), batch, intent_weight)

    _, count = loss(examples)
    assert int(count) == sum(len(e) for e in examples)
    # Without the intent term (it is scaled by its batch's mean length), padding must change nothing.
    whole = loss(examples, 0.0)[0]
    torch.testing.assert_close(whole, sum(loss([e], 0.0)[0] for e in examples), atol=1e-4, rtol=1e-5)
