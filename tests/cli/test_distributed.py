"""Data parallelism: two gloo processes under torchrun train exactly like one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from treeseq.checkpoint import load_archive
from treeseq.training.distributed import DistInfo, shard

pytestmark = pytest.mark.slow

ARGS = ["train", "tree", "--epochs", "2", "--batch-size", "10", "--dropout", "0", "--embed-dim", "8",
        "--hidden-size", "8", "--optimizer", "adam", "--lr", "0.01", "--quiet", "--device", "cpu",
        "--set", "model.sparse_embeddings=false", "--set", "train.log_every=1"]  # DDP runs dense embedding gradients: compare like with like  # fmt: skip


def run(cmd: list[str], cwd: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_gloo_processes_match_one_process(small_treebank: Path, tmp_path: Path) -> None:
    common = [*ARGS, "--data-dir", str(small_treebank)]
    run([sys.executable, "-m", "treeseq.cli.main", *common, "--output", str(tmp_path / "one.pt")], tmp_path)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    run([*torchrun, "-m", "treeseq.cli.main", *common, "--output", str(tmp_path / "two.pt")], tmp_path)
    one = load_archive(tmp_path / "one.last.pt")["state_dict"]
    two = load_archive(tmp_path / "two.last.pt")["state_dict"]
    for name in one:
        torch.testing.assert_close(one[name], two[name], atol=2e-5, rtol=1e-4, msg=name)
    # Rank 0 alone writes: one metrics log, with one line per epoch.
    log = (tmp_path / "two.metrics.jsonl").read_text().splitlines()
    assert sum('"dev_root_acc"' in line for line in log) == 2
    # Equal weights would follow from both ranks training on the whole batch too (the loss is normalised
    # over the global batch). Rank 0 logs the loss of what it trained on: its first step, from the same
    # initial weights, is the mean over its half of the first batch, not the whole batch's mean.
    one_steps = [json.loads(line) for line in (tmp_path / "one.metrics.jsonl").read_text().splitlines()]
    two_steps = [json.loads(line) for line in log]
    assert one_steps[0]["step"] == two_steps[0]["step"] == 1
    assert abs(one_steps[0]["loss"] - two_steps[0]["loss"]) > 1e-4


def test_each_rank_gets_its_own_contiguous_share_of_a_batch() -> None:
    batch = list(range(11))
    shares = [list(shard(batch, DistInfo(rank, 3))) for rank in range(3)]
    assert shares == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]  # sizes differ by at most one, larger first
    assert list(shard(batch, DistInfo())) == batch
