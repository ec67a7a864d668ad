"""treeseq: recursive (tree) and sequence-to-sequence NLP on PyTorch."""

from treeseq.errors import (
    CheckpointError,
    ConfigError,
    CorpusFormatError,
    ShapeError,
    TreeseqError,
)
from treeseq.trees import Tree

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "CorpusFormatError",
    "ShapeError",
    "Tree",
    "TreeseqError",
    "__version__",
]
