"""A training run owns its output: a lock beside the archive, no silent replacement, no stray files.

`claim_output` is held for a whole run. It refuses a second run on the same `--output` while the first
is alive (`<stem>.lock` held with `flock`, which the operating system releases when its holder dies,
and holding the owner's pid and host for the message), refuses to replace a finished run unless asked (`resume` continues it, `overwrite`
replaces it) and never replaces a file that is not a treeseq archive, and removes temporary files that
a killed run left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from pathlib import Path
from typing import Iterator

from treeseq.errors import CheckpointError, ConfigError, OutputError


def lock_path(output: Path) -> Path:
    """The lock of a run's stem: `runs/m` and `runs/m.pt` write the same `m.last.pt` and `m.metrics.jsonl`,
    so they take the same lock, `runs/m.lock`."""
    return output.with_name(output.stem + ".lock")


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
    fd = _take(lock)
    try:
        _check_replace(output, resume, overwrite)
        _remove_stray_temporaries(output)
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still holding it: a run waiting on this file sees it gone and retries
        os.close(fd)
        for folder in created:  # a run that wrote nothing leaves nothing behind, not even its folders
            with contextlib.suppress(OSError):
                folder.rmdir()


def _take(lock: Path) -> int:
    """Hold `lock` with `flock`: the operating system releases it when its holder dies (even by kill -9),
    so a dead run's lock needs no guess about staleness. Returns the open descriptor that holds it.

    The file can be unlinked by its holder between our open and our flock; then we hold a lock on a file
    no longer at that path, so the path is checked to still be the file we locked.
    """
    owner = f"{os.getpid()} {socket.gethostname()}\n".encode()
    for _ in range(50):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as err:
            raise CheckpointError(f"{lock}: cannot create the run's lock file ({err.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 200).decode("utf-8", errors="replace").strip()
            os.close(fd)
            pid, _, host = holder.partition(" ")
            raise CheckpointError(
                f"{lock}: another training run (pid {pid or 'unknown'} on {host or 'an unknown host'}) is writing this "
                "output; wait for it or choose another --output"
            ) from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if not same:  # released and removed by its holder meanwhile: lock the file that is there now
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner, 0)
        return fd
    raise CheckpointError(f"{lock}: the lock file keeps changing; another run is starting on this output")


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
