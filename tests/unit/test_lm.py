"""Language models: truncated BPTT, perplexity, sampling, scoring, exact resume."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from treeseq.config import TrainConfig
from treeseq.data.lm import EOS, Units, batchify, collate_segments, segment_lengths, segments, token_stream
from treeseq.decoding.sampling import Sampling, continue_prompt, filtered_logits, next_classes
from treeseq.models.lm import RNNLanguageModel, detach_state
from treeseq.nn.rnn import RNNS
from treeseq.tasks.lm import LMDataConfig, LMModelConfig, LMTask, build_model, stream_nll
from treeseq.training.engine import TrainState, fit

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "corpora" / "samples" / "parallel" / "train.en").read_text(encoding="utf-8").splitlines()


def tiny_model(kind: str = "lstm", vocab: int = 12, dropout: float = 0.0, tie: bool = True) -> RNNLanguageModel:
    torch.manual_seed(0)
    return RNNLanguageModel(vocab, rnn=kind, embed_dim=6, hidden_size=8, layers=2, dropout=dropout, tie=tie)


def test_units_of_words_characters_and_subwords() -> None:
    lines = ["a cat sat .", "a dog sat ."]
    words = Units.build("word", lines, tokenized=True)
    assert words.vocab.itos[:3] == ["<pad>", "<unk>", EOS]
    assert words.decode(words.encode(["a cat ran ."])[0]) == "a cat <unk> ."
    assert words.encode(["<eos>"]) == [[1]]  # text is never read as the marker
    chars = Units.build("char", lines)
    assert chars.decode(chars.encode(["a cat"])[0]) == "a cat"
    assert chars.classes == len(chars.vocab) - 1
    again = Units.from_dict(words.to_dict())
    assert again.encode(lines) == words.encode(lines)


def test_stream_rows_and_segments() -> None:
    stream = token_stream([[5, 6], [], [7]], eos_id=2)
    assert stream.tolist() == [2, 5, 6, 2, 7, 2]
    data = batchify(torch.arange(23), 4)
    assert data.tolist()[1] == [5, 6, 7, 8, 9]  # rows read the stream in order; 3 left over
    batches = segments(4, 4, 3)
    assert [b[0].length for b in batches] == [3, 1]
    batch = collate_segments(data, batches[1])
    assert batch.inputs[:, 0].tolist() == [3, 8, 13, 18] and batch.targets[:, 0].tolist() == [4, 9, 14, 19]
    assert collate_segments(data, batches[0]).fresh and not batch.fresh


@given(st.integers(1, 400), st.integers(1, 60), st.integers(0, 1000))
def test_varied_segments_cover_the_stream_once(total: int, bptt: int, seed: int) -> None:
    lengths = segment_lengths(total, bptt, random.Random(seed))
    assert sum(lengths) == total and all(1 <= n <= bptt + 20 for n in lengths)
    assert all(n >= 5 for n in lengths[:-1]) or bptt < 5
    assert segment_lengths(total, bptt, random.Random(seed)) == lengths


def test_tbptt_carries_the_state_and_cuts_the_gradient() -> None:
    torch.manual_seed(1)
    stream = torch.randint(1, 12, (2 * 13,))
    cfg = TrainConfig(batch_size=2)
    task = LMTask(LMModelConfig(), cfg, LMDataConfig(bptt=6, vary_bptt=False), None, stream, stream)  # type: ignore[arg-type]
    model = tiny_model()
    first, second = (task.collate(b) for b in task.train_batches(0)[:2])
    task.loss(model, first)
    carried = task.state
    assert all(not t.requires_grad for s in carried for t in s)
    # the state is carried: the second segment's logits equal the whole sequence's at those positions
    whole, _ = model(torch.cat([first.inputs, second.inputs], dim=1))
    logits, _ = model(second.inputs, carried)
    assert torch.allclose(logits, whole[:, 6:], atol=1e-6)
    # ... and the gradient is cut: the same as from a constant state, unlike full backpropagation
    model.zero_grad()
    task.loss(model, second)[0].backward()
    truncated = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    constant = [tuple(t.clone() for t in s) for s in carried]
    logits, _ = model(second.inputs, constant)
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), second.targets.flatten() - 1, reduction="sum").backward()
    assert all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(truncated, model.parameters()))
    model.zero_grad()
    whole, _ = model(torch.cat([first.inputs, second.inputs], dim=1))
    torch.nn.functional.cross_entropy(whole[:, 6:].flatten(0, 1), second.targets.flatten() - 1, reduction="sum").backward()
    assert not all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(truncated, model.parameters()))


@pytest.mark.parametrize("rows", [1, 3])
def test_a_uniform_model_has_the_vocabulary_size_as_perplexity(rows: int) -> None:
    model = tiny_model(vocab=40)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    nll, tokens = stream_nll(model, torch.randint(1, 40, (301,)), rows=rows, bptt=7)
    assert tokens == (301 // rows - 1) * rows
    assert math.exp(nll / tokens) == pytest.approx(39, rel=1e-5)  # every id but padding


def test_stream_perplexity_does_not_depend_on_the_segment_length() -> None:
    model = tiny_model().eval()
    stream = torch.randint(1, 12, (200,))
    assert stream_nll(model, stream, 1, 5)[0] == pytest.approx(stream_nll(model, stream, 1, 199)[0], rel=1e-5)


@pytest.mark.parametrize("kind", RNNS)
def test_every_cell_and_the_irnn_identity(kind: str) -> None:
    model = tiny_model(kind)
    logits, state = model(torch.randint(1, 12, (3, 5)))
    assert logits.shape == (3, 5, 11) and len(state) == 2
    if kind == "irnn":
        for rnn in model.rnns:
            assert torch.equal(rnn.weight_hh_l0, torch.eye(8))
    if kind == "lstm":  # the forget gates start open: bias 1 (input part) + 0 (recurrent part)
        for rnn in model.rnns:
            assert torch.equal(rnn.bias_ih_l0[8:16], torch.ones(8)) and torch.equal(rnn.bias_hh_l0[8:16], torch.zeros(8))


def assert_steps_equal_the_whole_sequence(model: RNNLanguageModel, ids: torch.Tensor) -> None:
    """`step` from the first token's state, one token at a time, gives `forward`'s scores."""
    whole, _ = model(ids)
    _, state = model(ids[:, :1])
    steps = []
    for t in range(1, ids.shape[1]):
        scores, state = model.step(ids[:, t], state)
        steps.append(scores)
    assert torch.allclose(torch.stack(steps, 1), whole[:, 1:], atol=1e-5)


def overfit_perplexity(model: RNNLanguageModel, units: Units, stream: torch.Tensor) -> float:
    """Dev perplexity of `stream` after 25 passes of Adam over it (4 rows, bptt 12, clipping at 1)."""
    task = LMTask(LMModelConfig(), TrainConfig(batch_size=4), LMDataConfig(bptt=12, vary_bptt=False), units, stream, stream)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(25):
        for batch in task.train_batches(0):
            nll, count = task.loss(model, task.collate(batch))
            opt.zero_grad()
            (nll / count).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    nll, tokens = stream_nll(model, stream, 1, 50)
    return math.exp(nll / tokens)


def tiny_text() -> tuple[Units, torch.Tensor]:
    lines = TEXT[:8]
    units = Units.build("word", lines, tokenized=True)
    return units, token_stream(units.encode(lines) * 6, units.eos_id)


@pytest.mark.parametrize("kind", RNNS)
def test_one_step_at_a_time_equals_the_whole_sequence(kind: str) -> None:
    assert_steps_equal_the_whole_sequence(tiny_model(kind, dropout=0.3).eval(), torch.randint(1, 12, (3, 6)))


def test_tied_weights_share_the_embedding_table() -> None:
    model = tiny_model()
    assert model.output_weight.data_ptr() == model.embedding.weight[1:].data_ptr()
    assert model.project is not None  # 8 hidden -> 6 embedding
    untied = tiny_model(tie=False)
    assert untied.out_weight is not None and untied.project is None


def test_sampling_filters() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = filtered_logits(logits, Sampling(top_p=0.7)).isfinite()
    assert kept.tolist() == [[True, True, False, False]]
    assert filtered_logits(logits, Sampling(top_p=0.5)).isfinite().tolist() == [[True, False, False, False]]
    assert filtered_logits(logits, Sampling(top_k=3)).isfinite().tolist() == [[True, True, True, False]]
    assert next_classes(logits, Sampling(temperature=0)).tolist() == [0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=2, max_size=20), st.floats(0.01, 1.0), st.integers(0, 25))
def test_filtering_keeps_the_best_class_and_a_probability_of_at_least_top_p(values: list, top_p: float, top_k: int) -> None:
    logits = torch.tensor([values])
    filtered = filtered_logits(logits, Sampling(top_k=top_k, top_p=top_p))
    kept = filtered.isfinite()[0]
    assert logits[0][kept].max() == logits.max()  # a best class always stays
    if top_k:
        assert int(kept.sum()) <= top_k
    else:
        assert float(logits.softmax(-1)[0][kept].sum()) >= top_p - 1e-6


def test_generation_is_reproducible_and_near_zero_temperature_is_greedy() -> None:
    model = tiny_model(vocab=30).eval()
    run = lambda t, seed: continue_prompt(model, [2, 5, 7], 4, 12, 2, Sampling(temperature=t), torch.Generator().manual_seed(seed))  # noqa: E731
    assert [c.ids for c in run(1.0, 3)] == [c.ids for c in run(1.0, 3)]
    greedy = [c.ids for c in run(0.0, 0)]
    assert greedy == [c.ids for c in run(1e-6, 9)]
    assert all(ids == greedy[0] for ids in greedy)
    sampled = [c.ids for c in run(1.0, 3)]
    assert sampled != [c.ids for c in run(1.0, 4)]  # another seed, other samples
    assert len({tuple(ids) for ids in sampled}) > 1 and greedy[0] not in sampled  # drawn, not the argmax


def test_each_cell_overfits_a_tiny_text() -> None:
    units, stream = tiny_text()
    for kind in RNNS:
        torch.manual_seed(0)
        model = RNNLanguageModel(units.size, rnn=kind, embed_dim=24, hidden_size=32, layers=1, dropout=0.0)
        assert overfit_perplexity(model, units, stream) < 2.0, kind


@pytest.mark.parametrize("shuffle", [False, True])
def test_resume_mid_epoch_continues_exactly(tmp_path: Path, shuffle: bool) -> None:
    units = Units.build("word", TEXT[:60], tokenized=True)
    lines = units.encode(TEXT[:60])
    stream = token_stream(lines, units.eos_id)
    cfg = TrainConfig(epochs=2, batch_size=4, optimizer="adam", lr=3e-3, seed=5)
    model_cfg = LMModelConfig(embed_dim=16, hidden_size=16, layers=2, dropout=0.2, tokenized=True)

    def run(output: Path, **kwargs: object) -> dict:
        torch.manual_seed(cfg.seed)
        task = LMTask(model_cfg, cfg, LMDataConfig(bptt=10, shuffle_lines=shuffle), units, stream, stream[:200], lines=lines)
        model = build_model(model_cfg, units)
        fit(task, model, cfg, output, torch.device("cpu"), show_progress=False, **kwargs)  # type: ignore[arg-type]
        return {k: v.clone() for k, v in model.state_dict().items()}

    def stop(state: TrainState, record: dict) -> None:
        if state.global_step == 9:  # mid-epoch, with a state carried
            state.stop_requested = True

    straight = run(tmp_path / "a.pt")
    run(tmp_path / "b.pt", step_hooks=[stop])
    resumed = run(tmp_path / "b.pt", resume=True)
    for name, value in straight.items():
        assert torch.equal(value, resumed[name]), name


def test_shuffled_lines_make_a_new_stream_each_epoch() -> None:
    units = Units.build("word", TEXT[:60], tokenized=True)
    lines = units.encode(TEXT[:60])
    stream = token_stream(lines, units.eos_id)
    cfg = TrainConfig(batch_size=1, seed=3)

    def epoch_lines(task: LMTask, epoch: int) -> list[tuple[int, ...]]:
        task.train_batches(epoch)
        row = task.data[0].tolist()
        assert row[0] == units.eos_id and row[-1] == units.eos_id and len(row) == stream.numel()
        cut = [i for i, unit in enumerate(row) if unit == units.eos_id]
        return [tuple(row[a + 1 : b]) for a, b in zip(cut, cut[1:])]

    task = LMTask(LMModelConfig(), cfg, LMDataConfig(bptt=10, shuffle_lines=True), units, stream, stream, lines=lines)
    first, second = epoch_lines(task, 0), epoch_lines(task, 1)
    assert sorted(first) == sorted(second) == sorted(tuple(line) for line in lines) and first != second
    assert first != [tuple(line) for line in lines] and epoch_lines(task, 0) == first  # (seed, epoch) alone
    plain = LMTask(LMModelConfig(), cfg, LMDataConfig(bptt=10), units, stream, stream)
    assert epoch_lines(plain, 0) == epoch_lines(plain, 1) == [tuple(line) for line in lines]
    with pytest.raises(ValueError, match="needs the encoded training lines"):
        LMTask(LMModelConfig(), cfg, LMDataConfig(shuffle_lines=True), units, stream, stream)


def test_detached_state_keeps_values() -> None:
    model = tiny_model()
    _, state = model(torch.randint(1, 12, (2, 3)))
    cut = detach_state(state)
    assert all(torch.equal(a, b) for s, c in zip(state, cut) for a, b in zip(s, c))


def two_level_model(head: int, vocab: int = 30, tie: bool = True) -> RNNLanguageModel:
    torch.manual_seed(0)
    model = RNNLanguageModel(vocab, embed_dim=6, hidden_size=8, layers=2, dropout=0.0, tie=tie, head=head)
    with torch.no_grad():  # the tail's entry starts at zero: move every parameter off its start
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return model


@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("head", [1, 10, 28])
def test_a_two_level_softmax_is_one_normalised_distribution(head: int, tie: bool) -> None:
    model = two_level_model(head, tie=tie)
    ids = torch.randint(1, 30, (3, 7))
    targets = torch.randint(0, 29, (3, 7))
    scores, _ = model(ids)
    assert scores.shape == (3, 7, 29)
    assert torch.allclose(scores.exp().sum(-1), torch.ones(3, 7), atol=1e-5)  # log-probabilities already
    # the training loss (the tail computed only where a target is in it) is the distribution's
    reference = -scores.gather(2, targets.unsqueeze(2)).sum()
    nll, _ = model(ids, None, targets)
    assert nll.item() == pytest.approx(reference.item(), rel=1e-5)
    nll.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    reference.backward()
    for name, p in model.named_parameters():
        assert torch.allclose(grads[name], p.grad, atol=1e-5), name


def test_a_two_level_softmax_without_tail_targets_and_at_full_size() -> None:
    model = two_level_model(10)
    ids = torch.randint(1, 30, (2, 5))
    nll, _ = model(ids, None, torch.randint(0, 10, (2, 5)))  # no target in the tail: nothing to select there
    nll.backward()
    assert model.tail_vector.grad is not None and model.out_bias.grad[10:].abs().sum() == 0
    full = RNNLanguageModel(30, embed_dim=6, hidden_size=8, layers=1, head=29)  # a head of every class is one softmax
    assert full.head == 0 and not hasattr(full, "tail_vector")


def test_a_two_level_softmax_steps_trains_and_measures_as_one_stream() -> None:
    model = two_level_model(4).eval()
    assert_steps_equal_the_whole_sequence(model, torch.randint(1, 30, (2, 6)))
    stream = torch.randint(1, 30, (120,))
    nll, tokens = stream_nll(model, stream, 1, 13)
    scores, _ = model(stream[:-1].unsqueeze(0))
    assert nll == pytest.approx(-scores.gather(2, (stream[1:] - 1).view(1, -1, 1)).sum().item(), rel=1e-5)
    units, stream = tiny_text()  # and it learns a tiny text as the one softmax does
    torch.manual_seed(0)
    model = RNNLanguageModel(units.size, embed_dim=24, hidden_size=32, layers=1, dropout=0.0, head=8)
    assert overfit_perplexity(model, units, stream) < 2.0


def test_weight_drop_is_one_mask_on_the_recurrent_matrices(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(12, embed_dim=6, hidden_size=8, layers=2, dropout=0.0, weight_drop=0.5)
    reference = RNNLanguageModel(12, embed_dim=6, hidden_size=8, layers=2, dropout=0.0)
    reference.load_state_dict(model.state_dict())
    masks = [torch.rand(32, 8).ge(0.5).float() * 2 for _ in model.rnns]
    with torch.no_grad():
        for rnn, mask in zip(reference.rnns, masks):
            rnn.weight_hh_l0.mul_(mask)
    drawn = iter(masks)
    monkeypatch.setattr("treeseq.models.lm._drop", lambda weight, p, shape: weight * next(drawn))
    ids = torch.randint(1, 12, (3, 7))
    dropped, _ = model(ids)
    assert torch.allclose(dropped, reference(ids)[0], atol=1e-6)  # every step and row saw the one mask
    dropped.sum().backward()
    assert all(rnn.weight_hh_l0.grad[mask == 0].abs().sum() == 0 for rnn, mask in zip(model.rnns, masks))
    assert all(rnn.weight_hh_l0.grad.abs().sum() > 0 for rnn in model.rnns)
    model.eval()  # evaluation uses the whole matrices, which training left unchanged
    reference.load_state_dict(model.state_dict())
    assert torch.equal(model(ids)[0], reference.eval()(ids)[0])


def test_weight_drop_drops_the_configured_share_of_each_recurrent_matrix() -> None:
    """No stub: the real mask, at the rate the model was given (a call site passing another rate fails)."""
    torch.manual_seed(0)
    model = RNNLanguageModel(12, embed_dim=6, hidden_size=64, layers=2, dropout=0.1, weight_drop=0.3, embed_dropout=0.5)
    model(torch.randint(1, 12, (4, 9)))[0].sum().backward()
    for rnn in model.rnns:  # a dropped weight gets no gradient; a kept one (almost surely) some
        dropped = float((rnn.weight_hh_l0.grad == 0).float().mean())
        assert abs(dropped - 0.3) < 0.02, dropped  # 16,384 entries: standard error 0.004
        assert not (rnn.weight_ih_l0.grad == 0).all(dim=1).any()  # input weights are not dropped


def test_embedding_dropout_drops_whole_words() -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(40, embed_dim=6, hidden_size=8, layers=1, dropout=0.0, embed_dropout=0.5)
    ids = torch.tensor([[3, 5, 3, 5, 7, 3]])
    embedded = model._embed(ids)
    rows = {int(i): embedded[0, t] for t, i in enumerate(ids[0])}
    for t, i in enumerate(ids[0].tolist()):  # the same word is dropped everywhere or kept and scaled everywhere
        assert torch.equal(embedded[0, t], rows[i])
        assert torch.equal(rows[i], torch.zeros(6)) or torch.allclose(rows[i], model.embedding.weight[i] * 2)
    draws = torch.stack([model._embed(torch.arange(1, 40).unsqueeze(0))[0].abs().sum(1) == 0 for _ in range(50)])
    assert 0.4 < draws.float().mean() < 0.6
    assert torch.equal(model.eval()._embed(ids), model.embedding(ids))


def test_activation_penalties_add_to_the_training_loss_only() -> None:
    torch.manual_seed(0)
    plain = RNNLanguageModel(12, embed_dim=8, hidden_size=8, layers=2, dropout=0.0, head=5)
    model = RNNLanguageModel(12, embed_dim=8, hidden_size=8, layers=2, dropout=0.0, head=5, activation_reg=2.0, temporal_reg=1.0)
    model.load_state_dict(plain.state_dict())
    ids, targets = torch.randint(1, 12, (3, 7)), torch.randint(0, 11, (3, 7))
    top = plain.states(ids)[0]  # no dropout: the dropped-out outputs are the outputs
    expected = 21 * (2.0 * top.pow(2).mean() + 1.0 * (top[:, 1:] - top[:, :-1]).pow(2).mean())
    penalised, plain_nll = model(ids, None, targets)[0], plain(ids, None, targets)[0]
    assert torch.allclose(penalised - plain_nll, expected, atol=1e-5) and expected > 0
    penalised.backward()  # the penalty reaches the recurrent weights
    plain_nll.backward()
    assert not torch.allclose(model.rnns[1].weight_hh_l0.grad, plain.rnns[1].weight_hh_l0.grad)
    model.eval(), plain.eval()  # measuring (eval mode) is the likelihood alone
    assert torch.equal(model(ids, None, targets)[0], plain(ids, None, targets)[0])


@pytest.mark.parametrize("head", [0, 4])
def test_output_biases_can_start_at_the_unigram_distribution(head: int) -> None:
    torch.manual_seed(0)
    model = RNNLanguageModel(12, embed_dim=6, hidden_size=8, layers=1, head=head)
    counts = torch.tensor([50, 20, 9, 7, 5, 3, 2, 1, 1, 0, 2])
    model.init_output_bias(counts)
    expected = (counts.double() + 0.1) / (counts.sum() + 1.1)
    distribution = model.scores(torch.zeros(1, 6)).log_softmax(-1).exp()[0].double()  # no context: the biases alone
    assert torch.allclose(distribution, expected, atol=1e-6)
