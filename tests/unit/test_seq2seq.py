from __future__ import annotations

from pathlib import Path

import pytest
import torch

from treeseq.checkpoint import load_archive, save_atomic
from treeseq.config import TrainConfig
from treeseq.corpora.readers.parallel import read_split
from treeseq.data.parallel import collate_pairs
from treeseq.decoding.seq2seq_inference import InferenceDecoder, inference_decoder
from treeseq.models.seq2seq import Seq2Seq
from treeseq.nn.attention import ATTENTIONS, build_attention
from treeseq.nn.rnn import RNNS
from treeseq.tasks.translator import (
    DecodeConfig,
    TranslatorDataConfig,
    TranslatorInference,
    TranslatorModelConfig,
    TranslatorTask,
    build_codec,
    build_model,
)  # fmt: skip
from treeseq.training.engine import fit

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "samples" / "parallel"


def tiny(attention: str = "general", rnn: str = "gru", input_feeding: bool = False) -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(30, 25, rnn=rnn, embed_dim=8, hidden_size=8, attention=attention, input_feeding=input_feeding,
                   dropout=0.0, enc_layers=2, dec_layers=2).eval()  # fmt: skip


def toy_batch() -> tuple[torch.Tensor, ...]:
    src = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0], [11, 0, 0, 0]])
    lengths = torch.tensor([4, 2, 1])
    tgt_in = torch.tensor([[2, 5, 6, 7], [2, 8, 9, 0], [2, 4, 0, 0]])
    tgt_out = torch.tensor([[5, 6, 7, 3], [8, 9, 3, 0], [4, 3, 0, 0]])
    return src, lengths, tgt_in, tgt_out


@pytest.mark.parametrize("kind", sorted(ATTENTIONS))
def test_attention_rows_sum_to_one_over_real_positions(kind: str) -> None:
    attention = build_attention(kind, 6, 6, 5)
    memory, mask = torch.randn(2, 4, 6), torch.tensor([[True, True, True, False], [True, False, False, False]])
    context, weights = attention(torch.randn(2, 3, 6), attention.keys(memory), memory, mask)
    assert context.shape == (2, 3, 6) and weights.shape == (2, 3, 4)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3))
    assert float(weights.detach().masked_select(~mask.unsqueeze(1).expand(2, 3, 4)).abs().sum()) == 0.0


@pytest.mark.parametrize("rnn", ["gru", "lstm"])
def test_whole_target_fast_path_equals_stepwise(rnn: str) -> None:
    model = tiny(rnn=rnn)
    src, lengths, tgt_in, _ = toy_batch()
    fast = model.whole_target_logits(model.encode(src, lengths), tgt_in)
    slow = model.stepwise_logits(model.encode(src, lengths), tgt_in)
    real = tgt_in != 0
    assert torch.allclose(fast[real], slow[real], atol=1e-5)


@pytest.mark.parametrize("attention,feeding", [(name, feeding) for name in sorted(ATTENTIONS) for feeding in (False, True)])
def test_every_variant_trains_a_step_and_scores(attention: str, feeding: bool) -> None:
    model = tiny(attention, input_feeding=feeding).train()
    src, lengths, tgt_in, tgt_out = toy_batch()
    logits = model(src, lengths, tgt_in, sampling_prob=0.5)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=0, reduction="sum")
    loss.backward()
    assert int((tgt_out != 0).sum()) == 9 and torch.isfinite(loss) and model.src_embed.weight.grad is not None
    assert model.output.weight is model.tgt_embed.weight


def test_tiny_model_overfits_the_sample_and_round_trips_through_the_archive(tmp_path: Path) -> None:
    data = read_split(SAMPLE, "train", "de", "en")
    pairs = data.pairs[:12]
    data_cfg = TranslatorDataConfig(vocab_size=330, dev_bleu=False)
    model_cfg = TranslatorModelConfig(embed_dim=48, hidden_size=48, dropout=0.0, label_smoothing=0.0)
    train_cfg = TrainConfig(epochs=80, batch_size=200, optimizer="adam", lr=0.02, weight_decay=0.0, clip_norm=1.0)
    codec = build_codec(pairs, data_cfg)
    examples, _ = codec.encode_pairs(pairs, 100, strict=False)
    torch.manual_seed(0)
    model = build_model(model_cfg, codec)
    task = TranslatorTask(model_cfg, data_cfg, train_cfg, codec, examples, pairs[:12])
    fit(task, model, train_cfg, tmp_path / "m.pt", torch.device("cpu"), show_progress=False)
    inference = TranslatorInference.from_archive(load_archive(tmp_path / "m.pt", task="translator"), torch.device("cpu"))
    outputs = [t.texts[0] for t in inference.translate([p.src for p in pairs[:12]], DecodeConfig(beam_size=3))]
    assert outputs == [p.tgt for p in pairs[:12]]
    save_atomic(task.archive(inference.model), tmp_path / "again.pt")
    again = TranslatorInference.from_archive(load_archive(tmp_path / "again.pt"), torch.device("cpu"))
    src = [p.src for p in pairs[:5]]
    assert inference.score(src, outputs[:5]) == again.score(src, outputs[:5])


def test_collate_splits_targets_into_decoder_input_and_output() -> None:
    from treeseq.data.parallel import PairExample

    batch = collate_pairs([PairExample((5, 6), (7,)), PairExample((8,), (9, 10))])
    assert batch.tgt_in.tolist() == [[2, 7, 0], [2, 9, 10]] and batch.tgt_out.tolist() == [[7, 3, 0], [9, 10, 3]]
    assert batch.src_lengths.tolist() == [2, 1] and batch.num_tgt_tokens == 5


@pytest.mark.parametrize("attention", ["general", "dot"])
def test_decoding_shortcuts_equal_the_plain_step(attention: str) -> None:
    """The inference decoder's Luong steps mix the memory already projected through the combine layer;
    they must equal the model's own step, which keeps its memory for later calls."""
    torch.manual_seed(0)
    model = Seq2Seq(30, 25, rnn="gru", embed_dim=8, hidden_size=8, attention=attention, dropout=0.0).eval()
    decoder = InferenceDecoder(model)
    src, lengths, tgt_in, _ = toy_batch()
    fast_state = decoder.encode(src, lengths)
    plain_state = model.encode(src, lengths)  # autograd on: the plain step
    for t in range(tgt_in.shape[1]):
        fast, fast_state, fast_weights = decoder.step_logits(tgt_in[:, t], fast_state)
        plain, plain_state, plain_weights = model.step_logits(tgt_in[:, t], plain_state)
        assert fast_state.projected is not None and fast_state.memory is None
        assert plain_state.projected is None and plain_state.memory is not None
        assert torch.allclose(fast, plain.detach(), atol=1e-5) and torch.allclose(fast_weights, plain_weights.detach(), atol=1e-6)


# every attention kind with and without input feeding, over the recurrent cells in turn
VARIANTS = [(name, rnn, feeding) for index, (name, feeding) in enumerate((n, f) for n in sorted(ATTENTIONS) for f in (False, True))
            for rnn in [list(RNNS)[index % len(RNNS)]]]


@pytest.mark.parametrize("precision,atol", [("fp32", 1e-5), ("bf16", 0.05)])
@pytest.mark.parametrize("attention,rnn,feeding", VARIANTS)
def test_packed_decoding_steps_equal_the_plain_step(attention: str, rnn: str, feeding: bool, precision: str, atol: float) -> None:
    """The inference decoder runs the two-layer decoder RNN, combine and output layers on packed weight
    copies: logits, attention and the next state must match the module's own step."""
    model = tiny(attention, rnn, feeding)
    decoder = InferenceDecoder(model, torch.bfloat16 if precision == "bf16" else torch.float32)
    src, lengths, tgt_in, _ = toy_batch()
    with torch.no_grad():
        packed_state = plain_state = model.encode(src, lengths)
        for t in range(tgt_in.shape[1]):
            packed, packed_state, packed_weights = decoder.step_logits(tgt_in[:, t], packed_state)
            plain, plain_state, plain_weights = model.step_logits(tgt_in[:, t], plain_state)
            assert packed.dtype == torch.float32 and packed.shape == plain.shape
            assert torch.allclose(packed, plain, atol=atol) and torch.allclose(packed_weights, plain_weights, atol=atol)
            hiddens = zip(*(s.hidden if isinstance(s.hidden, tuple) else (s.hidden,) for s in (packed_state, plain_state)))
            for a, b in hiddens:
                assert a.shape == b.shape and torch.allclose(a, b, atol=atol)
    assert not hasattr(model, "_kernels")  # the model holds no decoding machinery


def test_packed_weights_follow_an_optimizer_step() -> None:
    """The packed copies are kept while the weights stay the same and rebuilt once they change in place;
    the model's own step keeps autograd."""
    model = tiny()
    src, lengths, tgt_in, tgt_out = toy_batch()

    def first_logits() -> torch.Tensor:
        decoder = inference_decoder(model)
        return decoder.step_logits(tgt_in[:, 0], decoder.encode(src, lengths))[0]

    before = first_logits()
    assert torch.equal(first_logits(), before) and inference_decoder(model) is inference_decoder(model)
    kept = inference_decoder(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    model.train()
    torch.nn.functional.cross_entropy(model(src, lengths, tgt_in).flatten(0, 1), tgt_out.flatten(), ignore_index=0).backward()
    optimizer.step()
    model.eval()
    after = first_logits()
    with torch.no_grad():
        plain = model.step_logits(tgt_in[:, 0], model.encode(src, lengths))[0]
    assert not torch.allclose(after, before, atol=1e-3) and torch.allclose(after, plain, atol=1e-5)
    assert inference_decoder(model) is not kept
    logits = model.step_logits(tgt_in[:, 0], model.encode(src, lengths))[0]
    logits.sum().backward()
    assert model.output.bias.grad is not None


@pytest.mark.parametrize("pack", [True, False])
def test_packed_linear_equals_linear_at_any_row_count(pack: bool) -> None:
    from treeseq.nn.packed import PackedLinear, packing_available  # noqa: PLC0415

    if pack and not packing_available(torch.device("cpu"), torch.float32):
        pytest.skip("this PyTorch build has no oneDNN")
    torch.manual_seed(0)
    weight, bias = torch.randn(300, 40), torch.randn(300)
    layer = PackedLinear(weight[:, :24], bias, pack=pack)  # a column slice: packed from a copy
    assert layer.packed == pack
    for rows in (1, 5, 700):
        x = torch.randn(rows, 24)
        assert torch.allclose(layer(x), torch.nn.functional.linear(x, weight[:, :24], bias), atol=1e-5)
    weight.add_(1.0)  # a frozen copy: later changes do not reach it
    x = torch.randn(3, 24)
    assert not torch.allclose(layer(x), torch.nn.functional.linear(x, weight[:, :24], bias), atol=1e-3)


def test_an_attention_kind_registered_from_outside_trains_and_translates(tmp_path: Path) -> None:
    """Adding an attention type is one class and one registration, outside the package."""
    from torch import nn

    import treeseq
    from treeseq.nn.attention import ATTENTIONS, Attention, register_attention

    @register_attention("scaled-dot-test")
    class ScaledDot(Attention):  # Luong's general score divided by sqrt(size), as a newcomer might add it
        def __init__(self, query_size: int, memory_size: int, attn_size: int) -> None:
            super().__init__(query_size, memory_size, attn_size)
            self.key_proj = nn.Linear(memory_size, query_size, bias=False)

        def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
            return torch.bmm(query, keys.transpose(1, 2)) / query.shape[-1] ** 0.5

    try:
        output = tmp_path / "toy.pt"
        treeseq.train("translator", SAMPLE, output, epochs=1, hidden_size=16, embed_dim=16, vocab_size=300,
                      batch_size=600, attention="scaled-dot-test", overrides=["data.dev_subset=5"], progress=False)  # fmt: skip
        model = treeseq.load(output)
        assert isinstance(model.inference.model.attention, ScaledDot)
        assert model.config.attention == "scaled-dot-test"
        assert len(model.predict(["Ein hund .", "Zwei katzen ."], beam=2)) == 2
    finally:
        ATTENTIONS.pop("scaled-dot-test", None)
