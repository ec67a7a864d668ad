"""What the service says about a model (GET /v1/models), from the loaded model, in plain data: the same
whether the model runs in the server's process or in one of its own."""

from __future__ import annotations

import dataclasses
from typing import Any

from treeseq.options import FAMILIES


def model_summary(model: Any) -> dict[str, Any]:
    """The model's family, labels, max_length, the options it takes, kind/intents (taggers),
    languages (translators) and the scalar fields of its config."""
    config = getattr(model, "config", None)
    summary: dict[str, Any] = {"family": model.family, "labels": list(model.labels),
                               "max_length": getattr(model, "max_length", None) or None,
                               "options": [o.name for o in FAMILIES[model.family].of("predict", "http")]}  # fmt: skip
    for extra in ("kind", "intents", "languages"):
        value = getattr(model, extra, None)
        if value is not None and not callable(value):
            summary[extra] = list(value) if isinstance(value, tuple) else value
    if dataclasses.is_dataclass(config):
        summary["config"] = {k: v for k, v in dataclasses.asdict(config).items() if isinstance(v, (str, int, float, bool, type(None)))}
    return summary
