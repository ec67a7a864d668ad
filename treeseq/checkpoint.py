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
from typing import Any, Sequence

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
    _check_entries(data, path)
    if "members" in data:
        members = data["members"]
        if not isinstance(members, list) or not members:
            raise CheckpointError(f"{path}: a damaged ensemble archive (no members)")
        for index, member in enumerate(members, start=1):
            if not isinstance(member, dict) or member.get("task") != data["task"]:
                raise CheckpointError(f"{path}: a damaged ensemble archive (member {index} is not a {data['task']!r} model)")
            _check_entries(member, f"{path} (member {index})")
    return data


def _check_entries(data: dict, where: str | Path) -> None:
    for key, kind in (("task", str), ("config", dict), ("state_dict", dict)):
        if not isinstance(data.get(key), kind):
            raise CheckpointError(f"{where}: a damaged model archive (no {key})")


def member_archives(archive: dict) -> list[dict]:
    """The models an archive holds: an ensemble archive's members, else the archive itself."""
    return list(archive["members"]) if "members" in archive else [archive]


def make_ensemble_archive(members: Sequence[dict], **extras: Any) -> dict:
    """One archive holding several models of one family (their training state left out), which
    `treeseq.load` reads as their ensemble; `extras` say how it was made (e.g. the seeds)."""
    if not members:
        raise ValueError("an ensemble archive needs at least one member")
    kept = [{k: v for k, v in m.items() if k != "training"} for m in members]
    from treeseq.version import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "treeseq_version": __version__,
        "task": kept[0]["task"],
        "config": kept[0]["config"],  # what commands read before loading (the first member's)
        "state_dict": {},
        "members": kept,
        **extras,
    }


def archive_value(archive: dict, dotted: str) -> Any:
    """The value at a dotted path of an archive (`config.model.labels`), or None where it is absent."""
    value: Any = archive
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def describe_difference(first: Any, second: Any) -> str:
    """Where two archive values first differ, in a few words ('' when equal): sizes and the first
    differing entry of lists, the first differing key of dicts."""
    if _equal(first, second):
        return ""
    if isinstance(first, dict) and isinstance(second, dict):
        for key in list(first) + [k for k in second if k not in first]:
            if key not in first or key not in second:
                return f"{key!r} in one only"
            inner = describe_difference(first[key], second[key])
            if inner:
                return f"{key}: {inner}"
    if isinstance(first, (list, tuple)) and isinstance(second, (list, tuple)):
        where = next((i for i, (a, b) in enumerate(zip(first, second)) if not _equal(a, b)), min(len(first), len(second)))
        sizes = f"{len(first):,} against {len(second):,} entries" if len(first) != len(second) else f"{len(first):,} entries"
        if where < min(len(first), len(second)):
            return f"{sizes}, entry {where}: {_short(first[where])} against {_short(second[where])}"
        return sizes
    if isinstance(first, bytes) and isinstance(second, bytes):
        return "different SentencePiece models"
    return f"{_short(first)} against {_short(second)}"


def _equal(first: Any, second: Any) -> bool:
    if isinstance(first, torch.Tensor) or isinstance(second, torch.Tensor):
        return isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) and torch.equal(first, second)
    if isinstance(first, dict) and isinstance(second, dict):
        return first.keys() == second.keys() and all(_equal(first[k], second[k]) for k in first)
    if isinstance(first, (list, tuple)) and isinstance(second, (list, tuple)):
        return len(first) == len(second) and all(_equal(a, b) for a, b in zip(first, second))
    return bool(first == second)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
