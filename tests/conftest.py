"""Shared fixtures: the project's sample treebank and tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import Phase, settings

# `--hypothesis-profile mutation` (tests/mutation_report.py): report a failing example without shrinking
# it, which under a mutant can take longer than the test's time limit.
settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate])

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "corpora" / "samples" / "sentiment"


@pytest.fixture(autouse=True)
def _fast_torch() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture
def sample(sample_dir: Path) -> tuple[list, object]:
    """The first 24 trees of the sample dev treebank as training examples, and their vocabulary."""
    from treeseq.corpora.readers.ptb import read_trees
    from treeseq.tasks.tree import LabelScheme, TreeModelConfig, encode
    from treeseq.vocab import Vocab

    trees = read_trees(sample_dir / "dev.txt")[:24]
    vocab = Vocab.build(w for t in trees for w in t.tokens)
    scheme = LabelScheme(TreeModelConfig())
    return [encode(t, vocab, scheme) for t in trees], vocab


@pytest.fixture
def small_treebank(tmp_path: Path) -> Path:
    """A 40/20-sentence slice of the sample treebank, for fast CLI runs."""
    folder = tmp_path / "data"
    folder.mkdir()
    train = (SAMPLE / "train.txt").read_text(encoding="utf-8").splitlines()
    dev = (SAMPLE / "dev.txt").read_text(encoding="utf-8").splitlines()
    (folder / "train.txt").write_text("\n".join(train[:40]) + "\n", encoding="utf-8")
    (folder / "dev.txt").write_text("\n".join(dev[:20]) + "\n", encoding="utf-8")
    return folder
