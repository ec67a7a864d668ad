"""Training curves from the engine's JSONL metrics log: the dev metric (and training loss) by epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from treeseq.errors import CorpusFormatError
from treeseq.files import atomic_path, json_objects, read_lines


def read_epochs(path: str | Path) -> list[dict]:
    """The end-of-epoch records (those with dev metrics) of a metrics log, in file order.

    A resumed run appends to the same log; a later record for the same epoch replaces the earlier one.

    Raises:
        CorpusFormatError: `file:line: problem` for a line that is not a JSON object.
    """
    path = Path(path)
    by_epoch: dict[int, dict] = {}
    for line_no, record in json_objects(read_lines(path), str(path)):
        if "epoch" in record and any(key.startswith("dev_") for key in record):
            epoch = record["epoch"]
            if not isinstance(epoch, int) or isinstance(epoch, bool):
                raise CorpusFormatError(f"{path}:{line_no}: epoch {epoch!r} is not a whole number")
            by_epoch[epoch] = record
    if not by_epoch:
        raise CorpusFormatError(f"{path}: no end-of-epoch records (lines with dev_* metrics)")
    return [by_epoch[e] for e in sorted(by_epoch)]


def read_steps(path: str | Path) -> list[tuple[float, float]]:
    """(fractional epoch, training loss) of every step record of a metrics log (one every
    train.log_every steps), in file order; a resumed run's repeated steps keep their last record."""
    path = Path(path)
    steps: dict[int, tuple[int, float]] = {}
    per_epoch: dict[int, int] = {}
    for _, record in json_objects(read_lines(path), str(path)):
        step, epoch, loss = record.get("step"), record.get("epoch"), record.get("loss")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (step, epoch)):
            continue
        if any(key.startswith("dev_") for key in record):
            per_epoch[int(epoch)] = int(step)  # the last step of that epoch
        elif isinstance(loss, (int, float)):
            steps[int(step)] = (int(epoch), float(loss))
    out = []
    for step, (epoch, loss) in sorted(steps.items()):
        start, end = per_epoch.get(epoch - 1, 0), per_epoch.get(epoch)
        fraction = (step - start) / (end - start) if end and end > start else 0.5
        out.append((epoch - 1 + fraction, loss))
    return out


def metric_value(record: dict, metric: str) -> float | None:
    """A dev metric of an epoch record as people read it: as logged where the record says its scale
    (percent for scores, perplexity for language models), the loss itself for losses; logs written
    before records had a scale hold fractions, shown in percent."""
    value = record.get(f"dev_{metric}")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if "scale" in record or "loss" in metric or metric in ("ppl", "nll", "bpc"):
        return float(value)
    return 100.0 * value


def metric_names(epochs: Sequence[dict]) -> list[str]:
    """The dev metrics logged, without the `dev_` prefix."""
    return sorted({key[4:] for record in epochs for key in record if key.startswith("dev_")})


def plot_curve(epochs: Sequence[dict] | Sequence[tuple[str, Sequence[dict]]], metric: str, path: str | Path,
               title: str = "", steps: Sequence[Sequence[tuple[float, float]]] | None = None) -> None:  # fmt: skip
    """Draw dev `metric` (see metric_value) and the training loss by epoch into a PNG or SVG file, atomically.

    `epochs` is one run's records, or (name, records) for several runs drawn over each other; each run's
    best epoch is marked with its value. `steps` (one list per run, see read_steps): draw the training
    loss of every logged step instead of one point an epoch.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    runs = list(epochs) if epochs and isinstance(epochs[0], tuple) else [("", epochs)]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    right = ax.twinx()
    colours = plt.get_cmap("tab10")
    for index, (name, records) in enumerate(runs):  # type: ignore[misc]
        points = [(r["epoch"], v) for r in records if (v := metric_value(r, metric)) is not None]
        if not points:
            raise CorpusFormatError(f"no dev_{metric} in {name or 'the log'}; logged: {', '.join(metric_names(records))}")
        label = f"{name} " if name else ""
        ax.plot([e for e, _ in points], [v for _, v in points], marker="o", color=colours(index), label=f"{label}dev {metric}")
        best_epoch, best = (min if "loss" in metric else max)(points, key=lambda p: p[1])
        ax.plot([best_epoch], [best], marker="*", markersize=12, color=colours(index), linestyle="none")
        ax.annotate(f"{best:.2f}", (best_epoch, best), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
        losses = ([(e, v) for e, v in steps[index]] if steps is not None else
                  [(r["epoch"], r["train_loss"]) for r in records if isinstance(r.get("train_loss"), (int, float))])  # fmt: skip
        if losses:
            right.plot([e for e, _ in losses], [v for _, v in losses], linestyle="--", color=colours(index), alpha=0.6,
                       label=f"{label}train loss")  # fmt: skip
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"dev {metric}")
    right.set_ylabel("train loss")
    ax.grid(alpha=0.3)
    lines = [line for line in ax.get_lines() + right.get_lines() if not line.get_label().startswith("_")]
    ax.legend(lines, [line.get_label() for line in lines], loc="lower right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip(".").lower() or None)
    finally:
        plt.close(fig)
