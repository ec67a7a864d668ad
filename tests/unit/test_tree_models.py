from __future__ import annotations

import pytest
import torch
from tree_reference import reference_logits

from treeseq.data.trees import TreeExample, batch_trees
from treeseq.models.tree import MODEL_KINDS, TreeClassifier
from treeseq.nn.dropout import UniformDropout
from treeseq.trees import Tree
from treeseq.vocab import Vocab


def examples(trees: list[Tree], vocab: Vocab) -> list[TreeExample]:
    return [TreeExample(t, tuple(vocab.encode(t.tokens)), tuple(-1 if label is None else int(label) for label in t.labels)) for t in trees]


def right_branching_example(tokens: int = 2000) -> tuple[Tree, Vocab, TreeExample]:
    """A right-branching constituency tree `tokens` leaves deep (as many levels), its vocabulary and example."""
    text = "(4 w)"
    for i in range(tokens - 1):
        text = f"({i % 5} (2 w{i % 7}) {text})"
    tree = Tree.from_brackets(text)
    vocab = Vocab.build(tree.tokens)
    (example,) = examples([tree], vocab)
    return tree, vocab, example


def dependency_examples() -> list[TreeExample]:
    trees = [
        Tree.from_heads(["a", "b", "c", "d", "e"], [2, 0, 2, 3, 2], ["1", "2", "3", "4", "0"]),
        Tree.from_heads(["x"], [0], ["2"]),
        Tree.from_heads(["p", "q", "r"], [0, 1, 1], ["0", "1", "2"]),
    ]
    vocab = Vocab.build(w for t in trees for w in t.tokens)
    return examples(trees, vocab)


def test_level_schedule_invariants(sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, _ = sample
    batch = batch_trees(exs)
    assert batch.num_nodes == sum(len(e.tree) for e in exs)
    assert batch.levels[0].start == 0 and batch.levels[-1].stop == batch.num_nodes
    for before, after in zip(batch.levels, batch.levels[1:]):
        assert before.stop == after.start
    for level in batch.levels[1:]:
        assert level.child_index is not None and int(level.child_index.max()) < level.start  # children computed earlier
    assert sorted(batch.order.tolist()) == list(range(batch.num_nodes))
    gold = torch.tensor([label for e in exs for label in e.labels])
    assert torch.equal(batch.labels[batch.order], gold)
    offsets = torch.tensor([0] + [len(e.tree) for e in exs]).cumsum(0)
    assert torch.equal(batch.roots, batch.order[offsets[1:] - 1])


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_batched_equals_per_node_reference(kind: str, sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, vocab = sample
    model = TreeClassifier(kind, len(vocab), 16, 16, 5, dropout=0.0)
    batch = batch_trees(exs)
    batched = model(batch)[batch.order]
    reference = torch.cat([reference_logits(model, e) for e in exs])
    torch.testing.assert_close(batched, reference, atol=1e-5, rtol=1e-5)
    # Gradients agree too: the level schedule is the same computation, not an approximation.
    labels = batch.labels[batch.order]
    grads = torch.autograd.grad(torch.nn.functional.cross_entropy(batched, labels), list(model.parameters()))
    ref_grads = torch.autograd.grad(torch.nn.functional.cross_entropy(reference, labels), list(model.parameters()))
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_child_sum_on_dependency_trees_equals_reference() -> None:
    exs = dependency_examples()
    model = TreeClassifier("childsum-lstm", 12, 8, 8, 5)
    batch = batch_trees(exs)
    torch.testing.assert_close(model(batch)[batch.order], torch.cat([reference_logits(model, e) for e in exs]), atol=1e-5, rtol=1e-5)


def test_one_batch_equals_one_tree_at_a_time(sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, vocab = sample
    model = TreeClassifier("binary-lstm", len(vocab), 16, 16, 5)
    batch = batch_trees(exs)
    single = torch.cat([model(batch_trees([e]))[batch_trees([e]).order] for e in exs])
    torch.testing.assert_close(model(batch)[batch.order], single, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_every_model_overfits_a_tiny_sample(kind: str, sample: tuple[list[TreeExample], Vocab]) -> None:
    exs, vocab = sample
    exs = exs[:8]
    model = TreeClassifier(kind, len(vocab), 24, 24, 5)
    optim = torch.optim.Adam(model.parameters(), lr=0.02)
    batch = batch_trees(exs)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(batch), batch.labels, ignore_index=-1)
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert torch.equal(model(batch).argmax(-1), batch.labels)


def test_2000_token_right_branching_tree_trains_and_predicts() -> None:
    tree, vocab, example = right_branching_example()
    model = TreeClassifier("binary-lstm", len(vocab), 8, 8, 5)
    batch = batch_trees([example])
    assert len(batch.levels) == 2000
    loss = torch.nn.functional.cross_entropy(model(batch), batch.labels)
    loss.backward()
    assert torch.isfinite(loss) and model.cell.from_children.weight.grad is not None
    with torch.no_grad():
        assert model(batch).shape == (len(tree), 5)


def test_uniform_dropout_keeps_the_expected_share_and_scales() -> None:
    torch.manual_seed(0)
    drop = UniformDropout(0.3).train()
    x = torch.ones(400, 500, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005  # 200,000 draws: standard error 0.001
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # gradient: the same mask and scale
    assert drop.eval()(x) is x
    assert torch.equal(UniformDropout(1.0).train()(x), torch.zeros_like(x))
    with pytest.raises(ValueError, match="between 0 and 1"):
        UniformDropout(1.5)


def test_dropout_probabilities_are_checked_and_locked_dropout_keeps_one_mask_per_sequence() -> None:
    from treeseq.nn.dropout import LockedDropout, keep_mask

    for bad in (-0.1, 1.01):
        with pytest.raises(ValueError, match="between 0 and 1"):
            UniformDropout(bad)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"locked dropout probability must be in \[0, 1\)"):
            LockedDropout(bad)
    assert UniformDropout(0.0).train()(x := torch.ones(3, 4)) is x and LockedDropout(0.0).train()(x) is x
    assert repr(UniformDropout(0.25)) == "UniformDropout(p=0.25)" and repr(LockedDropout(0.5)) == "LockedDropout(p=0.5)"
    torch.manual_seed(0)
    locked = LockedDropout(0.5).train()
    x = torch.ones(30, 7, 40)
    y = locked(x)
    assert torch.equal(y, y[:, :1].expand_as(y))  # the same mask at every time step
    assert set(y.unique().tolist()) == {0.0, 2.0} and abs(float((y == 0).float().mean()) - 0.5) < 0.05
    assert locked.eval()(x) is x
    mask = keep_mask(torch.zeros(1, dtype=torch.float64), (1000, 10), 0.2)
    assert mask.dtype == torch.float64 and mask.shape == (1000, 10) and set(mask.unique().tolist()) == {0.0, 1.25}
