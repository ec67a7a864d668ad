"""The public entry points: `load` a model archive, `train` a family, `evaluate` a model on a split.

    import treeseq
    model = treeseq.load("runs/sst.pt")
    results = model.predict(["The film is not bad at all.", "A dull plot."])
    results[0].to_dict()      # the record `treeseq classify --format jsonl` prints

The command line calls exactly these functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from treeseq.api.core import FAMILIES, FamilyName, average, evaluate, load, train_one

if TYPE_CHECKING:
    from treeseq.api.seeds import SeedsResult
    from treeseq.training.engine import FitResult

__all__ = ["FAMILIES", "average", "evaluate", "load", "train"]


def train(family: FamilyName, data_dir: str | Path, output: str | Path, *, overwrite: bool = False,
          seeds: Sequence[int] | str | None = None, jobs: int = 1, **options: Any) -> FitResult | SeedsResult:  # fmt: skip
    """Train a model of one family on a corpus folder with the shared engine, or one member per seed.

    Args:
        family: tree, parser, tagger, translator, classifier or lm.
        data_dir: the corpus folder (see each family's `train` for the layouts it reads).
        output: the best model archive; the last checkpoint and the metrics log go beside it. With
            `seeds`, the ensemble archive of the members (see treeseq.api.seeds).
        overwrite: replace a finished run at `output` (else refused; `resume=True` continues it).
        seeds: train one member per seed (`[1, 2, 3]` or "1,2,3"), each `<stem>.seedS.pt`, and write
            their ensemble at `output` and their dev figures, mean and standard deviation in
            `<stem>.seeds.json`; `resume=True` then continues only the unfinished members.
        jobs: with `seeds`, members trained at once in separate processes.
        options: config (a TOML file), overrides (`section.key=value` strings), resume, device,
            progress, epoch_hook, and any model, data or training setting of the family by name
            (epochs=3, hidden_size=100, lr=1e-3, ...).

    Returns:
        The engine's FitResult (how training ended and the best dev metric), or with `seeds` a
        SeedsResult (every member's run and the summary written).
    """
    if seeds is not None:
        from treeseq.api.seeds import train_seeds  # noqa: PLC0415

        return train_seeds(family, data_dir, output, seeds, jobs=jobs, overwrite=overwrite, **options)
    return train_one(family, data_dir, output, overwrite=overwrite, **options)
