"""Training's level loop (LevelSchedule: one autograd node, fused backward for the binary Tree-LSTM)
against the per-node reference and against plain autograd through the same level loop."""

from __future__ import annotations

import pytest
import torch
from test_tree_models import examples, right_branching_example  # noqa: E402
from torch import Tensor
from tree_reference import reference_logits

from treeseq.data.trees import TreeBatch, TreeExample, batch_trees
from treeseq.models.tree import MODEL_KINDS, TreeClassifier
from treeseq.trees import Tree
from treeseq.vocab import Vocab


def dependency_examples() -> tuple[list[TreeExample], Vocab]:
    """Dependency trees: words on inner nodes too, and levels with fewer children than the widest."""
    trees = [
        Tree.from_heads(["a", "b", "c", "d", "e", "f"], [2, 0, 2, 3, 2, 5], ["1", "2", "3", "4", "0", "1"]),
        Tree.from_heads(["x"], [0], ["2"]),
        Tree.from_heads(["p", "q", "r", "s"], [0, 1, 1, 3], ["0", "1", "2", "3"]),
    ]
    vocab = Vocab.build(w for t in trees for w in t.tokens)
    return examples(trees, vocab), vocab


def autograd_node_states(model: TreeClassifier, batch: TreeBatch) -> Tensor:
    """The level loop written with plain autograd (slice assignment and gather on one buffer)."""
    words = model.dropout(model.embedding(batch.word_ids))
    first = batch.levels[0]
    leaf_states = model.cell.leaf(words[first.start : first.stop])
    if len(batch.levels) == 1:
        return leaf_states
    states = leaf_states.new_zeros(batch.num_nodes, model.cell.state_size)
    states[first.start : first.stop] = leaf_states
    for level in batch.levels[1:]:
        n = level.stop - level.start
        child = states.index_select(0, level.child_index).view(n, level.num_children, -1)
        x = words[level.start : level.stop] if level.start < words.shape[0] else None
        states[level.start : level.stop] = model.cell.compose(x, child, level.child_mask)
    return states


def autograd_logits(model: TreeClassifier, batch: TreeBatch) -> Tensor:
    return model.output(model.dropout(autograd_node_states(model, batch)[:, : model.cell.hidden_size]))


def loss_and_grads(logits: Tensor, labels: Tensor, model: TreeClassifier) -> tuple[Tensor, list[Tensor]]:
    loss = torch.nn.functional.cross_entropy(logits.float(), labels, ignore_index=-1)
    model.zero_grad()
    loss.backward()
    grads = [p.grad.to_dense() if p.grad.is_sparse else p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]
    return loss.detach(), grads


def kind_sizes(kind: str) -> tuple[int, int]:
    return (16, 16) if kind in ("rnn", "rntn") else (12, 16)  # (embed, hidden); rnn and rntn need them equal


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_parameter_and_embedding_gradients_equal_per_node_reference(
    kind: str, sparse: bool, sample: tuple[list[TreeExample], Vocab]
) -> None:
    exs, vocab = sample
    embed, hidden = kind_sizes(kind)
    model = TreeClassifier(kind, len(vocab), embed, hidden, 5, dropout=0.0, sparse_embeddings=sparse)
    batch = batch_trees(exs)
    labels = batch.labels[batch.order]
    batched = model(batch)[batch.order]
    assert batched.grad_fn is not None
    loss, grads = loss_and_grads(batched, labels, model)
    reference = torch.cat([reference_logits(model, e) for e in exs])
    ref_loss, ref_grads = loss_and_grads(reference, labels, model)
    torch.testing.assert_close(batched, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loss, ref_loss, atol=1e-6, rtol=1e-6)
    for (name, _), got, want in zip(model.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4, msg=lambda m: f"{name}: {m}")  # noqa: B023
    assert grads[0].abs().sum() > 0  # the embedding table's gradient is checked, not vacuous


def test_child_sum_gradients_with_words_on_inner_nodes_equal_reference() -> None:
    exs, vocab = dependency_examples()
    model = TreeClassifier("childsum-lstm", len(vocab), 8, 8, 5)
    batch = batch_trees(exs)
    assert any(level.child_mask is not None for level in batch.levels) and batch.word_ids.numel() > len(exs) + 2
    labels = batch.labels[batch.order]
    batched = model(batch)[batch.order]
    _, grads = loss_and_grads(batched, labels, model)
    reference = torch.cat([reference_logits(model, e) for e in exs])
    _, ref_grads = loss_and_grads(reference, labels, model)
    torch.testing.assert_close(batched, reference, atol=1e-5, rtol=1e-5)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_dropout_and_sparse_embeddings_equal_plain_autograd(kind: str, sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, vocab = sample
    embed, hidden = kind_sizes(kind)
    model = TreeClassifier(kind, len(vocab), embed, hidden, 5, dropout=0.3, sparse_embeddings=True).train()
    batch = batch_trees(exs)
    torch.manual_seed(7)  # the same dropout masks for both
    fast = model(batch)
    _, grads = loss_and_grads(fast, batch.labels, model)
    torch.manual_seed(7)
    plain = autograd_logits(model, batch)
    _, want = loss_and_grads(plain, batch.labels, model)
    torch.testing.assert_close(fast, plain, atol=1e-6, rtol=1e-6)
    for got, expected in zip(grads, want):
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_bf16_autocast_equals_plain_autograd(kind: str, sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, vocab = sample
    embed, hidden = kind_sizes(kind)
    model = TreeClassifier(kind, len(vocab), embed, hidden, 5, fused=False)  # autocast: each level's own graph
    batch = batch_trees(exs)
    results = []
    for logits_of in (model, lambda b: autograd_logits(model, b)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = logits_of(batch)
        results.append((logits.float(), *loss_and_grads(logits, batch.labels, model)))
    (fast, fast_loss, grads), (plain, plain_loss, want) = results
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)  # the same bf16 operations
    torch.testing.assert_close(fast_loss, plain_loss, atol=1e-5, rtol=1e-5)
    for got, expected in zip(grads, want):
        torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-2)  # bf16 gradients summed in another order


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_inference_builds_no_graph_and_equals_training_forward(kind: str, sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, vocab = sample
    embed, hidden = kind_sizes(kind)
    model = TreeClassifier(kind, len(vocab), embed, hidden, 5).eval()
    batch = batch_trees(exs)
    with torch.no_grad():
        inferred = model(batch)
    assert inferred.grad_fn is None and not inferred.requires_grad
    torch.testing.assert_close(inferred, model(batch), atol=0, rtol=0)


def test_backward_twice_with_retain_graph(sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, vocab = sample
    batch = batch_trees(exs)
    model = TreeClassifier("binary-lstm", len(vocab), 16, 16, 5)  # the fused backward keeps what it needs
    loss = torch.nn.functional.cross_entropy(model(batch), batch.labels, ignore_index=-1)
    loss.backward(retain_graph=True)
    once = [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]
    loss.backward()
    for p, first in zip(model.parameters(), once):
        torch.testing.assert_close(p.grad, 2 * first)
    model = TreeClassifier("rnn", len(vocab), 16, 16, 5)  # each level's autograd graph is freed as it is used
    loss = torch.nn.functional.cross_entropy(model(batch), batch.labels, ignore_index=-1)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_frozen_cell_still_trains_the_embeddings(sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, vocab = sample
    model = TreeClassifier("binary-lstm", len(vocab), 12, 16, 5)
    model.cell.requires_grad_(False)
    batch = batch_trees(exs)
    torch.nn.functional.cross_entropy(model(batch), batch.labels, ignore_index=-1).backward()
    assert all(p.grad is None for p in model.cell.parameters())
    got, model.embedding.weight.grad = model.embedding.weight.grad, None
    torch.nn.functional.cross_entropy(autograd_logits(model, batch), batch.labels, ignore_index=-1).backward()
    assert got is not None and got.abs().sum() > 0
    torch.testing.assert_close(got, model.embedding.weight.grad, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kind", ["rnn", "childsum-lstm"])
def test_2000_token_right_branching_tree_without_the_fused_cell(kind: str) -> None:
    _, vocab, example = right_branching_example()
    model = TreeClassifier(kind, len(vocab), 8, 8, 5)
    batch = batch_trees([example])
    assert len(batch.levels) == 2000
    loss = torch.nn.functional.cross_entropy(model(batch), batch.labels)
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in model.parameters())


def test_fused_and_graph_levels_agree_and_fused_refuses_autocast(sample: tuple[list[TreeExample], Vocab]) -> None:
    """The level runner is chosen when the model is built: the binary Tree-LSTM's fused levels equal its
    levels through autograd graphs, and a fused model asked to run under autocast says so."""
    from treeseq.errors import ConfigError

    exs, vocab = sample
    fused = TreeClassifier("binary-lstm", len(vocab), 12, 16, 5, dropout=0.0)
    graph = TreeClassifier("binary-lstm", len(vocab), 12, 16, 5, dropout=0.0, fused=False)
    graph.load_state_dict(fused.state_dict())
    assert fused.levels.fused and not graph.levels.fused
    batch = batch_trees(exs)
    (a, _, grads_a), (b, _, grads_b) = ((m(batch), *loss_and_grads(m(batch), batch.labels, m)) for m in (fused, graph))
    torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    for got, want in zip(grads_a, grads_b):
        torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    with pytest.raises(ConfigError, match="fused=False"), torch.autocast("cpu", dtype=torch.bfloat16):
        fused(batch)
