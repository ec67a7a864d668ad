"""Model archives: one file with everything needed to predict, saved atomically, loaded as data.

An archive is a plain dict of strings, numbers, lists and tensors, so `torch.load(weights_only=True)`
reads it and a model file can never run code. Training checkpoints are archives with a `training`
entry (optimizer, schedule, generator states, position) for exact `--resume`.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from treeseq.errors import CheckpointError
from treeseq.files import atomic_path

FORMAT = "treeseq-archive"
FORMAT_VERSION = 1


def make_archive(task: str, config: dict, vocabs: dict, state_dict: dict, **extras: Any) -> dict:
    """Assemble an archive dict; `extras` hold task-specific data (e.g. class names)."""
    from treeseq.version import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "treeseq_version": __version__,
        "task": task,
        "config": config,
        "vocabs": vocabs,
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        **extras,
    }


def save_atomic(obj: Any, path: str | Path) -> None:
    """`torch.save` to a temporary file beside `path`, then a rename over it (see treeseq.files)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(obj, handle)
        handle.flush()
        os.fsync(handle.fileno())


def load_archive(path: str | Path, task: str | None = None) -> dict:
    """Read an archive with `torch.load(weights_only=True)` and check that it is one we can use.

    Raises:
        CheckpointError: missing file, not a treeseq archive, a newer format, or another task.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError, KeyError, IndexError,
            OSError, AttributeError, TypeError) as err:  # what torch.load raises on bytes that are not an archive
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a treeseq model archive ({first[:120]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a treeseq model archive (no '{FORMAT}' header)")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: not a treeseq model archive (format_version {version!r})")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: archive format {version} is newer than this treeseq reads ({FORMAT_VERSION}); upgrade treeseq"
        )
    if task is not None and data.get("task") != task:
        raise CheckpointError(f"{path}: this is a {data.get('task')!r} model, expected a {task!r} model")
    for key, kind in (("task", str), ("config", dict), ("state_dict", dict)):
        if not isinstance(data.get(key), kind):
            raise CheckpointError(f"{path}: a damaged model archive (no {key})")
    return data
