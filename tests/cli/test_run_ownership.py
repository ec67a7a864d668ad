"""A training run owns its output: locked, never replaced silently, stopped cleanly by SIGTERM, resumed
without repeated log records."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from treeseq.cli.main import app

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "samples" / "sentiment"
TRAIN = ["train", "tree", "--data-dir", str(SAMPLE), "--embed-dim", "8", "--hidden-size", "8", "--quiet", "--device", "cpu"]


def test_a_second_run_on_the_same_output_is_refused_and_a_dead_runs_lock_taken_over(tmp_path: Path) -> None:
    import fcntl

    out = tmp_path / "m.pt"
    lock = tmp_path / "m.lock"
    with lock.open("w") as held:  # a live run (this process) holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write(f"{os.getpid()} {socket.gethostname()}\n")
        held.flush()
        refused = runner.invoke(app, [*TRAIN, "--output", str(out), "--epochs", "1"])
        assert refused.exit_code == 2 and f"another training run (pid {os.getpid()}" in refused.output and not out.exists()
        sibling = runner.invoke(app, [*TRAIN, "--output", str(tmp_path / "m"), "--epochs", "1"])
        assert sibling.exit_code == 2 and "another training run" in sibling.output  # runs/m and runs/m.pt: one stem, one lock
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock.write_text(f"{dead.pid} {socket.gethostname()}\n")  # a file its dead run left: nobody holds it
    taken = runner.invoke(app, [*TRAIN, "--output", str(out), "--epochs", "1"])
    assert taken.exit_code == 0, taken.output
    assert out.is_file() and not lock.exists()  # released on exit


def _claim_at_once(output: str, barrier: Any, owners: Any, peak: Any) -> None:
    from treeseq.errors import CheckpointError
    from treeseq.training.outputs import claim_output

    barrier.wait()
    try:
        with claim_output(Path(output)):
            with owners.get_lock():
                owners.value += 1
                peak.value = max(peak.value, owners.value)
            time.sleep(0.3)
            with owners.get_lock():
                owners.value -= 1
    except CheckpointError:
        pass


def test_runs_starting_at_once_on_a_dead_runs_lock_have_one_owner(tmp_path: Path) -> None:
    """Four runs start together on an output whose lock a dead run left: never two owners at a time."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    for trial in range(20):
        output = tmp_path / f"m{trial}.pt"
        (tmp_path / f"m{trial}.lock").write_text("999999 elsewhere\n")
        barrier, owners, peak = context.Barrier(4), context.Value("i", 0), context.Value("i", 0)
        processes = [context.Process(target=_claim_at_once, args=(str(output), barrier, owners, peak)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(30)
        assert peak.value == 1, f"trial {trial}: {peak.value} runs owned the output at once"


def test_a_finished_run_or_another_file_is_never_replaced_silently(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    assert runner.invoke(app, [*TRAIN, "--output", str(out), "--epochs", "1"]).exit_code == 0
    before = out.read_bytes()
    again = runner.invoke(app, [*TRAIN, "--output", str(out), "--epochs", "1"])
    assert again.exit_code == 2 and "--resume to continue that run, --overwrite to replace it" in again.output
    assert out.read_bytes() == before
    assert runner.invoke(app, [*TRAIN, "--output", str(out), "--epochs", "1", "--overwrite"]).exit_code == 0
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    refused = runner.invoke(app, [*TRAIN, "--output", str(notes), "--epochs", "1", "--overwrite"])
    assert refused.exit_code == 2 and "is not a treeseq model archive; refusing to replace it" in refused.output
    assert notes.read_text() == "my notes\n"


def test_stray_temporary_files_of_a_killed_run_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "m.pt"
    stray = tmp_path / ".m.last.pt.abc123.tmp.pt"
    stray.write_bytes(b"half a checkpoint")
    assert runner.invoke(app, [*TRAIN, "--output", str(out), "--epochs", "1"]).exit_code == 0
    assert not stray.exists()


def test_sigterm_mid_epoch_saves_a_checkpoint_and_resume_repeats_no_log_record(tmp_path: Path) -> None:
    """SIGTERM inside the first epoch (125 steps of 4 sentences, no periodic checkpoints): the only way a
    last checkpoint can exist is the one written on the signal, and it holds the position in the epoch."""
    import torch

    out = tmp_path / "m.pt"
    log = tmp_path / "m.metrics.jsonl"
    command = [sys.executable, "-m", "treeseq.cli.main", *TRAIN, "--output", str(out), "--epochs", "400",
               "--batch-size", "4", "--set", "train.log_every=1"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.read_text().count("\n") >= 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    last = tmp_path / "m.last.pt"
    assert not last.exists()  # nothing saved before the signal
    signalled = time.time()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert last.is_file() and not (tmp_path / "m.lock").exists()
    assert last.stat().st_mtime >= signalled - 0.01
    state = torch.load(last, weights_only=True)["training"]["state"]
    assert state["epoch"] == 0 and 3 <= state["step_in_epoch"] < 125  # mid-epoch: no epoch had ended
    assert not any('"dev_' in line for line in log.read_text().splitlines())
    with log.open("a") as handle:  # what a crash after the checkpoint would have logged
        handle.write(json.dumps({"epoch": 999, "step": 10**9, "loss": 1.0}) + "\n")
    resumed = runner.invoke(app, [*TRAIN, "--output", str(out), "--epochs", "1", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    records = [json.loads(line) for line in log.read_text().splitlines()]
    keys = [(r["step"], any(k.startswith("dev_") for k in r)) for r in records]  # a step's record, an epoch's record
    assert 10**9 not in [step for step, _ in keys] and len(keys) == len(set(keys))
    assert [step for step, epoch_record in keys if not epoch_record] == list(range(1, 126))  # on from where it stopped


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_python_api_claims_the_output_too(tmp_path: Path, overwrite: bool) -> None:
    import treeseq
    from treeseq.errors import ConfigError

    out = tmp_path / "m.pt"
    treeseq.train("tree", SAMPLE, out, epochs=1, embed_dim=8, hidden_size=8, progress=False)
    if overwrite:
        treeseq.train("tree", SAMPLE, out, epochs=1, embed_dim=8, hidden_size=8, progress=False, overwrite=True)
    else:
        with pytest.raises(ConfigError, match="a trained model is already there"):
            treeseq.train("tree", SAMPLE, out, epochs=1, embed_dim=8, hidden_size=8, progress=False)


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    """A crash (SIGKILL: no handler runs) mid-epoch; --resume from the last checkpoint finishes with every
    tensor equal to a run that was never interrupted; the dead run's lock is taken over."""
    import torch

    base = [sys.executable, "-m", "treeseq.cli.main", *TRAIN, "--epochs", "2", "--dropout", "0.3", "--checkpoint-every", "4",
            "--set", "train.log_every=2"]  # fmt: skip
    whole = tmp_path / "whole.pt"
    subprocess.run([*base, "--output", str(whole)], check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    crashed = tmp_path / "crashed.pt"
    log = tmp_path / "crashed.metrics.jsonl"
    process = subprocess.Popen([*base, "--output", str(crashed)], env={**os.environ, "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # into the second epoch, past a mid-epoch checkpoint
        steps = [json.loads(line).get("step", 0) for line in log.read_text().splitlines()] if log.is_file() else []
        if steps and max(steps) >= 26:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    killed_at = time.time()
    assert (tmp_path / "crashed.lock").exists()  # a crash leaves its lock behind
    checkpoint_step = torch.load(crashed.with_name("crashed.last.pt"), weights_only=True)["training"]["state"]["global_step"]
    resumed = runner.invoke(app, [*TRAIN, "--epochs", "2", "--dropout", "0.3", "--checkpoint-every", "4", "--set",
                                  "train.log_every=2", "--output", str(crashed), "--resume"])  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    clock = {"time", "seconds", "sent_per_s"}
    logs = [[{k: v for k, v in json.loads(line).items() if k not in clock} for line in (tmp_path / f"{name}.metrics.jsonl").read_text().splitlines()]
            for name in ("whole", "crashed")]  # fmt: skip
    assert logs[0] == logs[1]  # the interrupted epoch's train_loss included
    one, two = (torch.load(p, weights_only=True) for p in (whole.with_name("whole.last.pt"), crashed.with_name("crashed.last.pt")))
    assert one["state_dict"].keys() == two["state_dict"].keys()
    assert all(torch.equal(one["state_dict"][k], two["state_dict"][k]) for k in one["state_dict"])
    # Equal weights would follow from a silent restart too (training is deterministic): the log tells them
    # apart. The dead run's records up to its checkpoint stay; the resumed run writes only later steps.
    records = [json.loads(line) for line in log.read_text().splitlines()]
    kept = [r["step"] for r in records if r["time"] <= killed_at]
    written = [r["step"] for r in records if r["time"] > killed_at]
    assert kept and max(kept) <= checkpoint_step and kept == sorted(kept)
    assert written and min(written) > checkpoint_step
