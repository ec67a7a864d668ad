"""Dynamic batching: requests from many clients merged per model, one worker thread per model.

Each request is a list of texts and its options. A model's worker takes the oldest request, waits at
most `max_wait_ms` for more requests with the same options until the batch holds `max_batch_tokens`
(whitespace-separated words, a cheap estimate), runs the model's `predict` once on all their texts
and hands each request its own slice of the results through its future. A bad text (too long, no
tokens) fails only its own request: a batch that raises is re-run request by request.
"""

from __future__ import annotations

import collections
import json
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Sequence

from treeseq.errors import TreeseqError

logger = logging.getLogger(__name__)
_STOP = object()


class Overloaded(TreeseqError):
    """The model's queue is full: the server answers 503 and the client retries later."""

    exit_code = 1


@dataclass
class Request:
    texts: list[Any]
    options: dict[str, Any]
    future: Future = field(default_factory=Future)
    key: str = ""
    tokens: int = 0

    def __post_init__(self) -> None:
        self.key = json.dumps(self.options, sort_keys=True)
        self.tokens = sum(len(t.split()) if isinstance(t, str) else len(t) for t in self.texts) or 1


@dataclass
class BatchStats:
    """What a worker has done: batches run, requests and texts answered (for tests and /health)."""

    batches: int = 0
    requests: int = 0
    texts: int = 0
    largest_batch: int = 0  # requests merged into one predict call


class ModelWorker:
    """One model's queue and worker thread.

    Args:
        model: a loaded treeseq model (anything with `predict(texts, source=, line_numbers=, **options)`).
        max_batch_tokens: merge requests until the batch holds this many words (one request may exceed it).
        max_wait_ms: how long the oldest request waits for others to join its batch.
        max_queue: requests waiting at most; `submit` raises Overloaded beyond it.
    """

    def __init__(self, name: str, model: Any, *, max_batch_tokens: int = 2048, max_wait_ms: float = 5.0,
                 max_queue: int = 256) -> None:  # fmt: skip
        self.name, self.model = name, model
        self.max_batch_tokens, self.max_wait = max_batch_tokens, max_wait_ms / 1000
        self.queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self.stats = BatchStats()
        self._carry: collections.deque[Request] = collections.deque()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"treeseq-serve-{name}", daemon=True)
        self._thread.start()

    def submit(self, texts: Sequence[Any], options: dict[str, Any] | None = None) -> Future:
        """Queue a request; its future gets the list of results (or the request's own error).

        Raises:
            Overloaded: the queue is full, or the worker is shutting down.
        """
        request = Request(list(texts), dict(options or {}))
        if self._stopping:
            raise Overloaded(f"model {self.name!r} is shutting down")
        try:
            self.queue.put_nowait(request)
        except queue.Full:
            raise Overloaded(f"model {self.name!r} is busy ({self.queue.maxsize} requests queued); retry later") from None
        return request.future

    def close(self, timeout: float = 30.0) -> None:
        """Answer every queued request, then stop the thread."""
        self._stopping = True
        self.queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._carry.popleft() if self._carry else self.queue.get()
            if first is _STOP:
                if self._carry:  # requests set aside for other options still get their answers
                    self._carry.append(first)
                    continue
                return
            # A request whose client went away (its future cancelled) is dropped; the others can no longer be cancelled.
            batch = [r for r in self._gather(first) if r.future.set_running_or_notify_cancel()]
            if batch:
                self._answer(batch)

    def _gather(self, first: Request) -> list[Request]:
        """The first request and those that can join it (same options, within the token budget)."""
        batch, later, tokens = [first], [], first.tokens
        pending, self._carry = self._carry, collections.deque()
        deadline = time.monotonic() + self.max_wait
        while tokens < self.max_batch_tokens:
            if pending:
                item = pending.popleft()
            else:
                remaining = deadline - time.monotonic()
                try:
                    item = self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait()
                except queue.Empty:
                    break
            if item is not _STOP and item.key == first.key and tokens + item.tokens <= self.max_batch_tokens:
                batch.append(item)
                tokens += item.tokens
            else:
                later.append(item)
                if item is _STOP:
                    break
        self._carry.extend(later)
        self._carry.extend(pending)
        return batch

    def _answer(self, batch: list[Request]) -> None:
        texts = [t for r in batch for t in r.texts]
        numbers = [n for r in batch for n in range(1, len(r.texts) + 1)]
        try:
            results = self.model.predict(texts, source="texts", line_numbers=numbers, **batch[0].options)
        except Exception as err:  # noqa: BLE001 - handed to the request at fault, never lost in the thread
            if len(batch) > 1:  # find the request(s) at fault; the others get their answers
                for request in batch:
                    self._answer([request])
                return
            if not isinstance(err, TreeseqError):
                logger.exception("model %s failed on a request", self.name)
            batch[0].future.set_exception(err)
            return
        start = 0
        for request in batch:
            request.future.set_result(results[start : start + len(request.texts)])
            start += len(request.texts)
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.texts += len(texts)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
