"""Several seeds, one command: a member per seed on the same data, their ensemble, and their spread.

`train_seeds` trains one model per seed (each exactly the run `train(..., seed=S)` makes), in parallel
processes where `jobs` > 1, writes each as `<stem>.seedS.pt` beside OUTPUT (with its own last checkpoint
and metrics log), then OUTPUT as the ensemble archive of the members' best archives, and
`<stem>.seeds.json`: every member's dev figures (the family's `evaluate` on the dev split), their mean
and sample standard deviation, and the ensemble's figures measured the same way. With `resume`, the
members that had finished are kept as they are and the others continue from their last checkpoints
(or start, when they have none).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import queue
import signal
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from treeseq.errors import ConfigError, TreeseqError

logger = logging.getLogger(__name__)

# The keyword options of `train` that belong to the driver, not to each member.
_DRIVER_ONLY = ("epoch_hook", "announce", "progress")


@dataclass
class MemberRun:
    """How one seed's member ended: its archive, its run's status and best epoch."""

    seed: int
    path: Path
    status: str  # finished, early-stopped, interrupted, or kept (finished before a --resume)
    best_epoch: int = 0


@dataclass
class SeedsResult:
    """What `train_seeds` did: every member's run, the ensemble archive and the summary written."""

    status: str  # finished, or interrupted (some member did not finish: resume with resume=True)
    output: Path
    members: list[MemberRun]
    summary: dict[str, Any] = field(default_factory=dict)  # the content of <stem>.seeds.json
    summary_path: Path | None = None


def member_path(output: Path, seed: int) -> Path:
    """Where seed `seed`'s member goes: `<stem>.seedS<suffix>` beside OUTPUT."""
    return output.with_name(f"{output.stem}.seed{seed}{output.suffix or '.pt'}")


def summary_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.seeds.json")


def parse_seeds(text: str | Sequence[int]) -> list[int]:
    """`1,2,3` or `1-5` (or a list of ints) -> the seeds, each once, in order.

    Raises:
        ConfigError: not integers, a seed given twice, or none.
    """
    if not isinstance(text, str):
        seeds = [int(s) for s in text]
    else:
        seeds = []
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            try:
                seeds.extend(range(int(low), int(high) + 1) if dash and low else [int(part)])
            except ValueError:
                raise ConfigError(f"--seeds {text!r}: expected seeds such as 1,2,3 or 1-5") from None
    if not seeds:
        raise ConfigError("--seeds: give at least one seed, e.g. 1,2,3")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: a seed is given twice")
    if any(s < 0 or s >= 2**63 for s in seeds):
        raise ConfigError(f"--seeds {text!r}: seeds are integers from 0 to 2**63 - 1")
    return seeds


def train_seeds(family: str, data_dir: str | Path, output: str | Path, seeds: Sequence[int], *, jobs: int = 1,
                resume: bool = False, overwrite: bool = False, split: str | None = None,
                epoch_hook: Callable[[int, Any, dict], None] | None = None, announce: Callable[[str], None] | None = None,
                progress: Any = False, **options: Any) -> SeedsResult:  # fmt: skip
    """Train one member per seed, then write their ensemble and their figures (see the module docstring).

    Args:
        seeds: the members' seeds (each overrides any `seed` in the options or config).
        jobs: members trained at once, each in its own process (1: one after the other, in this process).
        resume: continue the unfinished members; finished ones are kept.
        overwrite: replace finished runs at OUTPUT and at the members' paths.
        split: the split the figures are measured on (default: the family's dev split).
        epoch_hook: called as hook(seed, state, record) after each member's epoch.
        progress: a progress bar (one process only, jobs=1).
        options: the family's training options, as for `treeseq.train`.

    Returns:
        A SeedsResult; its summary is what `<stem>.seeds.json` holds.
    """
    from treeseq.training.outputs import claim_output  # noqa: PLC0415

    seeds = parse_seeds(seeds)
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    output = Path(output)
    options = {k: v for k, v in options.items() if k != "seed"}
    with claim_output(output, resume=resume, overwrite=overwrite):
        runs, todo = _plan(output, seeds, resume)
        if announce is not None:
            kept = [r.seed for r in runs.values()]
            announce(f"{len(seeds)} seeds ({', '.join(map(str, seeds))}): {len(todo)} to train"
                     + (f", {len(kept)} finished before (seeds {', '.join(map(str, kept))})" if kept else "")
                     + (f", {min(jobs, len(todo))} at a time" if todo else ""))  # fmt: skip
        base = {"family": family, "data_dir": str(data_dir), "overwrite": overwrite, **options}
        if jobs == 1 or len(todo) <= 1:
            for seed, again in todo:
                if any(r.status == "interrupted" for r in runs.values()):  # Ctrl-C stops the members still to come too
                    runs[seed] = MemberRun(seed, member_path(output, seed), "interrupted")
                    continue
                runs[seed] = _train_member(base, seed, member_path(output, seed), again, epoch_hook, announce, progress)
        else:
            runs.update(_train_parallel(base, output, todo, jobs, epoch_hook))
        members = [runs[s] for s in seeds]
        if any(m.status == "interrupted" for m in members):
            return SeedsResult("interrupted", output, members)
        return _write_ensemble(family, data_dir, output, members, split, options)


def _plan(output: Path, seeds: list[int], resume: bool) -> tuple[dict[int, MemberRun], list[tuple[int, bool]]]:
    """The members kept as they are (finished before, on resume) and those to train, each with whether
    it continues from its checkpoint."""
    runs: dict[int, MemberRun] = {}
    todo: list[tuple[int, bool]] = []
    for seed in seeds:
        path = member_path(output, seed)
        best_epoch = _finished(path) if resume else None
        if best_epoch is not None:
            runs[seed] = MemberRun(seed, path, "kept", best_epoch)
        else:
            todo.append((seed, resume and _has_checkpoint(path)))
    return runs, todo


def _write_ensemble(family: str, data_dir: str | Path, output: Path, members: list[MemberRun], split: str | None,
                    options: dict[str, Any]) -> SeedsResult:  # fmt: skip
    """The ensemble archive of the members' best archives, then their figures in <stem>.seeds.json."""
    from treeseq.checkpoint import load_archive, make_ensemble_archive, save_atomic  # noqa: PLC0415
    from treeseq.files import write_text_atomic  # noqa: PLC0415

    archives = [load_archive(m.path, task=family) for m in members]
    save_atomic(make_ensemble_archive(archives, ensemble={"seeds": [m.seed for m in members]}), output)
    summary = _summary(family, data_dir, output, members, split, options)
    path = summary_path(output)
    write_text_atomic(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", path)
    return SeedsResult("finished", output, members, summary, path)


def _train_member(base: dict[str, Any], seed: int, path: Path, resume: bool, epoch_hook: Callable | None,
                  announce: Callable[[str], None] | None, progress: Any) -> MemberRun:  # fmt: skip
    """One member's run in this process, exactly `treeseq.train(..., seed=seed)`."""
    from treeseq.api.core import train_one  # noqa: PLC0415

    options = dict(base)
    family, data_dir, overwrite = options.pop("family"), options.pop("data_dir"), options.pop("overwrite")
    hook = None if epoch_hook is None else (lambda state, record: epoch_hook(seed, state, record))
    result = train_one(family, data_dir, path, overwrite=overwrite and not resume, resume=resume, seed=seed,
                   epoch_hook=hook, announce=announce, progress=progress, **options)  # fmt: skip
    return MemberRun(seed, path, result.status, result.state.best_epoch)


def _child(base: dict[str, Any], seed: int, path: str, resume: bool, threads: int, messages: Any) -> None:
    """A worker process: one member, its epoch records and its end sent to the parent."""
    import torch  # noqa: PLC0415

    os.setpgrp()  # the parent passes a terminal's Ctrl-C on once; the terminal must not send it here too
    torch.set_num_threads(threads)
    try:
        def hook(member: int, state: Any, record: dict) -> None:
            messages.put(("epoch", member, record))

        run = _train_member(base, seed, Path(path), resume, hook, None, False)
        messages.put(("done", seed, (run.status, run.best_epoch)))
    except TreeseqError as err:
        messages.put(("error", seed, (type(err).__name__, str(err))))
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which re-raises it as one error
        messages.put(("error", seed, (type(err).__name__, f"{type(err).__name__}: {err}")))


def _train_parallel(base: dict[str, Any], output: Path, todo: list[tuple[int, bool]], jobs: int,
                    epoch_hook: Callable | None) -> dict[int, MemberRun]:  # fmt: skip
    """Members in up to `jobs` processes at once; SIGINT and SIGTERM are passed on to them, so each
    stops after its step with a checkpoint, as a single run does."""
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    threads = _threads_per_job(jobs)
    waiting, running, runs = list(todo), {}, {}
    failure: tuple[str, str] | None = None
    stopping = False

    def forward(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in running.values():
            if process.pid is not None:
                os.kill(process.pid, signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while waiting or running:
            while waiting and len(running) < jobs and not stopping and failure is None:
                seed, again = waiting.pop(0)
                process = context.Process(target=_child, args=(base, seed, str(member_path(output, seed)), again, threads, messages))
                process.start()
                running[seed] = process
            try:
                kind, seed, payload = messages.get(timeout=1.0)
            except queue.Empty:
                for seed, process in list(running.items()):
                    if not process.is_alive() and process.exitcode not in (0, None):
                        running.pop(seed)
                        failure = failure or ("RuntimeError", f"the member with seed {seed} died (exit code {process.exitcode})")
                if not running and (stopping or failure is not None):
                    break
                continue
            if kind == "epoch" and epoch_hook is not None:
                epoch_hook(seed, None, payload)
            elif kind in ("done", "error"):
                running.pop(seed).join()
                if kind == "done":
                    runs[seed] = MemberRun(seed, member_path(output, seed), payload[0], payload[1])
                else:
                    failure = failure or payload
            if stopping or failure is not None:
                waiting.clear()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failure is not None:
        raise _as_error(*failure)
    for seed, _ in todo:
        runs.setdefault(seed, MemberRun(seed, member_path(output, seed), "interrupted"))
    return runs


def _as_error(name: str, message: str) -> Exception:
    import treeseq.errors as errors  # noqa: PLC0415

    kind = getattr(errors, name, None)
    if isinstance(kind, type) and issubclass(kind, TreeseqError):
        return kind(message)
    return RuntimeError(message)


def _threads_per_job(jobs: int) -> int:
    """Torch threads of each worker: OMP_NUM_THREADS where set, else the cores shared out."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, (os.cpu_count() or 1) // jobs)


def _has_checkpoint(path: Path) -> bool:
    from treeseq.training.engine import paths_for  # noqa: PLC0415

    return paths_for(path)[0].is_file()


def _finished(path: Path) -> int | None:
    """The best epoch of a member whose run has ended (all its epochs, or stopped early), else None."""
    from treeseq.checkpoint import load_archive  # noqa: PLC0415
    from treeseq.training.engine import paths_for  # noqa: PLC0415

    last = paths_for(path)[0]
    if not (path.is_file() and last.is_file()):
        return None
    training = load_archive(last).get("training") or {}
    state, cfg = training.get("state", {}), training.get("train_config", {})
    done = state.get("epoch", 0) >= cfg.get("epochs", math.inf) or (
        cfg.get("patience", 0) and state.get("bad_epochs", 0) >= cfg["patience"])  # fmt: skip
    return int(state.get("best_epoch", 0)) if done else None


def _summary(family: str, data_dir: str | Path, output: Path, members: list[MemberRun], split: str | None,
             options: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Every member's and the ensemble's figures on the dev split, the members' mean and sample sd."""
    from treeseq.api.core import evaluate, load  # noqa: PLC0415

    split = split or _dev_split(family, options)
    device = options.get("device", "auto")
    figures = []
    for member in members:
        report = evaluate(load(member.path, device), data_dir, split)
        figures.append(report.metrics)
    ensemble = evaluate(load(output, device), data_dir, split)
    names = [k for k in figures[0] if all(isinstance(f.get(k), (int, float)) for f in figures)]
    mean = {k: statistics.fmean(f[k] for f in figures) for k in names}
    sd = {k: (statistics.stdev(f[k] for f in figures) if len(figures) > 1 else None) for k in names}
    return {
        "family": family,
        "data": ensemble.data,
        "split": split,
        "seeds": [m.seed for m in members],
        "members": [{"seed": m.seed, "path": str(m.path), "best_epoch": m.best_epoch, "metrics": _rounded(f)}
                    for m, f in zip(members, figures)],  # fmt: skip
        "mean": _rounded(mean),
        "sd": _rounded(sd),
        "sd_kind": "sample standard deviation (n - 1) over the members",
        "ensemble": {"path": str(output), "size": len(members), "metrics": _rounded(ensemble.metrics)},
        "scale": "perplexity and bits per character as they are" if family == "lm" else "percent",
    }


def _dev_split(family: str, options: dict[str, Any]) -> str:
    """The split the members were selected on: the dev file named in the options, else the family's dev."""
    dev_file = options.get("dev_file")
    if dev_file and family in ("tree", "parser"):
        return str(dev_file).removesuffix(".txt")
    if dev_file and family == "lm":
        return str(dev_file)
    return "val" if family == "translator" else "dev"


def _rounded(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in metrics.items()}
