"""A model in a process of its own, fed batches through a pipe.

The server's event loop parses HTTP and JSON in one process while the model runs in another: they no
longer take turns on one interpreter lock (on two cores, 64 clients had throttled both). The child
loads the archive(s) itself, runs `answer_batch` and sends back each request's records already
encoded as JSON, so the server only splices bytes. A child that dies is started again on the next
batch; the batch it was running is answered 503.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from pathlib import Path
from typing import Any, Sequence

from treeseq.errors import ConfigError
from treeseq.serve.batching import Limits, Outcome

logger = logging.getLogger(__name__)
START_TIMEOUT_S = 300.0


class ModelProcess:
    """A runner (see treeseq.serve.batching) whose model lives in a child process.

    Args:
        path: an archive, or a list of archives (their ensemble), as `treeseq.load` takes.
        threads: torch threads in the child (None: torch's choice).
    """

    def __init__(self, path: str | Path | Sequence[str | Path], limits: Limits, *, device: str = "cpu", precision: str = "fp32",
                 max_length: int | None = None, threads: int | None = None) -> None:  # fmt: skip
        self.spec = {"path": [str(p) for p in path] if isinstance(path, (list, tuple)) else str(path), "device": device,
                     "precision": precision, "max_length": max_length, "threads": threads, "limits": limits}  # fmt: skip
        self.summary: dict[str, Any] = {}
        self._process: Any = None
        self._conn: Any = None
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # no copy of the server's threads and event loop
        parent, child = context.Pipe()
        self._process = context.Process(target=_child, args=(child, self.spec), name="treeseq-model", daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(START_TIMEOUT_S):
            self._process.kill()
            raise ConfigError(f"{self.spec['path']}: the model's process did not start within {START_TIMEOUT_S:.0f} s")
        try:
            kind, payload = parent.recv()
        except EOFError:
            raise ConfigError(f"{self.spec['path']}: the model's process stopped while loading") from None
        if kind == "error":
            self._process.join(10)
            raise ConfigError(payload)
        self.summary = payload

    def run(self, jobs: list[tuple[list[Any], list[int], dict[str, Any]]]) -> list[Outcome]:
        """Answer a batch in the child; a child found dead is started again (and this batch refused)."""
        try:
            self._conn.send(jobs)
            return self._conn.recv()
        except (EOFError, OSError) as err:
            code = self._process.exitcode if self._process is not None else None
            logger.error("the model's process stopped (exit %s); starting it again", code)
            self._process.join(5)
            self._start()
            raise RuntimeError(f"the model's process stopped (exit {code})") from err

    def close(self) -> None:
        if self._process is None:
            return
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()
        self._process = None


def _child(conn: Any, spec: dict[str, Any]) -> None:
    """The child's loop: load, say ready (with the model's summary), answer batches until told to stop."""
    import signal  # noqa: PLC0415

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server stops the child when it has answered what is queued
    if spec["threads"]:
        os.environ.setdefault("OMP_NUM_THREADS", str(spec["threads"]))
    try:
        import torch  # noqa: PLC0415

        from treeseq.api import load  # noqa: PLC0415
        from treeseq.serve.batching import answer_batch  # noqa: PLC0415
        from treeseq.serve.summary import model_summary  # noqa: PLC0415

        if spec["threads"]:
            torch.set_num_threads(spec["threads"])
        options = {"max_length": spec["max_length"]} if spec["max_length"] else {}
        model = load(spec["path"], spec["device"], spec["precision"], **options)
        conn.send(("ready", model_summary(model)))
    except Exception as err:  # noqa: BLE001 - told to the server as one line
        conn.send(("error", str(err)))
        return
    limits: Limits = spec["limits"]
    while True:
        try:
            jobs = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if jobs is None:
            return
        conn.send(answer_batch(model, jobs, limits))
