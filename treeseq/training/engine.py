"""One training engine for every model family: a task supplies batches, the loss and evaluation.

The engine owns the optimizer and schedule, gradient clipping, mixed precision, early stopping on the
dev metric, best and last checkpoints (atomic), exact resume, progress, the JSONL metrics log and data
parallelism. Exact resume works because a task's batch order depends only on (seed, epoch) and the
generators' states are saved with the position inside the epoch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from treeseq.checkpoint import load_archive, save_atomic
from treeseq.config import TrainConfig
from treeseq.device import autocast, rng_state, seed_everything, set_rng_state
from treeseq.errors import CheckpointError
from treeseq.files import write_text_atomic
from treeseq.training.average import WeightAverage
from treeseq.training.distributed import DistInfo, all_reduce_sum, shard
from treeseq.training.optim import Optimizers, build_optimizers, grad_norm_clip, lr_factor

logger = logging.getLogger(__name__)


class Task(Protocol):
    """What a model family gives the engine."""

    metric: str  # the dev metric to maximize (a key of evaluate()'s result)
    unit: str  # what throughput counts, e.g. "sent" or "tok"
    # (optional) scale: what the logged dev figures are in, "percent" unless the task says otherwise

    def train_batches(self, epoch: int) -> Sequence[Sequence[Any]]:
        """The epoch's global batches (lists of examples); must depend only on the seed and epoch."""

    def collate(self, examples: Sequence[Any]) -> Any:
        """Tensors for one (per-rank) batch, with a .to(device) method."""

    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, Tensor]:
        """(summed loss, number of loss terms): the engine normalizes over the global batch."""

    def items(self, batch: Any) -> int:
        """How many `unit`s a batch holds, for throughput."""

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Dev metrics of the (unwrapped) model."""

    def archive(self, model: nn.Module) -> dict:
        """The model archive (see treeseq.checkpoint.make_archive) for the current weights."""

    # Optional: a task that carries state from one batch to the next (a language model's recurrent
    # state across BPTT segments) defines training_state() -> dict of tensors and
    # restore_training_state(saved, device); mid-epoch checkpoints keep it for exact resume.


@dataclass
class TrainState:
    """Where training is; saved in every checkpoint."""

    epoch: int = 0  # completed epochs
    step_in_epoch: int = 0  # completed steps of the current epoch
    global_step: int = 0
    best_metric: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    plateau_factor: float = 1.0
    stop_requested: bool = False


@dataclass
class FitResult:
    state: TrainState
    status: str  # "finished", "early-stopped" or "interrupted"
    history: list[dict]
    metric: str = ""  # the task's selection metric (state.best_metric is its raw value)
    scale: str = "percent"  # what best_metric is in: percent, or perplexity (language models)

    @property
    def best_metric(self) -> float:
        """The best dev value of the selection metric as the log, the console and `evaluate` show it:
        a percentage in percent, a perplexity as itself."""
        return logged_metric(self.metric or "metric", self.state.best_metric)[1]

    @property
    def best_name(self) -> str:
        """The selection metric's name as shown (ppl, not neg_ppl)."""
        return logged_metric(self.metric or "metric", 0.0)[0]


Hook = Callable[[TrainState, dict], None]


def paths_for(output: Path) -> tuple[Path, Path]:
    """The last checkpoint and the metrics log that go beside a model archive."""
    return output.with_name(output.stem + ".last.pt"), output.with_name(output.stem + ".metrics.jsonl")


def epoch_path(output: Path, epoch: int) -> Path:
    """The archive of epoch `epoch` that `train.keep_last` keeps beside the model archive."""
    return output.with_name(f"{output.stem}.epoch{epoch}.pt")


def _keep_epoch(task: Task, model: nn.Module, output: Path, epoch: int, keep: int) -> None:
    """Write this epoch's archive of the trained weights (with train.ema too: checkpoint averaging
    averages what training reached, the moving average goes to the best archive) and drop the one
    `keep` epochs older."""
    save_atomic(task.archive(model), epoch_path(output, epoch))
    epoch_path(output, epoch - keep).unlink(missing_ok=True)


def fit(
    task: Task,
    model: nn.Module,
    cfg: TrainConfig,
    output: Path,
    device: torch.device,
    *,
    dist_info: DistInfo = DistInfo(),
    resume: bool = False,
    show_progress: Any = True,  # or a rich Console to draw the bar on
    step_hooks: Sequence[Hook] = (),
    epoch_hooks: Sequence[Hook] = (),
) -> FitResult:
    """Train `model` on `task` and write the best archive to `output`.

    Beside it go `<stem>.last.pt` (the last checkpoint, for --resume) and `<stem>.metrics.jsonl`.
    """
    last_path, log_path = paths_for(output)
    model.to(device)
    optim = build_optimizers(model, cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.fused)
    state = TrainState()
    average = WeightAverage(model, cfg.ema) if cfg.ema else None
    seed_everything(cfg.seed + dist_info.rank)
    window = None
    if resume:
        state, window = _restore(last_path, model, optim, task, device, average)
    wrapped: nn.Module = model
    if dist_info.enabled:
        wrapped = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    run = _Run(task, model, wrapped, optim, torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16"), cfg,
               device, dist_info, state, _MetricsLog(log_path if dist_info.is_main else None, resume, state.global_step), last_path,
               average, window)  # fmt: skip
    history: list[dict] = []
    status = "finished"
    if resume and cfg.patience and state.bad_epochs >= cfg.patience:
        status = "early-stopped"  # the run had stopped early: resuming it trains no further epoch
    with _graceful_interrupt(state), _progress(show_progress if dist_info.is_main else False, task.unit) as bar:
        while state.epoch < cfg.epochs and status == "finished":
            window = run.train_epoch(bar, step_hooks)
            if state.stop_requested:
                status = "interrupted"
                run.save_last()
                break
            state.epoch += 1
            state.step_in_epoch = 0
            bar.phase(f"epoch {state.epoch}/{cfg.epochs}: evaluating on dev")
            with average.applied() if average else contextlib.nullcontext():
                record = _end_epoch(task, model, cfg, state, output, dist_info, window)
            if average is not None:  # the trained weights' own dev figures beside the average's
                record.update(_raw_metrics(task, model))
            if cfg.keep_last and dist_info.is_main:
                _keep_epoch(task, model, output, state.epoch, cfg.keep_last)
            history.append(record)
            run.writer.write(record)
            run.save_last()
            for hook in epoch_hooks:
                hook(state, record)
            if cfg.patience and state.bad_epochs >= cfg.patience:
                status = "early-stopped"
    return FitResult(state, status, history, task.metric, getattr(task, "scale", "percent"))


@dataclass
class _Run:
    """One training run's moving parts, for the epoch loop."""

    task: Task
    model: nn.Module  # the model itself (checkpoints)
    wrapped: nn.Module  # what steps run: the model, or its DistributedDataParallel wrapper
    optim: Optimizers
    scaler: torch.amp.GradScaler
    cfg: TrainConfig
    device: torch.device
    dist_info: DistInfo
    state: TrainState
    writer: _MetricsLog
    last_path: Path
    average: WeightAverage | None = None  # train.ema: the weights dev measures and the archive holds
    window: _Window | None = None  # the epoch's running loss, kept in mid-epoch checkpoints

    def save_last(self) -> None:
        if self.dist_info.is_main:
            window = self.window if self.state.step_in_epoch else None
            save_atomic(_checkpoint(self.task, self.model, self.optim, self.state, self.cfg, self.average, window),
                        self.last_path)  # fmt: skip

    def train_epoch(self, bar: _Bar, step_hooks: Sequence[Hook]) -> _Window:
        """The current epoch's remaining steps (all of them, unless resuming mid-epoch); stops early when
        an interrupt was requested (state.stop_requested)."""
        task, cfg, state, dist_info = self.task, self.cfg, self.state, self.dist_info
        batches = task.train_batches(state.epoch)
        total_steps = cfg.epochs * len(batches)
        self.model.train()
        bar.start_epoch(state.epoch + 1, cfg.epochs, len(batches), state.step_in_epoch)
        # Resuming mid-epoch continues the epoch's running loss, so its log records equal an uninterrupted run's.
        window = self.window if self.window is not None and state.step_in_epoch else _Window()
        self.window = window
        for index in range(state.step_in_epoch, len(batches)):
            self.optim.set_lr_factor(lr_factor(cfg.schedule, state.global_step, total_steps, cfg.warmup_steps, state.plateau_factor))
            batch = task.collate(shard(batches[index], dist_info)).to(self.device)
            loss = _step(task, self.wrapped, batch, self.optim, self.scaler, cfg, self.device, dist_info)
            state.global_step += 1
            state.step_in_epoch = index + 1
            if self.average is not None:
                self.average.update(state.global_step)
            window.add(loss, task.items(batch) * dist_info.world_size)
            bar.advance(loss, window.rate())
            record = {"epoch": state.epoch + 1, "step": state.global_step, "loss": loss, "lr": self.optim.lr}
            if state.global_step % cfg.log_every == 0:
                self.writer.write({**record, **window.summary(task.unit)})
            for hook in step_hooks:
                hook(state, record)
            if cfg.checkpoint_every and state.global_step % cfg.checkpoint_every == 0:
                self.save_last()
            if state.stop_requested:
                break
        if not state.stop_requested:
            self.window = None
        return window


def _step(
    task: Task,
    model: nn.Module,
    batch: Any,
    optim: Optimizers,
    scaler: torch.amp.GradScaler,
    cfg: TrainConfig,
    device: torch.device,
    dist_info: DistInfo,
) -> float:
    with autocast(device.type, cfg.precision):
        loss_sum, count = task.loss(model, batch)
    # Normalize by the global number of loss terms; DDP averages gradients over ranks, hence * world.
    total = all_reduce_sum(count.detach().to(torch.float64), dist_info).clamp_min(1.0)
    loss = loss_sum.float() * (dist_info.world_size / total.float())
    optim.zero_grad()
    scaler.scale(loss).backward()
    for opt in optim.optimizers:
        scaler.unscale_(opt)
    grad_norm_clip(model.parameters(), cfg.clip_norm)
    for opt in optim.optimizers:
        scaler.step(opt)
    scaler.update()
    return float(loss_sum.detach()) / max(1.0, float(count))


def _end_epoch(
    task: Task, model: nn.Module, cfg: TrainConfig, state: TrainState, output: Path, dist_info: DistInfo, window: _Window
) -> dict:
    # Every rank evaluates the same weights on the same dev set, so early stopping agrees everywhere.
    model.eval()
    with torch.no_grad():
        metrics = task.evaluate(model)
    model.train()
    value = metrics[task.metric]
    improved = value > state.best_metric
    if improved:
        state.best_metric, state.best_epoch, state.bad_epochs = value, state.epoch, 0
        if dist_info.is_main:
            save_atomic(task.archive(model), output)
    else:
        state.bad_epochs += 1
        if cfg.schedule == "plateau":
            state.plateau_factor *= cfg.plateau_decay
    return {
        "epoch": state.epoch,
        "step": state.global_step,
        **{f"dev_{name}": shown for name, shown in (logged_metric(k, v) for k, v in metrics.items())},
        "metric": logged_metric(task.metric, 0.0)[0],
        "best": logged_metric(task.metric, state.best_metric)[1],
        "improved": improved,
        "scale": getattr(task, "scale", "percent"),
        **window.summary(task.unit),
    }


def _raw_metrics(task: Task, model: nn.Module) -> dict[str, float]:
    """With train.ema: dev measured with the trained weights too (`raw_dev_*`), so the log shows what the
    average gives (evaluation draws no random numbers, so training goes on exactly as without it)."""
    model.eval()
    with torch.no_grad():
        metrics = task.evaluate(model)
    model.train()
    return {f"raw_dev_{name}": shown for name, shown in (logged_metric(k, v) for k, v in metrics.items())}


def logged_metric(name: str, value: float) -> tuple[str, float]:
    """A dev metric as the log and the console show it: scores in percent; a negated loss (the
    selection metric when higher must be better) as the loss itself, not scaled."""
    if name.startswith("neg_"):
        return name[4:], -value
    return name, value * 100


def _checkpoint(task: Task, model: nn.Module, optim: Optimizers, state: TrainState, cfg: TrainConfig,
                average: WeightAverage | None = None, window: _Window | None = None) -> dict:  # fmt: skip
    archive = task.archive(model)
    saved = asdict(state)
    saved.pop("stop_requested")
    archive["training"] = {
        "optimizer": optim.state_dict(),
        "rng": rng_state(),
        "state": saved,
        "train_config": asdict(cfg),
    }
    if hasattr(task, "training_state"):
        archive["training"]["task"] = task.training_state()
    if average is not None:
        archive["training"]["average"] = average.state_dict()
    if window is not None:
        archive["training"]["window"] = window.state_dict()
    return archive


def _restore(path: Path, model: nn.Module, optim: Optimizers, task: Task, device: torch.device,
             average: WeightAverage | None = None) -> tuple[TrainState, _Window | None]:  # fmt: skip
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint to resume from (train without --resume first)")
    data = load_archive(path)
    training = data.get("training")
    if not isinstance(training, dict):
        raise CheckpointError(f"{path}: a model archive without training state; cannot resume from it")
    try:
        model.load_state_dict(data["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(f"{path}: the checkpoint's model does not match this configuration ({str(err).splitlines()[0]})") from None
    optim.load_state_dict(training["optimizer"])
    set_rng_state(training["rng"])
    if hasattr(task, "restore_training_state") and "task" in training:
        task.restore_training_state(training["task"], device)
    if average is not None:
        if "average" not in training:
            raise CheckpointError(f"{path}: trained without train.ema; resume with the settings it was trained with")
        try:
            average.load_state_dict([t.to(device) for t in training["average"]])
        except ValueError as err:
            raise CheckpointError(f"{path}: {err}") from None
    state = TrainState(**training["state"])
    logger.info("resuming %s at epoch %d, step %d of the epoch (%d steps done; best dev so far at epoch %d)", path,
                state.epoch + 1, state.step_in_epoch, state.global_step, state.best_epoch)  # fmt: skip
    window = None
    if isinstance(training.get("window"), dict) and state.step_in_epoch:
        window = _Window()
        window.load_state_dict(training["window"])
    return state, window


class _Window:
    """Loss and throughput since the start of the epoch (the sums travel in mid-epoch checkpoints; the
    clock restarts on resume, so only the rate and seconds of a resumed epoch differ)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.loss_total, self.steps, self.items = 0.0, 0, 0

    def state_dict(self) -> dict[str, float]:
        return {"loss_total": self.loss_total, "steps": self.steps, "items": self.items}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.loss_total, self.steps, self.items = float(saved["loss_total"]), int(saved["steps"]), int(saved["items"])

    def add(self, loss: float, items: int) -> None:
        self.loss_total += loss
        self.steps += 1
        self.items += items

    def rate(self) -> float:
        return self.items / max(1e-9, time.perf_counter() - self.start)

    def summary(self, unit: str) -> dict:
        return {
            "train_loss": self.loss_total / max(1, self.steps),
            f"{unit}_per_s": round(self.rate(), 1),
            "seconds": round(time.perf_counter() - self.start, 2),
        }


class _MetricsLog:
    """The run's JSONL log. A new run replaces an old log only when it writes its first record; a resumed
    run first drops the records written after its checkpoint (a crash's leftovers), so none repeat."""

    def __init__(self, path: Path | None, append: bool, after_step: int = 0) -> None:
        self.path, self.fresh = path, not append
        if path is not None and append and path.is_file():
            kept = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True) if _step_of(line) <= after_step]
            write_text_atomic("".join(kept), path)

    def write(self, record: dict) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("w" if self.fresh else "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"time": round(time.time(), 3), **record}) + "\n")
            self.fresh = False


def _step_of(line: str) -> float:
    try:
        step = json.loads(line).get("step", 0)
    except (ValueError, AttributeError):
        return 0
    return step if isinstance(step, (int, float)) else 0


@contextlib.contextmanager
def _graceful_interrupt(state: TrainState) -> Iterator[None]:
    """The first Ctrl-C (SIGINT) or SIGTERM (what schedulers and `timeout` send) stops after the current
    step with a checkpoint; a second one stops at once."""
    signals = (signal.SIGINT, signal.SIGTERM)
    try:
        previous = {sig: signal.getsignal(sig) for sig in signals}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if state.stop_requested:
            raise KeyboardInterrupt
        state.stop_requested = True
        name = "SIGTERM" if signum == signal.SIGTERM else "interrupt"
        logger.warning("%s: stopping after this step and saving a checkpoint (again to abort)", name)

    try:
        for sig in signals:
            signal.signal(sig, handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Bar:
    """A rich progress bar on stderr; silent when disabled."""

    def __init__(self, progress: Any, unit: str) -> None:
        self.progress, self.unit, self.task_id = progress, unit, None

    def start_epoch(self, epoch: int, epochs: int, total: int, done: int) -> None:
        if self.progress is None:
            return
        if self.task_id is not None:
            self.progress.remove_task(self.task_id)
        self.task_id = self.progress.add_task(f"epoch {epoch}/{epochs}", total=total, completed=done, loss=0.0, rate=0.0)

    def advance(self, loss: float, rate: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task_id, advance=1, loss=loss, rate=rate)

    def phase(self, text: str) -> None:
        """Say what a long step between the bar's updates is doing (the dev evaluation)."""
        if self.progress is not None and self.task_id is not None:
            self.progress.update(self.task_id, description=text)


@contextlib.contextmanager
def _progress(enabled: Any, unit: str) -> Iterator[_Bar]:
    """The progress bar: on `enabled` when it is a rich Console (so that lines printed on that console
    during training appear above the bar, not glued to it), else on a console of its own on stderr."""
    if not enabled:
        yield _Bar(None, unit)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[rate]:,.0f} " + unit + "/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    console = enabled if isinstance(enabled, Console) else Console(stderr=True)
    with Progress(*columns, console=console, transient=True) as progress:
        yield _Bar(progress, unit)
