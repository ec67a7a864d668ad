"""The HTTP service under load: `treeseq serve` with dynamic batching against `predict` in-process.

    python benchmarks/serve.py [--model runs/atis.pt] [--clients 4 16 64 256] [--requests 20] [--texts 4]

Starts `treeseq serve` on 127.0.0.1 (a process of its own, its model in another, one torch thread),
then for each number of concurrent clients every client sends `--requests` requests of `--texts`
sentences one after another over its own kept-alive connection (asyncio streams and a minimal
HTTP/1.1 client, so that the load generator, on the same cores, costs little): requests/s,
sentences/s, p50/p99 latency of the answered requests. A request refused with 503 is counted as
shed and sent again after its Retry-After (its answer's latency counts from the last sending). In
the same run it calls `predict` in-process on the same sentences: one request's sentences a call
(what a server without batching does) and in batches of 64 (the ceiling). Every answer is checked
against the in-process result (nothing lost, nothing mixed). Without --model it trains a small NLU
tagger on the samples (seconds). Prints JSON lines; the last but one checks the service's contract
(at 64 clients at least 90% of the 16-client throughput with p99 under 500 ms; at the most clients
nothing lost or wrong and p99 of the answered under 1 s), the last carries the headline ratio:
served sentences/s at the most clients over in-process one-request-a-call sentences/s (`speedup`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def emit(**record: object) -> None:
    print(json.dumps({"bench": "serve", **record}), flush=True)


def close(a: Any, b: Any, tolerance: float = 2e-3) -> bool:
    """Records equal, floats within rounding noise (a batch's padding can move the last digit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= tolerance
    return a == b


def start_server(model: Path, threads: int, max_wait_ms: float, processes: int, options: dict[str, Any]) -> tuple[subprocess.Popen, str]:
    import httpx  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "treeseq.cli.main", "serve", "--model", f"bench={model}", "--port", str(port),
               "--threads", str(threads), "--device", "cpu", "--max-wait-ms", str(max_wait_ms), "--processes", str(processes), "--quiet"]  # fmt: skip
    command += [part for option, value in options.items() if value is not None for part in (option, str(value))]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    while True:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read()[-500:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.kill()
            raise SystemExit("the server did not start within 120 s")
        time.sleep(0.2)


class Connection:
    """One kept-alive HTTP/1.1 connection: POST a JSON body, read the status, headers and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> Connection:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 24)
        return cls(reader, writer, host)

    async def post(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(b"POST %s HTTP/1.1\r\nhost: %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                          % (path.encode(), self.host.encode(), len(body), body))  # fmt: skip
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
        payload = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0].split()[1]), headers, payload

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def load_test(url: str, plan: list[list[list[str]]]) -> tuple[float, list[float], list[tuple[list[str], Any]], int, list[str]]:
    """Each client sends its requests one after another on its own connection; all clients at once.
    (seconds, latencies of the answered, answers, requests shed with 503, Retry-After values seen)."""
    latencies: list[float] = []
    answers: list[tuple[list[str], Any]] = []
    retry_after: list[str] = []
    shed = 0

    async def client(requests: list[tuple[list[str], bytes]]) -> None:
        nonlocal shed
        connection = await Connection.open(url)
        try:
            for texts, body in requests:
                while True:
                    start = time.perf_counter()
                    try:
                        status, headers, payload = await connection.post("/v1/predict", body)
                    except (OSError, asyncio.IncompleteReadError) as err:  # lost: counted by the caller
                        answers.append((texts, f"connection failed: {err!r}"))
                        connection = await Connection.open(url)
                        break
                    if status == 503 and "retry-after" in headers:
                        shed += 1
                        retry_after.append(headers["retry-after"])
                        if headers.get("connection") == "close":
                            await connection.close()
                            connection = await Connection.open(url)
                        await asyncio.sleep(float(headers["retry-after"]))
                        continue
                    latencies.append(time.perf_counter() - start)
                    answers.append((texts, payload if status == 200 else f"{status} {payload[:200]!r}"))  # parsed after the run
                    break
        finally:
            await connection.close()

    # Bodies encoded and answers parsed outside the timed run: the generator shares the server's cores.
    bodies = [[(texts, json.dumps({"model": "bench", "texts": texts}).encode()) for texts in requests] for requests in plan]
    await client(bodies[0][:1])  # warm-up: one request (the model's first batch)
    latencies.clear()
    answers.clear()
    start = time.perf_counter()
    await asyncio.gather(*(client(requests) for requests in bodies))
    seconds = time.perf_counter() - start
    parsed = [(texts, json.loads(got)["results"] if isinstance(got, bytes) else got) for texts, got in answers]
    return seconds, latencies, parsed, shed, sorted(set(retry_after))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def contract(measured: dict[int, dict[str, float]]) -> dict[str, Any]:
    """The service's contract under load, checked on this run's figures."""
    out: dict[str, Any] = {"contract": "64 clients >= 90% of 16 clients' requests/s with p99 < 500 ms; the most clients: none lost or wrong, p99 < 1 s"}
    if 16 in measured and 64 in measured:
        ratio = measured[64]["requests_per_s"] / measured[16]["requests_per_s"]
        out.update(ratio_64_to_16=round(ratio, 3), p99_ms_64=round(measured[64]["p99_ms"], 1),
                   holds_at_64=ratio >= 0.9 and measured[64]["p99_ms"] < 500)  # fmt: skip
    most = max(measured)
    out.update(most_clients=most, p99_ms_most=round(measured[most]["p99_ms"], 1),
               holds_at_most=not measured[most]["lost"] and not measured[most]["mismatched"] and measured[most]["p99_ms"] < 1000)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="any treeseq archive (default: a small NLU tagger trained here)")
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 16, 64, 256])
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--texts", type=int, default=4, help="sentences per request")
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--processes", type=int, default=1, help="model processes (treeseq serve --processes; 0: in the server's process)")
    parser.add_argument("--max-queue-wait-ms", type=float, default=None, help="treeseq serve --max-queue-wait-ms (default: the server's)")
    parser.add_argument("--max-batch-tokens", type=int, default=None, help="treeseq serve --max-batch-tokens (default: the server's)")
    args = parser.parse_args()
    import torch  # noqa: PLC0415

    import treeseq  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        archive = args.model
        if archive is None:
            archive = Path(scratch) / "nlu.pt"
            treeseq.train("tagger", ROOT / "corpora/samples/nlu", archive, epochs=1, hidden_size=64, embed_dim=50,
                          progress=False, device="cpu")  # fmt: skip
        model = treeseq.load(archive, "cpu")
        lines = [t.strip() for t in (ROOT / "corpora/samples/parallel/train.en").read_text(encoding="utf-8").splitlines() if t.strip()]
        model.predict(lines[:64])  # warm-up: the tokenizer loads on first use
        server, url = start_server(archive, args.threads, args.max_wait_ms, args.processes,
                                   {"--max-queue-wait-ms": args.max_queue_wait_ms, "--max-batch-tokens": args.max_batch_tokens})
        try:
            headline: dict[str, float] = {}
            measured: dict[int, dict[str, float]] = {}
            for clients in args.clients:
                plan = [[[f"{lines[(c * args.requests * args.texts + r * args.texts + k) % len(lines)]}"
                          for k in range(args.texts)] for r in range(args.requests)] for c in range(clients)]  # fmt: skip
                requests = [texts for client in plan for texts in client]
                sentences = sum(len(t) for t in requests)
                seconds, latencies, answers, shed, retry_after = asyncio.run(load_test(url, plan))
                # The same sentences in-process: one request a call, then all in batches of 64.
                start = time.perf_counter()
                expected = {}
                for texts in requests:
                    for text, result in zip(texts, model.predict(texts)):
                        expected[text] = result.to_dict()
                per_request = time.perf_counter() - start
                flat = [t for texts in requests for t in texts]
                start = time.perf_counter()
                for begin in range(0, len(flat), 64):
                    model.predict(flat[begin : begin + 64])
                batched = time.perf_counter() - start
                lost = len(requests) - len(answers) + sum(1 for _, got in answers if not isinstance(got, list))
                mixed = sum(1 for texts, got in answers if isinstance(got, list)
                            for text, record in zip(texts, got) if record.get("text") != text or not close(record, expected[text]))  # fmt: skip
                rate = sentences / seconds
                emit(mode="http", clients=clients, requests=len(requests), sentences=sentences, texts_per_request=args.texts,
                     requests_per_s=round(len(requests) / seconds, 1), sentences_per_s=round(rate, 1),
                     p50_ms=round(percentile(latencies, 0.5) * 1000, 1), p99_ms=round(percentile(latencies, 0.99) * 1000, 1),
                     lost=lost, mismatched=mixed, shed_503=shed, retry_after=retry_after,
                     model=str(args.model or "NLU tagger trained on the samples"))  # fmt: skip
                measured[clients] = {"requests_per_s": len(requests) / seconds, "p99_ms": percentile(latencies, 0.99) * 1000,
                                     "lost": lost, "mismatched": mixed}  # fmt: skip
                emit(mode="in-process", clients=clients, sentences=sentences,
                     one_request_a_call_sentences_per_s=round(sentences / per_request, 1),
                     batches_of_64_sentences_per_s=round(sentences / batched, 1))  # fmt: skip
                if lost or mixed:
                    raise SystemExit(f"{lost} answers lost and {mixed} sentences mismatched at {clients} clients")
                headline = {"clients": clients, "served": rate, "per_request": sentences / per_request, "batched": sentences / batched}
        finally:
            server.terminate()
            server.wait(30)
    emit(**contract(measured))
    emit(metric=f"served sentences/s at {headline['clients']} clients vs in-process predict one request a call",
         served_sentences_per_s=round(headline["served"], 1), in_process_sentences_per_s=round(headline["per_request"], 1),
         share_of_in_process_batched=round(headline["served"] / headline["batched"], 2),
         speedup=round(headline["served"] / headline["per_request"], 2))  # fmt: skip


if __name__ == "__main__":
    main()
