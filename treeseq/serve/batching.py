"""Dynamic batching with admission control: requests from many clients merged per model.

Each request is a list of texts and its options. A model's worker takes the oldest request, waits at
most `max_wait_ms` for more requests with the same options until the batch holds `max_batch_tokens`
(whitespace-separated words, a cheap estimate) and hands the batch to a runner: the model in this
process (`InProcess`) or in a process of its own (`treeseq.serve.process.ModelProcess`), several
runners sharing one queue. The runner answers each request on its own (`answer_batch`): a request over
the cost budget or whose answer would pass the size cap gets 413, a bad text (too long, no tokens)
fails only its own request, and every other request gets its records as JSON.

Admission: the worker measures the seconds a token of work takes and refuses a request (503 with a
Retry-After) when the queue's expected wait would pass `max_queue_wait_ms`, or the queue holds
`max_queue` requests, instead of letting every client's latency grow.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from treeseq.errors import TreeseqError

logger = logging.getLogger(__name__)
_STOP = object()


class Overloaded(TreeseqError):
    """The model cannot take the request now: the server answers 503 with Retry-After."""

    exit_code = 1

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    """What one request may cost (see `answer_batch`)."""

    max_cost: int = 4_000_000  # the model's cost() of the request's texts; beyond it: 413
    max_answer_bytes: int = 8 << 20  # the JSON records of one answer; beyond it: 413


@dataclass(frozen=True)
class Outcome:
    """One request's answer from a runner: its records as JSON (status 200) or an error message."""

    status: int
    records: tuple[bytes, ...] = ()
    error: str = ""


def answer_batch(model: Any, jobs: Sequence[tuple[list[Any], list[int], dict[str, Any]]], limits: Limits) -> list[Outcome]:
    """Run a batch of requests (texts, their numbers in the request, options; the same options for all)
    through `model.predict` once, each request answered on its own; requests whose options say
    `generate` (POST /v1/generate: the text is the prompt) through `model.generate`, one by one.

    A request whose `model.cost` (`model.generate_cost`) is over `limits.max_cost` is refused (413)
    before anything runs; a batch that fails on bad input is re-run request by request, so a bad text
    fails only its own request (422, the message naming `texts:N`); an answer over
    `limits.max_answer_bytes` is refused (413).
    """
    outcomes: list[Outcome | None] = [None] * len(jobs)
    runnable = []
    for index, (texts, _, options) in enumerate(jobs):
        if options.get("generate"):
            cost = model.generate_cost(texts[0], **{k: v for k, v in options.items() if k != "generate"})
            fewer = "ask for fewer samples or a smaller max_tokens"
        else:
            cost = model.cost(texts, **{k: v for k, v in options.items() if k != "svg"}) if hasattr(model, "cost") else 0
            fewer = "send fewer or shorter texts or a smaller beam or max_len_ratio"
        if cost > limits.max_cost:
            outcomes[index] = Outcome(413, error=f"the request would cost {cost:,} units of work, over the limit of "
                                                 f"{limits.max_cost:,} (see GET /v1/models: cost); {fewer}")  # fmt: skip
        else:
            runnable.append(index)
    for index, outcome in zip(runnable, _run(model, [jobs[i] for i in runnable], limits)):
        outcomes[index] = outcome
    return outcomes  # type: ignore[return-value]


def _run(model: Any, jobs: list[tuple[list[Any], list[int], dict[str, Any]]], limits: Limits) -> list[Outcome]:
    if not jobs:
        return []
    texts = [t for job in jobs for t in job[0]]
    numbers = [n for job in jobs for n in job[1]]
    options = dict(jobs[0][2])
    if options.pop("generate", False):  # /v1/generate: each request is one call (its prompt, its seed)
        return [_generate(model, job[0][0], options, limits) for job in jobs]
    svg = options.pop("svg", False)  # /v1/render: the picture of each result's tree instead of its record
    try:
        results = model.predict(texts, source="texts", line_numbers=numbers, **options)
    except TreeseqError as err:
        if len(jobs) > 1:  # find the request(s) at fault; the others get their answers
            return [outcome for job in jobs for outcome in _run(model, [job], limits)]
        return [Outcome(422, error=str(err))]
    except Exception:  # noqa: BLE001 - a fault of the model's code: this request's 500, logged; the others go on
        if len(jobs) > 1:
            return [outcome for job in jobs for outcome in _run(model, [job], limits)]
        logger.exception("the model failed on a request")
        return [Outcome(500, error="internal error; see the server's log")]
    out, start = [], 0
    for job in jobs:
        out.append(_encode(results[start : start + len(job[0])], limits, svg))
        start += len(job[0])
    return out


def _generate(model: Any, prompt: str, options: dict[str, Any], limits: Limits) -> Outcome:
    """One /v1/generate request: the samples' records, exactly those `treeseq generate --format jsonl` prints."""
    try:
        samples = model.generate(prompt, **options)
    except TreeseqError as err:
        return Outcome(422, error=str(err))
    except Exception:  # noqa: BLE001 - a fault of the model's code: this request's 500, logged
        logger.exception("the model failed to generate")
        return Outcome(500, error="internal error; see the server's log")
    return _encode(samples, limits, fewer="ask for fewer samples or a smaller max_tokens")


def _encode(results: Sequence[Any], limits: Limits, svg: bool = False,
            fewer: str = "send fewer texts or ask for fewer hypotheses or no attention") -> Outcome:  # fmt: skip
    if svg:
        return Outcome(200, tuple(tree_svg(r).encode("utf-8") for r in results))
    records = tuple(json.dumps(r.to_dict(), ensure_ascii=False).encode("utf-8", "backslashreplace") for r in results)
    size = sum(len(r) for r in records)
    if size > limits.max_answer_bytes:
        return Outcome(413, error=f"the answer would hold {size:,} bytes, over the limit of {limits.max_answer_bytes:,}; {fewer}")
    return Outcome(200, records)


def tree_svg(result: Any) -> str:
    """The picture `classify --render` draws: a labelled tree's SVG, or a parse's, its nodes dots with no label."""
    from treeseq.render_svg import layout_parse, layout_tree, to_svg  # noqa: PLC0415

    layout = layout_tree(result.tree, result.classes, *result.by_node()) if hasattr(result, "by_node") else layout_parse(result.tree)
    return to_svg(layout, " ".join(result.tree.tokens))


class Runner(Protocol):
    """Runs batches for a worker: `answer_batch` on a model, here or in another process."""

    def run(self, jobs: list[tuple[list[Any], list[int], dict[str, Any]]]) -> list[Outcome]: ...

    def close(self) -> None: ...


class InProcess:
    """The model in this process (tests, `create_app` on loaded models)."""

    def __init__(self, model: Any, limits: Limits) -> None:
        self.model, self.limits = model, limits

    def run(self, jobs: list[tuple[list[Any], list[int], dict[str, Any]]]) -> list[Outcome]:
        return answer_batch(self.model, jobs, self.limits)

    def close(self) -> None:
        pass


@dataclass
class Request:
    texts: list[Any]
    numbers: list[int]
    options: dict[str, Any]
    future: Future = field(default_factory=Future)
    key: str = ""
    tokens: int = 0  # its work in words; by default its texts' words

    def __post_init__(self) -> None:
        self.key = json.dumps(self.options, sort_keys=True)
        self.tokens = self.tokens or sum(len(t.split()) if isinstance(t, str) else len(t) for t in self.texts) or 1


@dataclass
class BatchStats:
    """What a worker has done: batches run, requests and texts answered, requests shed (for tests and /health)."""

    batches: int = 0
    requests: int = 0
    texts: int = 0
    largest_batch: int = 0  # requests merged into one predict call
    shed: int = 0  # requests refused with 503


class ModelWorker:
    """One model's queue and its worker threads, one per runner.

    Args:
        runners: where batches run (InProcess, or ModelProcess: a model in a process of its own each).
        max_batch_tokens: merge requests until the batch holds this many words (one request may exceed it).
        max_wait_ms: how long the oldest request waits for others to join its batch.
        max_queue: requests waiting at most; `submit` raises Overloaded beyond it.
        max_queue_wait_ms: `submit` raises Overloaded when the queue's expected wait would pass this
            (0: no deadline); the wait is the words queued over the words a second the runners have
            answered in their last batches (each runner's first batch, its warm-up, not counted).
    """

    WINDOW = 32  # batches the throughput is measured over

    def __init__(self, name: str, runners: Sequence[Runner], *, max_batch_tokens: int = 2048, max_wait_ms: float = 5.0,
                 max_queue: int = 256, max_queue_wait_ms: float = 0.0) -> None:  # fmt: skip
        self.name, self.runners = name, list(runners)
        self.max_batch_tokens, self.max_wait = max_batch_tokens, max_wait_ms / 1000
        self.max_queue_wait = max_queue_wait_ms / 1000
        self.queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self.stats = BatchStats()
        self._recent: collections.deque[tuple[int, float]] = collections.deque(maxlen=self.WINDOW)  # (tokens, seconds)
        self._queued_tokens = 0
        self._lock = threading.Lock()
        self._stopping = False
        self._threads = [threading.Thread(target=self._run, args=(runner,), name=f"treeseq-serve-{name}-{i}", daemon=True)
                         for i, runner in enumerate(self.runners)]  # fmt: skip
        for thread in self._threads:
            thread.start()

    @property
    def seconds_per_token(self) -> float:
        """Seconds a word of work takes one runner, over the last batches (0 until measured)."""
        tokens = sum(t for t, _ in self._recent)
        return sum(s for _, s in self._recent) / tokens if tokens else 0.0

    def expected_wait(self, tokens: int = 0) -> float:
        """Seconds a request of `tokens` words would wait for the requests queued before it and itself."""
        return (self._queued_tokens + tokens) * self.seconds_per_token / len(self.runners)

    def submit(self, texts: Sequence[Any], options: dict[str, Any] | None = None, numbers: Sequence[int] | None = None,
               lag: float = 0.0, work: int = 0) -> Future:  # fmt: skip
        """Queue a request; its future gets an Outcome. `lag`: seconds the request has waited already
        (or will wait in the server's event loop), counted against the deadline with the queue's wait.
        `work`: the request's work in words when its texts do not say it (a generation: the units it
        may make); by default the words of its texts.

        Raises:
            Overloaded: the queue is full, its expected wait is over the deadline, or the worker is shutting down.
        """
        numbers = list(numbers) if numbers is not None else list(range(1, len(texts) + 1))
        request = Request(list(texts), numbers, dict(options or {}), tokens=work)
        if self._stopping:
            raise Overloaded(f"model {self.name!r} is shutting down")
        with self._lock:
            wait = self.expected_wait(request.tokens) + lag
            if self.max_queue_wait and wait > self.max_queue_wait and self._queued_tokens:  # an idle model takes anything
                self.stats.shed += 1
                raise Overloaded(f"model {self.name!r} is busy (about {wait:.1f} s of work queued); retry later",
                                 retry_after=max(1, math.ceil(wait)))  # fmt: skip
            try:
                self.queue.put_nowait(request)
            except queue.Full:
                self.stats.shed += 1
                raise Overloaded(f"model {self.name!r} is busy ({self.queue.maxsize} requests queued); retry later",
                                 retry_after=max(1, math.ceil(wait))) from None  # fmt: skip
            self._queued_tokens += request.tokens
        return request.future

    def close(self, timeout: float = 30.0) -> None:
        """Answer every queued request, then stop the threads and the runners."""
        self._stopping = True
        for _ in self._threads:
            self.queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        for runner in self.runners:
            runner.close()

    def _run(self, runner: Runner) -> None:
        carry: collections.deque = collections.deque()
        warm = False
        while True:
            first = carry.popleft() if carry else self.queue.get()
            if first is _STOP:
                if carry:  # requests set aside for other options still get their answers
                    carry.append(first)
                    continue
                return
            batch = self._gather(first, carry)
            with self._lock:
                self._queued_tokens -= sum(r.tokens for r in batch)
            # A request whose client went away (its future cancelled) is dropped; the others can no longer be cancelled.
            batch = [r for r in batch if r.future.set_running_or_notify_cancel()]
            if batch:
                self._answer(runner, batch, measure=warm)
                warm = True

    def _gather(self, first: Request, carry: collections.deque) -> list[Request]:
        """The first request and those that can join it (same options, within the token budget)."""
        batch, later, tokens = [first], [], first.tokens
        pending = collections.deque(carry)
        carry.clear()
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
        carry.extend(later)
        carry.extend(pending)
        return batch

    def _answer(self, runner: Runner, batch: list[Request], measure: bool = True) -> None:
        start = time.perf_counter()
        try:
            outcomes = runner.run([(r.texts, r.numbers, r.options) for r in batch])
        except Exception as err:  # noqa: BLE001 - e.g. the model's process died: every request of the batch is told
            logger.error("model %s: %s", self.name, err)
            outcomes = [Outcome(503, error=f"model {self.name!r} is restarting; retry later")] * len(batch)
        seconds = time.perf_counter() - start
        tokens = sum(r.tokens for r in batch)
        with self._lock:
            if measure:
                self._recent.append((tokens, seconds))
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.texts += sum(len(r.texts) for r in batch)
            self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for request, outcome in zip(batch, outcomes):
            request.future.set_result(outcome)
