"""treeseq: recursive (tree) and sequence-to-sequence NLP on PyTorch.

    import treeseq
    model = treeseq.load("runs/sst.pt")            # any archive: tree classifier, parser, tagger, translator
    results = model.predict(["The film is not bad at all."])

`import treeseq` is cheap: torch, spaCy and matplotlib load only when a model is loaded, trained or
drawn. See docs/api.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from treeseq.errors import CheckpointError, ConfigError, CorpusFormatError, ShapeError, TreeseqError
from treeseq.version import __version__

# Public names that live in modules loaded on first use.
_LAZY = {
    "load": "treeseq.api",
    "train": "treeseq.api",
    "evaluate": "treeseq.api",
    "average": "treeseq.api",
    "Tree": "treeseq.trees",
    "Report": "treeseq.results",
    "TreeResult": "treeseq.results",
    "TreeNode": "treeseq.results",
    "ParseResult": "treeseq.results",
    "TagResult": "treeseq.results",
    "ClassResult": "treeseq.results",
    "ScoreResult": "treeseq.results",
    "Generation": "treeseq.results",
    "Slot": "treeseq.results",
    "TranslationResult": "treeseq.results",
    "TranslationHypothesis": "treeseq.results",
}

if TYPE_CHECKING:
    from treeseq.api import average, evaluate, load, train
    from treeseq.results import (
        ClassResult,
        Generation,
        ParseResult,
        Report,
        ScoreResult,
        Slot,
        TagResult,
        TranslationHypothesis,
        TranslationResult,
        TreeNode,
        TreeResult,
    )  # fmt: skip
    from treeseq.trees import Tree


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'treeseq' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "ConfigError",
    "CorpusFormatError",
    "ShapeError",
    "TreeseqError",
    "__version__",
    *_LAZY,
]
