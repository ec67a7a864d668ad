"""Every model's equations against a reference written from its paper (tests/unit/paper_references.py),
on random weights: the recursive tree models, the four recurrent cells (whole layers, the one-step
decoding path and the padded BiRNN), the three attentions, the attentional decoder and the CRF."""

from __future__ import annotations

import paper_references as ref
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from treeseq.data.trees import TreeExample, batch_trees
from treeseq.models.seq2seq import Seq2Seq
from treeseq.models.tree import MODEL_KINDS, TreeClassifier
from treeseq.nn.attention import build_attention
from treeseq.nn.crf import CRF
from treeseq.nn.rnn import BiRNN, cell_step, recurrent_layer
from treeseq.tags import allowed_transitions
from treeseq.trees import Tree
from treeseq.vocab import Vocab

RNN_KINDS = ("lstm", "gru", "rnn", "irnn")


def randomize(module: torch.nn.Module, std: float = 0.5, seed: int = 0) -> torch.nn.Module:
    """Every parameter drawn afresh, so that no structured initialisation (averaging, identity, zero
    biases) can hide a swapped block or a dropped term."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * std)
    return module


def tree_examples(trees: list[Tree]) -> tuple[list[TreeExample], int]:
    vocab = Vocab.build(w for t in trees for w in t.tokens)
    return [TreeExample(t, tuple(vocab.encode(t.tokens)), tuple(0 for _ in t.labels)) for t in trees], len(vocab)


def dependency_trees() -> list[Tree]:
    """Every node carries a word, inner nodes included, with one to three children."""
    return [
        Tree.from_heads(["a", "b", "c", "d", "e"], [2, 0, 2, 3, 2], ["1", "2", "3", "4", "0"]),
        Tree.from_heads(["x"], [0], ["2"]),
        Tree.from_heads(["p", "q", "r"], [0, 1, 1], ["0", "1", "2"]),
        Tree.from_heads(["u", "v", "w", "y"], [4, 4, 4, 0], ["0", "1", "2", "3"]),
    ]


@pytest.mark.parametrize("kind, fused", [(kind, False) for kind in MODEL_KINDS] + [("binary-lstm", True)])
def test_tree_models_compute_their_papers_equations(kind: str, fused: bool, sample: tuple[list[TreeExample], Vocab]) -> None:
    """Both runners of the binary Tree-LSTM: the cell's compose (autograd, any precision) and its fused fp32 levels."""
    exs, vocab = sample
    model = randomize(TreeClassifier(kind, len(vocab), 6, 6, 5, dropout=0.0, fused=fused), seed=1).eval()
    batch = batch_trees(exs)
    got = model(batch)[batch.order].double()
    want = torch.cat([ref.tree_logits(model, e.tree, e.word_ids) for e in exs])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_child_sum_tree_lstm_reads_the_words_on_inner_nodes() -> None:
    exs, vocab_size = tree_examples(dependency_trees())
    model = randomize(TreeClassifier("childsum-lstm", vocab_size, 5, 5, 3), seed=2).eval()
    batch = batch_trees(exs)
    got = model(batch)[batch.order].double()
    want = torch.cat([ref.tree_logits(model, e.tree, e.word_ids) for e in exs])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_recurrent_layers_and_the_decoding_step_compute_their_papers_equations(kind: str) -> None:
    layer = recurrent_layer(kind, 4, 5)
    if kind == "irnn":  # Le et al. 2015: identity recurrence, zero biases, small input weights
        assert torch.equal(layer.weight_hh_l0, torch.eye(5)) and not layer.bias_ih_l0.any() and not layer.bias_hh_l0.any()
        assert 0 < float(layer.weight_ih_l0.std()) < 0.01
    randomize(layer, seed=3)
    xs = torch.randn(7, 4, generator=torch.Generator().manual_seed(4))
    want = ref.rnn_sequence(kind, xs.double(), ref.rnn_layer_weights(layer))
    got, _ = layer(xs.unsqueeze(0))
    torch.testing.assert_close(got[0].double(), want, atol=1e-5, rtol=1e-5)
    # The one-step path decoding runs, over the layer's own weights.
    ih = lambda x: x @ layer.weight_ih_l0.t() + layer.bias_ih_l0  # noqa: E731
    hh = lambda h: h @ layer.weight_hh_l0.t() + layer.bias_hh_l0  # noqa: E731
    state = (torch.zeros(1, 5), torch.zeros(1, 5)) if kind == "lstm" else torch.zeros(1, 5)
    steps = []
    with torch.no_grad():
        for x in xs:
            h, state = cell_step(kind, x.unsqueeze(0), state, ih, hh)
            steps.append(h[0])
    torch.testing.assert_close(torch.stack(steps).double(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", RNN_KINDS)
def test_padded_birnn_is_a_forward_and_a_backward_rnn_over_each_sentence(kind: str) -> None:
    birnn = randomize(BiRNN(kind, 3, 4, layers=2), seed=5).eval()
    lengths = [5, 2, 4]
    inputs = torch.randn(3, 5, 3, generator=torch.Generator().manual_seed(6))
    got = birnn(inputs, torch.tensor(lengths)).double()
    for row, n in enumerate(lengths):
        states = inputs[row, :n].double()
        for fwd, bwd in zip(birnn.forward_rnns, birnn.backward_rnns):
            forward = ref.rnn_sequence(kind, states, ref.rnn_layer_weights(fwd))
            backward = ref.rnn_sequence(kind, states.flip(0), ref.rnn_layer_weights(bwd)).flip(0)
            states = torch.cat([forward, backward], dim=1)
        torch.testing.assert_close(got[row, :n], states, atol=1e-5, rtol=1e-5)
        assert not got[row, n:].any()  # padding stays zero


@pytest.mark.parametrize("kind", ["bahdanau", "dot", "general"])
def test_attention_computes_its_papers_scores(kind: str) -> None:
    attention = randomize(build_attention(kind, 6, 6, 5), seed=7)
    generator = torch.Generator().manual_seed(8)
    memory, query = torch.randn(2, 4, 6, generator=generator), torch.randn(2, 3, 6, generator=generator)
    lengths = [3, 1]
    mask = torch.arange(4).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    context, weights = attention(query, attention.keys(memory), memory, mask)
    for b, n in enumerate(lengths):
        for q in range(3):
            want_weights, want_context = ref.attend(kind, attention, query[b, q].double(), memory[b].double(), n)
            torch.testing.assert_close(weights[b, q].double(), want_weights, atol=1e-6, rtol=1e-5)
            torch.testing.assert_close(context[b, q].double(), want_context, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("attention, rnn, feeding", [("bahdanau", "gru", False), ("bahdanau", "lstm", False),
                                                      ("general", "lstm", False), ("dot", "gru", False),
                                                      ("general", "gru", True)])  # fmt: skip
def test_attentional_decoder_computes_its_papers_equations(attention: str, rnn: str, feeding: bool) -> None:
    torch.manual_seed(0)
    model = Seq2Seq(20, 15, rnn=rnn, embed_dim=5, hidden_size=4, attention=attention, input_feeding=feeding, dropout=0.0,
                    tie_embeddings=False)  # fmt: skip
    model = randomize(model, seed=9).eval()
    src = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    lengths = torch.tensor([4, 2])
    tgt_in = torch.tensor([[2, 5, 6, 7], [2, 8, 9, 4]])
    with torch.no_grad():
        got = model(src, lengths, tgt_in).double()
    for b in range(2):
        want = ref.seq2seq_logits(model, src[b, : int(lengths[b])].tolist(), tgt_in[b].tolist())
        torch.testing.assert_close(got[b], want, atol=1e-5, rtol=1e-5)


BIO = ["B-A", "B-B", "I-A", "I-B", "O"]
LABELS = {"bio": BIO, "iob1": BIO, "bioes": ["B-A", "E-A", "I-A", "O", "S-A", "B-B", "E-B"]}


def crf_params(crf: CRF) -> dict[str, torch.Tensor]:
    return {name: getattr(crf, name).detach().double() for name in ("start", "transitions", "end")}


@pytest.mark.parametrize("scheme", [None, "bio", "iob1", "bioes"])
def test_crf_partition_viterbi_and_path_scores_equal_enumeration_of_well_formed_sequences(scheme: str | None) -> None:
    labels = LABELS[scheme or "bio"]
    constraints = allowed_transitions(labels, scheme) if scheme else None
    crf = randomize(CRF(len(labels), constraints), std=1.0, seed=10)
    generator = torch.Generator().manual_seed(11)
    lengths = [4, 1, 3, 2] if len(labels) < 6 else [3, 1, 2]
    emissions = torch.randn(len(lengths), max(lengths), len(labels), generator=generator) * 2
    mask = torch.arange(max(lengths)).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    log_z = crf.log_partition(emissions, mask)
    best_tags, best_scores = crf.viterbi(emissions, mask)
    params = crf_params(crf)
    for row, n in enumerate(lengths):
        want_z, want_path, want_score = ref.crf_enumerate(params, emissions[row, :n].double(), labels if scheme else None, scheme)
        torch.testing.assert_close(log_z[row].double(), want_z, atol=1e-4, rtol=1e-5)
        assert best_tags[row, :n].tolist() == want_path
        torch.testing.assert_close(best_scores[row].double(), want_score, atol=1e-4, rtol=1e-5)
        tags = torch.tensor([want_path + [0] * (max(lengths) - n)])
        torch.testing.assert_close(crf.sequence_score(emissions[row : row + 1], tags, mask[row : row + 1])[0].double(),
                                   ref.crf_path_score(params, emissions[row].double(), want_path), atol=1e-4, rtol=1e-5)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 6), st.sampled_from(["bio", "bioes", "iob1"]), st.integers(0, 10**6))
def test_constrained_viterbi_emits_only_sequences_well_formed_by_the_schemes_definition(length: int, scheme: str, seed: int) -> None:
    labels = LABELS[scheme]
    crf = randomize(CRF(len(labels), allowed_transitions(labels, scheme)), std=3.0, seed=seed)
    emissions = torch.randn(1, length, len(labels), generator=torch.Generator().manual_seed(seed + 1)) * 5
    tags, _ = crf.viterbi(emissions, torch.ones(1, length, dtype=torch.bool))
    assert ref.valid_by_definition([labels[i] for i in tags[0].tolist()], scheme)


@pytest.mark.parametrize("scheme", ["bio", "iob1", "bioes"])
def test_allowed_transitions_permit_exactly_the_well_formed_pairs(scheme: str) -> None:
    """Every start tag, tag pair and end tag is allowed exactly when some well-formed sequence uses it."""
    labels = LABELS[scheme]
    start, trans, end = allowed_transitions(labels, scheme)
    heads, tails = ([], ["B-A"], ["B-B"], ["I-A"], ["I-B"]), ([], ["E-A"], ["E-B"])
    for j, tag in enumerate(labels):
        assert bool(start[j]) == any(ref.valid_by_definition([tag, *tail], scheme) for tail in tails), tag
        assert bool(end[j]) == any(ref.valid_by_definition([*head, tag], scheme) for head in heads), tag
        for i, prev in enumerate(labels):
            usable = any(ref.valid_by_definition([*head, prev, tag, *tail], scheme) for head in heads for tail in tails)
            assert bool(trans[i, j]) == usable, (prev, tag)


def test_attention_and_recurrent_layers_refuse_what_they_cannot_build() -> None:
    from treeseq.errors import ConfigError, ShapeError

    with pytest.raises(ConfigError, match="attention 'luong': expected one of bahdanau, dot, general"):
        build_attention("luong", 4, 4, 4)
    with pytest.raises(ConfigError, match="dot attention needs equal query and memory sizes, got 4 and 6"):
        build_attention("dot", 4, 6, 4)
    attention = build_attention("general", 4, 6, 5)
    memory = torch.randn(2, 3, 6)
    with pytest.raises(ShapeError, match=r"attention query must be \(B, Q, H\) with B=2, got \(2, 4\)"):
        attention(torch.randn(2, 4), attention.keys(memory), memory, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ShapeError, match="with B=2, got"):
        attention(torch.randn(3, 1, 4), attention.keys(memory), memory, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ConfigError, match="rnn 'elman': expected one of lstm, gru, rnn, irnn"):
        recurrent_layer("elman", 3, 4)
    layer = recurrent_layer("gru", 3, 4, 2, bidirectional=True, dropout=0.25)
    assert layer.batch_first and layer.bidirectional and layer.dropout == 0.25 and layer.num_layers == 2
    assert isinstance(recurrent_layer("lstm", 3, 4), torch.nn.LSTM) and recurrent_layer("rnn", 3, 4).nonlinearity == "tanh"


def test_birnn_drops_out_only_between_its_levels() -> None:
    one_level = BiRNN("lstm", 3, 4, layers=1, dropout=0.9)
    inputs, lengths = torch.randn(2, 5, 3), torch.tensor([5, 3])
    torch.testing.assert_close(one_level.train()(inputs, lengths), one_level.eval()(inputs, lengths))  # never on the input
    two_levels = BiRNN("lstm", 3, 4, layers=2, dropout=0.9)
    assert not torch.allclose(two_levels.train()(inputs, lengths), two_levels.eval()(inputs, lengths))
    assert two_levels.hidden_size == 4 and two_levels.forward_rnns[1].input_size == 8
