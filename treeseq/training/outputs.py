"""A training run owns its output: a lock beside the archive, no silent replacement, no stray files.

`claim_output` is held for a whole run. It refuses a second run on the same `--output` while the first
is alive (an exclusive lock file holding the owner's pid and host; a lock whose process has died is
taken over), refuses to replace a finished run unless asked (`resume` continues it, `overwrite`
replaces it) and never replaces a file that is not a treeseq archive, and removes temporary files that
a killed run left behind.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Iterator

from treeseq.errors import CheckpointError, ConfigError, OutputError


def lock_path(output: Path) -> Path:
    return output.with_name(output.name + ".lock")


@contextlib.contextmanager
def claim_output(output: str | Path, *, resume: bool = False, overwrite: bool = False) -> Iterator[None]:
    """Own `output` (and its last checkpoint and metrics log) for the duration of the block.

    Raises:
        CheckpointError: another live run holds the output.
        ConfigError: a finished run, or a file that is not a treeseq archive, would be replaced.
    """
    output = Path(output)
    if os.environ.get("RANK", "0") != "0":  # data-parallel workers: the main process owns the output
        yield
        return
    created = [p for p in (output.parent, *output.parent.parents) if not p.exists()]
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{output}: cannot create its folder ({err.strerror or err})") from None
    lock = lock_path(output)
    _take(lock)
    try:
        _check_replace(output, resume, overwrite)
        _remove_stray_temporaries(output)
        yield
    finally:
        lock.unlink(missing_ok=True)
        for folder in created:  # a run that wrote nothing leaves nothing behind, not even its folders
            with contextlib.suppress(OSError):
                folder.rmdir()


def _take(lock: Path) -> None:
    owner = f"{os.getpid()} {socket.gethostname()}\n"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _stale(lock):
                pid, _, host = lock.read_text(encoding="utf-8", errors="replace").strip().partition(" ")
                raise CheckpointError(
                    f"{lock}: another training run (pid {pid} on {host or 'an unknown host'}) is writing this output; "
                    "wait for it, choose another --output, or delete the lock file if no run is using it"
                ) from None
            lock.unlink(missing_ok=True)  # its run died: take it over
            continue
        except OSError as err:
            raise CheckpointError(f"{lock}: cannot create the run's lock file ({err.strerror})") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(owner)
        return
    raise CheckpointError(f"{lock}: the lock file keeps reappearing; another run is starting on this output")


def _stale(lock: Path) -> bool:
    """Whether a lock's process is gone (same host only: another host's pid cannot be checked)."""
    try:
        pid_text, _, host = lock.read_text(encoding="utf-8", errors="replace").strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return True  # empty or garbled: a run killed while writing its lock
    if host and host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _check_replace(output: Path, resume: bool, overwrite: bool) -> None:
    from treeseq.checkpoint import load_archive  # noqa: PLC0415 (torch: only when a file is there)
    from treeseq.training.engine import paths_for  # noqa: PLC0415

    last, _ = paths_for(output)
    for path in (output, last):
        if not path.exists() or (resume and path == last):
            continue
        try:
            load_archive(path)
        except CheckpointError:
            raise ConfigError(f"{path}: exists and is not a treeseq model archive; refusing to replace it") from None
        if not (resume or overwrite):
            raise ConfigError(f"{path}: a trained model is already there; --resume to continue that run, "
                              "--overwrite to replace it, or choose another --output")  # fmt: skip


def _remove_stray_temporaries(output: Path) -> None:
    """Temporary files of atomic writes (`.NAME.XXXX.tmp...`) that a killed run left beside its files."""
    from treeseq.training.engine import paths_for  # noqa: PLC0415

    for path in (output, *paths_for(output)):
        for stray in path.parent.glob(f".{path.name}.*.tmp*"):
            stray.unlink(missing_ok=True)
