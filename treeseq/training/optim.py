"""Optimizers and learning-rate schedules for the engine.

Sparse embedding gradients (cheap updates of large vocabularies) need optimizers that accept them, so
parameters are split into a sparse and a dense group and `Optimizers` steps both as one.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from treeseq.config import OPTIMIZERS, SCHEDULES
from treeseq.errors import ConfigError


class Optimizers:
    """One or two torch optimizers (dense parameters, sparse-gradient embeddings) stepped together."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers
        self.base_lrs = [[g["lr"] for g in opt.param_groups] for opt in optimizers]

    def zero_grad(self) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=True)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def set_lr_factor(self, factor: float) -> None:
        for opt, bases in zip(self.optimizers, self.base_lrs):
            for group, base in zip(opt.param_groups, bases):
                group["lr"] = base * factor

    @property
    def lr(self) -> float:
        return float(self.optimizers[0].param_groups[0]["lr"])

    def state_dict(self) -> list[dict]:
        return [opt.state_dict() for opt in self.optimizers]

    def load_state_dict(self, states: list[dict]) -> None:
        if len(states) != len(self.optimizers):
            raise ConfigError("the checkpoint's optimizer does not match this configuration")
        for opt, state in zip(self.optimizers, states):
            opt.load_state_dict(state)


def build_optimizers(model: nn.Module, name: str, lr: float, weight_decay: float, fused: bool = False) -> Optimizers:
    """Weight decay applies to dense weights only, never to embeddings or biases. `fused` steps the dense
    parameters with torch's fused kernel (one pass over all of them; the same update up to rounding)."""
    sparse, decay, no_decay = [], [], []
    for param_name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        module = model.get_submodule(param_name.rsplit(".", 1)[0]) if "." in param_name else model
        if isinstance(module, nn.Embedding) and module.sparse:
            sparse.append(param)
        elif isinstance(module, nn.Embedding) or param.ndim < 2:
            no_decay.append(param)
        else:
            decay.append(param)
    if sparse:
        # Sparse gradients from nn.Embedding are well-formed; skip torch's per-step invariant checks.
        torch.sparse.check_sparse_tensor_invariants.disable()
    groups = [g for g in ({"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
    match name:
        case "adagrad":
            dense = torch.optim.Adagrad(groups, lr=lr, fused=fused or None)
            sparse_opt = torch.optim.Adagrad(sparse, lr=lr) if sparse else None
        case "adam" | "adamw":
            cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
            dense = cls(groups, lr=lr, fused=fused or None)
            sparse_opt = torch.optim.SparseAdam(sparse, lr=lr) if sparse else None
        case "sgd":
            dense = torch.optim.SGD(groups, lr=lr, momentum=0.9, fused=fused or None)
            sparse_opt = torch.optim.SGD(sparse, lr=lr) if sparse else None
        case _:
            raise ConfigError(f"optimizer {name!r}: expected one of {', '.join(OPTIMIZERS)}")
    return Optimizers([dense] + ([sparse_opt] if sparse_opt is not None else []))


def lr_factor(schedule: str, step: int, total_steps: int, warmup_steps: int, plateau_factor: float) -> float:
    """The multiplier of the base learning rate after `step` optimizer steps."""
    if warmup_steps and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    match schedule:
        case "constant":
            return 1.0
        case "linear":
            return max(0.0, 1.0 - progress)
        case "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        case "plateau":
            return plateau_factor
    raise ConfigError(f"schedule {schedule!r}: expected one of {', '.join(SCHEDULES)}")


def grad_norm_clip(params: Iterable[torch.nn.Parameter], max_norm: float) -> float:
    """Clip dense gradients by their global norm (sparse embedding gradients are left alone)."""
    dense = [p for p in params if p.grad is not None and not p.grad.is_sparse]
    if max_norm <= 0 or not dense:
        return 0.0
    return float(torch.nn.utils.clip_grad_norm_(dense, max_norm))
