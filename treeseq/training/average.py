"""An exponential moving average of a model's weights, evaluated and archived in their place.

Polyak averaging (Polyak & Juditsky 1992; Merity et al. 2018 average an SGD run's iterates), in the
exponential form many training toolkits use: after every optimizer step the shadow weights move a
fraction 1 - d_t toward the trained ones, with d_t = min(decay, (1 + t) / (10 + t)) at step t, so that
a short run's average is not held back by the initial weights. Training continues on the trained
weights; dev is measured, and the best archive written, with the average swapped in.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import Tensor, nn


class WeightAverage:
    """The shadow copy of `model`'s floating-point parameters.

    Args:
        model: the model whose parameters are averaged (in `model.parameters()` order).
        decay: the average's decay per step, in (0, 1); 0.999 averages over roughly the last 1,000 steps.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the average's decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.params = [p for p in model.parameters() if p.is_floating_point()]
        self.shadow = [p.detach().clone() for p in self.params]

    def rate(self, step: int) -> float:
        """The weight the trained parameters get after optimizer step number `step` (1, 2, ...)."""
        return 1.0 - min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Move the average toward the parameters after optimizer step `step`."""
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], self.rate(step))

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the averaged weights inside the block and its trained ones again after it."""
        trained = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            torch._foreach_copy_([p.detach() for p in self.params], self.shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_([p.detach() for p in self.params], trained)

    def state_dict(self) -> list[Tensor]:
        return [t.detach().clone() for t in self.shadow]

    def load_state_dict(self, saved: list[Tensor]) -> None:
        if len(saved) != len(self.shadow) or any(a.shape != b.shape for a, b in zip(saved, self.shadow)):
            raise ValueError("the saved weight average does not match this model's parameters")
        with torch.no_grad():
            for average, value in zip(self.shadow, saved):
                average.copy_(value)


def average_archives(archives: Sequence[dict], names: Sequence[str] | None = None) -> dict:
    """The element-wise mean of the weights of model archives of one family, architecture and vocabulary,
    as an archive of that family (the first one's configs, vocabularies and labels; no training state).

    Floating-point weights are averaged in float64 and stored in their own type, so the average of one
    archive is that archive's weights exactly; other tensors (masks, counts) must be equal.

    Raises:
        ConfigError: no archive, or archives whose family, architecture, vocabularies, label sets or
            weight names and shapes differ (the first difference is named).
    """
    from treeseq.checkpoint import archive_value, describe_difference  # noqa: PLC0415
    from treeseq.errors import ConfigError  # noqa: PLC0415

    if not archives:
        raise ConfigError("nothing to average: give one or more model archives")
    names = list(names) if names is not None else [f"archive {i + 1}" for i in range(len(archives))]
    first = archives[0]
    for name, archive in zip(names[1:], archives[1:]):
        for what in ("task", "vocabs", "config.model", "classes", "tags", "intents", "kind", "subwords"):
            mine, theirs = archive_value(first, what), archive_value(archive, what)
            difference = describe_difference(mine, theirs)
            if difference:
                raise ConfigError(f"{name} cannot be averaged with {names[0]}: different {what} ({difference})")
        shapes = {k: tuple(v.shape) for k, v in first["state_dict"].items()}
        difference = describe_difference(shapes, {k: tuple(v.shape) for k, v in archive["state_dict"].items()})
        if difference:
            raise ConfigError(f"{name} cannot be averaged with {names[0]}: different weights ({difference})")
    averaged = {}
    for key, value in first["state_dict"].items():
        values = [a["state_dict"][key] for a in archives]
        if value.is_floating_point():
            total = torch.stack([v.double() for v in values]).sum(0) / len(values)
            averaged[key] = total.to(value.dtype)
        elif all(torch.equal(v, value) for v in values):
            averaged[key] = value.clone()
        else:
            raise ConfigError(f"{names[values.index(next(v for v in values if not torch.equal(v, value)))]}: "
                              f"its {key} ({value.dtype}) differs from {names[0]}'s and cannot be averaged")  # fmt: skip
    out = {k: v for k, v in first.items() if k not in ("training", "state_dict")}
    out["state_dict"] = averaged
    out["averaged"] = {"archives": len(archives)}
    return out
