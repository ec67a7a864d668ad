"""Composition cells of the recursive models, each applied to all nodes of one tree level at once.

Every cell maps to a per-node state of `state_size` features, of which the first `hidden_size` are
the representation the classifier reads. A cell has two entry points:
  leaf(x)                        x: (n, D) word vectors of nodes with no children
  compose(x, child, child_mask)  x: (n, D) or None (constituency phrases carry no word);
                                 child: (n, K, S) children's states; child_mask: (n, K) or None
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def init_averaging(linear: nn.Linear, hidden_size: int, noise: float = 0.01) -> None:
    """W = 0.5 [I I] + noise, bias 0 (Socher et al.): a new phrase starts as its children's mean.

    With the default initialisation every composition shrinks its input, so roots of deep trees
    all look alike and the recursive NN and RNTN barely learn; averaging keeps the words' signal.
    """
    with torch.no_grad():
        eye = torch.eye(hidden_size)
        linear.weight.uniform_(-noise, noise).add_(0.5 * torch.cat([eye, eye], dim=1))
        linear.bias.zero_()


class RecursiveCell(nn.Module):
    """Recursive NN (Socher et al. 2011): p = tanh(W [a; b] + bias); a word's vector is its leaf state."""

    arity = 2

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if input_size != hidden_size:
            raise ValueError("the recursive NN uses word vectors as leaf states: embedding size must equal hidden size")
        self.hidden_size = self.state_size = hidden_size
        self.combine = nn.Linear(2 * hidden_size, hidden_size)
        init_averaging(self.combine, hidden_size)

    def leaf(self, x: Tensor) -> Tensor:
        return x

    def compose(self, x: Tensor | None, child: Tensor, child_mask: Tensor | None) -> Tensor:
        return torch.tanh(self.combine(child.flatten(1)))  # (n, 2H) -> (n, H)


class RNTNCell(nn.Module):
    """Recursive neural tensor network (Socher et al. 2013): p = tanh([a;b]^T V [a;b] + W [a;b] + bias)."""

    arity = 2

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if input_size != hidden_size:
            raise ValueError("the RNTN uses word vectors as leaf states: embedding size must equal hidden size")
        self.hidden_size = self.state_size = hidden_size
        self.combine = nn.Linear(2 * hidden_size, hidden_size)
        init_averaging(self.combine, hidden_size)
        # V as a (2H, H * 2H) matrix: one product gives every slice's [a;b]^T V[k] row at once.
        # V = tensor * scale: each of its 4H^2 entries moves by about lr per step under Adagrad/Adam,
        # which unscaled swamps the tanh; the 1/(2H) factor keeps updates proportionate to W's.
        self.scale = 1.0 / (2 * hidden_size)
        self.tensor = nn.Parameter(torch.empty(2 * hidden_size, hidden_size * 2 * hidden_size))
        nn.init.normal_(self.tensor, std=0.5)  # V's entries: std 1 / (4H)

    def leaf(self, x: Tensor) -> Tensor:
        return x

    def compose(self, x: Tensor | None, child: Tensor, child_mask: Tensor | None) -> Tensor:
        ab = child.flatten(1)  # (n, 2H)
        n, width = ab.shape
        bilinear = torch.bmm((ab @ self.tensor).view(n, self.hidden_size, width), ab.unsqueeze(2)).squeeze(2) * self.scale
        return torch.tanh(bilinear + self.combine(ab))  # (n, H)


class BinaryTreeLSTMCell(nn.Module):
    """Binary (N-ary, N=2) Tree-LSTM (Tai et al. 2015), with a forget gate per child. State: [h; c]."""

    arity = 2

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size, self.state_size = hidden_size, 2 * hidden_size
        self.from_word = nn.Linear(input_size, 3 * hidden_size)  # i, o, u of a leaf
        self.from_children = nn.Linear(2 * hidden_size, 5 * hidden_size)  # i, f_left, f_right, o, u

    def leaf(self, x: Tensor) -> Tensor:
        i, o, u = self.from_word(x).chunk(3, dim=-1)
        c = torch.sigmoid(i) * torch.tanh(u)
        return torch.cat([torch.sigmoid(o) * torch.tanh(c), c], dim=-1)

    def compose(self, x: Tensor | None, child: Tensor, child_mask: Tensor | None) -> Tensor:
        h, c = child.split(self.hidden_size, dim=-1)  # (n, 2, H) each
        pre = self.from_children(h.flatten(1))  # (n, 5H)
        gates = torch.sigmoid(pre[:, : 4 * self.hidden_size])
        i, f_left, f_right, o = gates.chunk(4, dim=-1)
        u = torch.tanh(pre[:, 4 * self.hidden_size :])
        c_new = torch.addcmul(torch.addcmul(i * u, f_left, c[:, 0]), f_right, c[:, 1])  # fused: fewer ops a level
        return torch.cat([o * torch.tanh(c_new), c_new], dim=-1)

    # compose_into and compose_backward run a level outside autograd (training's level loop, in fp32 or
    # fp64: not under autocast). They repeat compose's operations, so states and gradients are the same.

    def compose_into(self, child: Tensor, out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """compose(None, child, None) written into `out` (n, S); returns the gates (n, 4H), u and tanh(c) (n, H)."""
        n, size = child.shape[0], self.hidden_size
        h, c = child.split(size, dim=-1)  # (n, 2, H) each
        pre = self.from_children(h.reshape(n, 2 * size))  # (n, 5H)
        gates = torch.sigmoid(pre[:, : 4 * size])
        i, f_left, f_right, o = gates.chunk(4, dim=-1)
        u = torch.tanh(pre[:, 4 * size :])
        c_new = torch.addcmul(torch.addcmul(i * u, f_left, c[:, 0]), f_right, c[:, 1], out=out[:, size:])
        tanh_c = torch.tanh(c_new)
        torch.mul(o, tanh_c, out=out[:, :size])
        return gates, u, tanh_c

    def compose_backward(
        self, child: Tensor, saved: tuple[Tensor, Tensor, Tensor], grad_out: Tensor, grad_weight: Tensor | None, grad_bias: Tensor | None
    ) -> Tensor:
        """The children's gradient (n, 2, S) from the output's (n, S), for compose_into's `saved`.

        Adds the gradient of from_children's weight and bias into grad_weight (5H, 2H) and grad_bias (5H,)
        where given.
        """
        n, size = child.shape[0], self.hidden_size
        gates, u, tanh_c = saved
        i, f_left, f_right, o = gates.chunk(4, dim=-1)
        c = child[:, :, size:]  # (n, 2, H)
        grad_h = grad_out[:, :size]
        grad_c = grad_out[:, size:] + torch.ops.aten.tanh_backward(grad_h * o, tanh_c)  # (n, H), through h = o tanh(c)
        grad_gates = torch.cat([grad_c * u, grad_c * c[:, 0], grad_c * c[:, 1], grad_h * tanh_c], dim=1)  # i, f_l, f_r, o
        grad_pre = torch.cat([torch.ops.aten.sigmoid_backward(grad_gates, gates), torch.ops.aten.tanh_backward(grad_c * i, u)], dim=1)
        grad_child = torch.empty_like(child)
        grad_child[:, :, :size] = (grad_pre @ self.from_children.weight).view(n, 2, size)
        torch.mul(grad_c, f_left, out=grad_child[:, 0, size:])
        torch.mul(grad_c, f_right, out=grad_child[:, 1, size:])
        if grad_weight is not None:
            grad_weight.addmm_(grad_pre.t(), child[:, :, :size].reshape(n, 2 * size))
        if grad_bias is not None:
            grad_bias.add_(grad_pre.sum(0))
        return grad_child


class ChildSumTreeLSTMCell(nn.Module):
    """Child-sum Tree-LSTM (Tai et al. 2015) for any number of children, e.g. dependency trees."""

    arity = 0  # any

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size, self.state_size = hidden_size, 2 * hidden_size
        self.from_word = nn.Linear(input_size, 4 * hidden_size)  # i, o, u, f
        self.from_children = nn.Linear(hidden_size, 3 * hidden_size, bias=False)  # i, o, u from sum of h
        self.forget_from_child = nn.Linear(hidden_size, hidden_size, bias=False)

    def leaf(self, x: Tensor) -> Tensor:
        i, o, u, _ = self.from_word(x).chunk(4, dim=-1)
        c = torch.sigmoid(i) * torch.tanh(u)
        return torch.cat([torch.sigmoid(o) * torch.tanh(c), c], dim=-1)

    def compose(self, x: Tensor | None, child: Tensor, child_mask: Tensor | None) -> Tensor:
        h, c = child.split(self.hidden_size, dim=-1)  # (n, K, H) each
        if child_mask is not None:
            keep = child_mask.unsqueeze(-1).to(h.dtype)  # (n, K, 1)
            h, c = h * keep, c * keep
        if x is None:
            xi, xo, xu, xf = self.from_word.bias.chunk(4)
        else:
            xi, xo, xu, xf = self.from_word(x).chunk(4, dim=-1)
        hi, ho, hu = self.from_children(h.sum(1)).chunk(3, dim=-1)
        forget = torch.sigmoid(xf.unsqueeze(-2) + self.forget_from_child(h))  # (n, K, H)
        if child_mask is not None:
            forget = forget * keep
        c_new = torch.sigmoid(xi + hi) * torch.tanh(xu + hu) + (forget * c).sum(1)
        return torch.cat([torch.sigmoid(xo + ho) * torch.tanh(c_new), c_new], dim=-1)
