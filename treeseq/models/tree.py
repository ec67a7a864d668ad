"""Tree classifiers: embeddings, a composition cell run level by level, a softmax on every node."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from treeseq.data.trees import TreeBatch, TreeLevel
from treeseq.nn.dropout import UniformDropout
from treeseq.nn.tree_cells import BinaryTreeLSTMCell, ChildSumTreeLSTMCell, RecursiveCell, RNTNCell

TreeModelKind = Literal["rnn", "rntn", "binary-lstm", "childsum-lstm"]
MODEL_KINDS: tuple[str, ...] = ("rnn", "rntn", "binary-lstm", "childsum-lstm")

# What training's level loop keeps of one level for the backward pass. Either its autograd graph:
# the gathered children (n, K, S) and the word vectors (n, D) or None, both leaves of that graph,
# and the level's output states (n, S); or, for a cell with its own backward (compose_backward),
# the children and what compose_into saved.
LevelGraph = tuple[Tensor, Tensor | None, Tensor]
FusedLevel = tuple[Tensor, tuple[Tensor, Tensor, Tensor]]


def build_cell(kind: str, input_size: int, hidden_size: int) -> nn.Module:
    match kind:
        case "rnn":
            return RecursiveCell(input_size, hidden_size)
        case "rntn":
            return RNTNCell(input_size, hidden_size)
        case "binary-lstm":
            return BinaryTreeLSTMCell(input_size, hidden_size)
        case "childsum-lstm":
            return ChildSumTreeLSTMCell(input_size, hidden_size)
    raise ValueError(f"unknown tree model {kind!r}; expected one of {', '.join(MODEL_KINDS)}")


def runs_fused(cell: nn.Module, leaf_states: Tensor) -> bool:
    """Whether the levels run the cell's compose_into/compose_backward, outside autograd: the binary
    Tree-LSTM's do, except under autocast, whose casts only compose under autograd repeats."""
    return isinstance(cell, BinaryTreeLSTMCell) and not torch.is_autocast_enabled(leaf_states.device.type)


def run_levels(
    cell: nn.Module, batch: TreeBatch, words: Tensor, leaf_states: Tensor, record: list[Any] | None = None, fused: bool = False
) -> Tensor:
    """Every node's state in a plain (N, S) buffer, the levels above the leaves composed in order.

    The buffer is never part of an autograd graph. `fused`: the levels run the cell's compose_into
    (see runs_fused). With `record`, each level appends what its backward needs: compose_into's
    saved tensors, or else the small autograd graph of compose run on detached copies of its inputs.
    """
    num_words = words.shape[0]
    states = leaf_states.new_empty(batch.num_nodes, cell.state_size)  # the levels tile [0, N)
    first = batch.levels[0]
    states[first.start : first.stop] = leaf_states
    for level in batch.levels[1:]:
        n = level.stop - level.start
        child = states.index_select(0, level.child_index).view(n, level.num_children, -1)  # (n, K, S)
        if fused:
            saved = cell.compose_into(child, states[level.start : level.stop])
            if record is not None:
                record.append((child, saved))
            continue
        x = words[level.start : level.stop] if level.start < num_words else None
        if record is None:
            out = cell.compose(x, child, level.child_mask)
        else:
            child.requires_grad_()
            x = None if x is None else x.detach().requires_grad_()
            with torch.enable_grad():
                out = cell.compose(x, child, level.child_mask)
            record.append((child, x, out))
        states[level.start : level.stop] = out
    return states


class LevelSchedule(torch.autograd.Function):
    """Training's level loop as one autograd node, whose backward touches each node's gradient O(1) times.

    Written with plain autograd, each level's slice assignment and child gather make the backward
    clone or zero-fill the whole (N, S) buffer once per level. Here the backward walks the levels
    in reverse over one gradient buffer, back-propagating each level on its own and adding the
    children's gradients into their rows with index_add_; with the binary Tree-LSTM, through the
    cell's own backward (see runs_fused).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, cell: nn.Module, batch: TreeBatch, words: Tensor, leaf_states: Tensor, *params: Tensor
    ) -> Tensor:
        fused = runs_fused(cell, leaf_states)
        record: list[Any] = []
        states = run_levels(cell, batch, words, leaf_states, record, fused)
        ctx.cell, ctx.levels, ctx.record, ctx.fused, ctx.params = cell, batch.levels, record, fused, params
        ctx.words_like = (words.shape, words.dtype)
        ctx.save_for_backward(*params)  # for autograd's check that they are not changed in place before backward
        return states

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_states: Tensor) -> tuple[Tensor | None, ...]:
        record = ctx.record
        if record is None:
            raise RuntimeError("backward through a tree batch's levels a second time: their graphs are freed after the first")
        _ = ctx.saved_tensors  # raises if a parameter was changed in place since forward
        grads = grad_states.contiguous().clone()  # (N, S); children's rows gain their parents' terms
        word_grads = None
        if ctx.fused:
            param_grads = backprop_fused(ctx.cell, ctx.levels, record, grads, ctx.params)
        else:
            ctx.record = None  # backprop_graphs frees each level's graph as it goes, as autograd would
            if any(x is not None for _, x, _ in record):
                word_grads = grad_states.new_zeros(ctx.words_like[0], dtype=ctx.words_like[1])
            param_grads = backprop_graphs(ctx.levels, record, grads, word_grads, ctx.params)
        first = ctx.levels[0]
        return (None, None, word_grads, grads[first.start : first.stop], *param_grads)


def backprop_fused(
    cell: BinaryTreeLSTMCell, levels: list[TreeLevel], record: list[FusedLevel], grads: Tensor, params: tuple[Tensor, ...]
) -> list[Tensor | None]:
    """Back-propagates the levels of a fused forward into `grads` (N, S); returns the gradients of `params`."""
    weight, bias = cell.from_children.weight, cell.from_children.bias
    grad_weight = torch.zeros_like(weight) if weight.requires_grad else None
    grad_bias = torch.zeros_like(bias) if bias.requires_grad else None
    for level, (child, saved) in zip(reversed(levels[1:]), reversed(record)):
        grad_child = cell.compose_backward(child, saved, grads[level.start : level.stop], grad_weight, grad_bias)
        grads.index_add_(0, level.child_index, grad_child.view(-1, grads.shape[1]))
    return [grad_weight if p is weight else grad_bias if p is bias else None for p in params]


def backprop_graphs(
    levels: list[TreeLevel], record: list[LevelGraph], grads: Tensor, word_grads: Tensor | None, params: tuple[Tensor, ...]
) -> list[Tensor | None]:
    """Back-propagates each level's graph into `grads` (N, S) and `word_grads` (M, D); returns the gradients of `params`."""
    trainable = [p for p in params if p.requires_grad]
    totals = [GradSum() for _ in trainable]
    for level, (child, x, out) in zip(reversed(levels[1:]), reversed(record)):
        inputs = [child] + ([] if x is None else [x]) + trainable
        got = torch.autograd.grad(out, inputs, grads[level.start : level.stop].to(out.dtype), allow_unused=True)
        if got[0] is not None:
            grads.index_add_(0, level.child_index, got[0].reshape(-1, grads.shape[1]).to(grads.dtype))
        if x is not None and got[1] is not None and word_grads is not None:
            word_grads[level.start : level.stop] = got[1]
        for total, grad in zip(totals, got[len(inputs) - len(trainable) :]):
            total.add(grad)
    by_param = {id(p): total.total for p, total in zip(trainable, totals)}
    return [by_param.get(id(p)) for p in params]


class GradSum:
    """A sum of gradients over the levels, added in place once the total is a tensor of its own."""

    def __init__(self) -> None:
        self.total: Tensor | None = None
        self.owned = False

    def add(self, grad: Tensor | None) -> None:
        if grad is None:
            return
        if self.total is None:
            self.total = grad  # autograd's tensor, which may alias another gradient: never written to
        elif self.owned:
            self.total.add_(grad)
        else:
            self.total, self.owned = self.total + grad, True


class TreeClassifier(nn.Module):
    """Labels every node of a batch of trees.

    Args:
        kind: the composition cell (rnn, rntn, binary-lstm, childsum-lstm).
        vocab_size, embed_dim, hidden_size, num_classes: sizes.
        dropout: on word vectors and on the states the classifier reads.
        sparse_embeddings: sparse gradients for the embedding table (cheap updates of large vocabularies).
    """

    def __init__(
        self,
        kind: str,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_classes: int,
        dropout: float = 0.0,
        sparse_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0, sparse=sparse_embeddings)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.cell = build_cell(kind, embed_dim, hidden_size)
        self.dropout = UniformDropout(dropout)  # nn.Dropout's bernoulli_ mask cost 17% of a CPU training batch
        self.output = nn.Linear(hidden_size, num_classes)

    @staticmethod
    def arity_of(kind: str) -> int:
        """2 for the cells that need binary trees, 0 for any number of children."""
        return 0 if kind == "childsum-lstm" else 2

    def node_states(self, batch: TreeBatch) -> Tensor:
        """The cell state of every node, (N, S) in batch buffer order."""
        words = self.dropout(self.embedding(batch.word_ids))  # (M, D) for buffer rows [0, M)
        first = batch.levels[0]
        leaf_states = self.cell.leaf(words[first.start : first.stop])
        if len(batch.levels) == 1:
            return leaf_states
        if torch.is_grad_enabled():
            params = tuple(self.cell.parameters())
            if leaf_states.requires_grad or words.requires_grad or any(p.requires_grad for p in params):
                return LevelSchedule.apply(self.cell, batch, words, leaf_states, *params)  # type: ignore[no-any-return]
        return run_levels(self.cell, batch, words, leaf_states, fused=runs_fused(self.cell, leaf_states))  # no graph

    def forward(self, batch: TreeBatch) -> Tensor:
        """Class logits for every node, (N, C) in batch buffer order."""
        hidden = self.node_states(batch)[:, : self.cell.hidden_size]
        return self.output(self.dropout(hidden))
