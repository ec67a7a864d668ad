"""bf16 prediction: what runs, and how far it may stray from fp32.

A CPU without bf16 units (this project's machines among them) has no reduced-precision RNN kernels in
oneDNN (nn.LSTM under bf16 autocast fails there: "could not create a primitive descriptor"), so
`treeseq.device.autocast` runs fp32 instead, with a warning. The tree models have no RNN kernel: with
the fallback bypassed they run real bf16 autocast (slowly on such a CPU), which is how their agreement
with fp32 is measured here on any machine.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import treeseq
import treeseq.device
from treeseq.trees import Tree

SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
PROB_TOLERANCE = 0.01  # bf16 keeps 8 significant bits (relative error about 0.4%) in each product


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs, quiet = tmp_path_factory.mktemp("precision"), {"progress": False, "device": "cpu"}
    treeseq.train("tree", SAMPLES / "sentiment", runs / "sst.pt", epochs=1, embed_dim=16, hidden_size=16, lowercase=True, **quiet)
    treeseq.train("tagger", SAMPLES / "pos", runs / "pos.pt", epochs=1, hidden_size=16, embed_dim=16, **quiet)
    return runs


def node_probs(results: list) -> torch.Tensor:
    return torch.tensor([node.probs for result in results for node in result.nodes])


def test_bf16_tree_predictions_agree_with_fp32_within_the_stated_tolerance(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(treeseq.device, "cpu_supports", lambda dtype: True)  # real bf16 autocast on any CPU
    trees = [Tree.from_brackets(line) for line in (SAMPLES / "sentiment" / "dev.txt").read_text(encoding="utf-8").splitlines()[:40]]
    full = treeseq.load(runs / "sst.pt", "cpu").predict(trees)
    half = treeseq.load(runs / "sst.pt", "cpu", precision="bf16").predict(trees)
    p32, p16 = node_probs(full), node_probs(half)
    assert not torch.equal(p32, p16)  # bf16 did run: the figures moved
    assert float((p32 - p16).abs().max()) <= PROB_TOLERANCE
    top2 = p32.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) >= PROB_TOLERANCE  # labels must agree wherever fp32 is not a near-tie
    labels32 = [n.label for r in full for n in r.nodes]
    labels16 = [n.label for r in half for n in r.nodes]
    assert clear.sum() > 0.8 * len(labels32)
    assert all(a == b for a, b, ok in zip(labels32, labels16, clear.tolist()) if ok)


def test_bf16_on_a_cpu_without_bf16_units_runs_fp32_and_says_so(runs: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    monkeypatch.setattr(treeseq.device, "cpu_supports", lambda dtype: False)
    monkeypatch.setattr(treeseq.device, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="treeseq.device"):
        assert treeseq.device.autocast_dtype("cpu", "bf16") is None
        assert not treeseq.device.autocast("cpu", "bf16")._enabled  # type: ignore[attr-defined]
        texts = ["The old dog saw Anna .", "A cat sat on the mat ."]
        fp32 = treeseq.load(runs / "pos.pt", "cpu").predict(texts)
        bf16 = treeseq.load(runs / "pos.pt", "cpu", precision="bf16").predict(texts)
    assert [r.to_dict() for r in bf16] == [r.to_dict() for r in fp32] and [r.tag_probs for r in bf16] == [r.tag_probs for r in fp32]
    assert "no bf16 units: running in fp32 instead" in caplog.text
