"""The HTTP service under load: `treeseq serve` with dynamic batching against `predict` in-process.

    python benchmarks/serve.py [--model runs/atis.pt] [--clients 4 16 64] [--requests 20] [--texts 4]

Starts `treeseq serve` on 127.0.0.1 (a process of its own, one torch thread), then for each number of
concurrent clients every client sends `--requests` requests of `--texts` sentences one after another
(asyncio + httpx): requests/s, sentences/s, p50/p99 latency. In the same run it calls `predict`
in-process on the same sentences: one request's sentences a call (what a server without batching
does) and in batches of 64 (the ceiling). Every answer is checked against the in-process result
(nothing lost, nothing mixed). Without --model it trains a small NLU tagger on the samples (seconds).
Prints JSON lines; the last carries the headline ratio: served sentences/s at the most clients over
in-process one-request-a-call sentences/s (`speedup`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
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


def start_server(model: Path, threads: int, max_wait_ms: float) -> tuple[subprocess.Popen, str]:
    import httpx  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "treeseq.cli.main", "serve", "--model", f"bench={model}", "--port", str(port),
               "--threads", str(threads), "--device", "cpu", "--max-wait-ms", str(max_wait_ms), "--max-queue", "4096", "--quiet"]  # fmt: skip
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


async def load_test(url: str, plan: list[list[list[str]]]) -> tuple[float, list[float], list[tuple[list[str], Any]]]:
    """Each client sends its requests one after another; all clients at once. (seconds, latencies, answers)."""
    import httpx  # noqa: PLC0415

    latencies: list[float] = []
    answers: list[tuple[list[str], Any]] = []
    limits = httpx.Limits(max_connections=len(plan), max_keepalive_connections=len(plan))
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as http:

        async def client(requests: list[list[str]]) -> None:
            for texts in requests:
                start = time.perf_counter()
                answer = await http.post("/v1/predict", json={"model": "bench", "texts": texts})
                latencies.append(time.perf_counter() - start)
                answers.append((texts, answer.json()["results"] if answer.status_code == 200 else answer.text))

        await client(plan[0][:1])  # warm-up: one request (connections, the model's first batch)
        latencies.clear()
        answers.clear()
        start = time.perf_counter()
        await asyncio.gather(*(client(requests) for requests in plan))
    return time.perf_counter() - start, latencies, answers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="any treeseq archive (default: a small NLU tagger trained here)")
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--texts", type=int, default=4, help="sentences per request")
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
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
        lines = [l.strip() for l in (ROOT / "corpora/samples/parallel/train.en").read_text(encoding="utf-8").splitlines() if l.strip()]
        model.predict(lines[:64])  # warm-up: the tokenizer loads on first use
        server, url = start_server(archive, args.threads, args.max_wait_ms)
        try:
            headline: dict[str, float] = {}
            for clients in args.clients:
                plan = [[[f"{lines[(c * args.requests * args.texts + r * args.texts + k) % len(lines)]}"
                          for k in range(args.texts)] for r in range(args.requests)] for c in range(clients)]  # fmt: skip
                requests = [texts for client in plan for texts in client]
                sentences = sum(len(t) for t in requests)
                seconds, latencies, answers = asyncio.run(load_test(url, plan))
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
                     lost=lost, mismatched=mixed, model=str(args.model or "NLU tagger trained on the samples"))  # fmt: skip
                emit(mode="in-process", clients=clients, sentences=sentences,
                     one_request_a_call_sentences_per_s=round(sentences / per_request, 1),
                     batches_of_64_sentences_per_s=round(sentences / batched, 1))  # fmt: skip
                if lost or mixed:
                    raise SystemExit(f"{lost} answers lost and {mixed} sentences mismatched at {clients} clients")
                headline = {"clients": clients, "served": rate, "per_request": sentences / per_request, "batched": sentences / batched}
        finally:
            server.terminate()
            server.wait(30)
    emit(metric=f"served sentences/s at {headline['clients']} clients vs in-process predict one request a call",
         served_sentences_per_s=round(headline["served"], 1), in_process_sentences_per_s=round(headline["per_request"], 1),
         share_of_in_process_batched=round(headline["served"] / headline["batched"], 2),
         speedup=round(headline["served"] / headline["per_request"], 2))  # fmt: skip


if __name__ == "__main__":
    main()
