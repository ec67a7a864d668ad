"""Running a tree cell level by level over a batch, and training's backward over the levels.

A batch of trees is one (N, S) buffer of node states; each level above the leaves is one batched
composition of the rows below it. Written with plain autograd, each level's slice assignment and child
gather make the backward clone or zero-fill the whole buffer once per level. Here training's level loop
is one autograd node (`LevelSchedule`) whose backward walks the levels in reverse over one gradient
buffer, touching each node's gradient O(1) times. The binary Tree-LSTM can run fused: its cell's
compose_into/compose_backward, outside autograd (a runner built with `fused=True`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from treeseq.data.trees import TreeBatch, TreeLevel
from treeseq.errors import ConfigError
from treeseq.nn.tree_cells import BinaryTreeLSTMCell

# What training's level loop keeps of one level for the backward pass. Either its autograd graph:
# the gathered children (n, K, S) and the word vectors (n, D) or None, both leaves of that graph,
# and the level's output states (n, S); or, for a cell with its own backward (compose_backward),
# the children and what compose_into saved.
LevelGraph = tuple[Tensor, Tensor | None, Tensor]
FusedLevel = tuple[Tensor, tuple[Tensor, Tensor, Tensor]]



class LevelRunner:
    """How a tree model runs its levels, fixed when the model is built: fused (the binary Tree-LSTM's
    own forward and backward, fp32 only) or through each level's small autograd graph (any cell, any
    autocast). Either way the levels record what the backward needs only while autograd records."""

    def __init__(self, cell: nn.Module, fused: bool = False) -> None:
        if fused and not isinstance(cell, BinaryTreeLSTMCell):
            raise ConfigError(f"fused levels need the binary Tree-LSTM cell, not {type(cell).__name__}")
        self.cell, self.fused = cell, fused

    def __call__(self, batch: TreeBatch, words: Tensor, leaf_states: Tensor) -> Tensor:
        """Every node's state (N, S): the leaves' given, the levels above composed in order."""
        if self.fused and torch.is_autocast_enabled(leaf_states.device.type):
            raise ConfigError("this tree model was built with fused fp32 levels: build it with fused=False to run under autocast")
        params = tuple(self.cell.parameters())
        if torch.is_grad_enabled() and (leaf_states.requires_grad or words.requires_grad or any(p.requires_grad for p in params)):
            return LevelSchedule.apply(self, batch, words, leaf_states, *params)  # type: ignore[no-any-return]
        return run_levels(self.cell, batch, words, leaf_states, fused=self.fused)  # no graph


def run_levels(
    cell: nn.Module, batch: TreeBatch, words: Tensor, leaf_states: Tensor, record: list[Any] | None = None, fused: bool = False
) -> Tensor:
    """Every node's state in a plain (N, S) buffer, the levels above the leaves composed in order.

    The buffer is never part of an autograd graph. `fused`: the levels run the cell's compose_into. With `record`, each level appends what its backward needs: compose_into's
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
    children's gradients into their rows with index_add_; with a fused runner, through the binary
    Tree-LSTM cell's own backward.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, runner: LevelRunner, batch: TreeBatch, words: Tensor, leaf_states: Tensor, *params: Tensor
    ) -> Tensor:
        cell, fused = runner.cell, runner.fused
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
