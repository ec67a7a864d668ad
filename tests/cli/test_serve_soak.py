"""A soak of `treeseq serve` on 127.0.0.1: valid and hostile requests mixed from many clients for a bounded
time. Every valid request is answered with the records of the in-process `predict`, no request gets a
500, the server's log holds no traceback, and its memory (server and model processes) stays flat."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import treeseq

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
SECONDS, CLIENTS = 40.0, 12
VALID = ["flights from boston to denver", "show me fares to dallas tomorrow", "cheapest flight to atlanta",
         "what is the earliest flight from denver", "list flights to boston on monday"]  # fmt: skip
GERMAN = ["Ein Hund läuft .", "Eine Frau sitzt auf einer Bank .", "Zwei Männer spielen Fußball ."]


def close(a: Any, b: Any, tolerance: float = 2e-3) -> bool:
    """Records equal, floats within rounding noise (a batch's padding can move the last digit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, tolerance) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= tolerance
    return a == b


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (the model's process)."""
    total = 0
    for one in [pid, *children(pid)]:
        try:
            status = Path(f"/proc/{one}/status").read_text()
        except OSError:
            continue
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
    return total


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def hostile(url: str, port: int, rng: random.Random) -> int | None:
    """One hostile request; its status (None for a half-open connection left to the server's timeout)."""
    kind = rng.randrange(9)
    headers = {"content-type": "application/json"}
    bodies = {
        0: b'{"model": "nlu", "texts": ["x \\ud800 y"]}',
        1: b"[" * 200_000,
        2: b'{"model": "nlu", "texts": ["a"], "tokenized": ' + b"9" * 5000 + b"}",
        3: b'{"model": "nlu", "texts": ["caf\xe9"]}',
        4: json.dumps({"model": "de-en", "texts": [" ".join(GERMAN * 40)], "beam": 64, "attention": True}).encode(),
        5: json.dumps({"model": "nlu", "texts": ["a"] * 300}).encode(),
        6: json.dumps({"model": "nope", "texts": ["a"]}).encode(),
        7: b'{"model": "nlu", "texts": [' + b'"' + b"word " * 300_000 + b'"]}',
    }
    if kind in bodies:
        return httpx.post(f"{url}/v1/predict", content=bodies[kind], headers=headers, timeout=60).status_code
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)  # a request whose headers never end
    sock.sendall(b"POST /v1/predict HTTP/1.1\r\nhost: x\r\n")
    time.sleep(0.05)
    sock.close()
    return None


@pytest.mark.slow
def test_a_soak_of_mixed_hostile_and_valid_traffic(tmp_path: Path) -> None:
    quiet = {"progress": False, "device": "cpu"}
    treeseq.train("tagger", SAMPLES / "nlu", tmp_path / "nlu.pt", epochs=1, hidden_size=16, embed_dim=16, **quiet)
    treeseq.train("translator", SAMPLES / "parallel", tmp_path / "de-en.pt", epochs=1, hidden_size=16, embed_dim=16,
                  vocab_size=300, batch_size=600, overrides=["data.dev_subset=5"], **quiet)  # fmt: skip
    expected = {"nlu": {t: r.to_dict() for t, r in zip(VALID, treeseq.load(tmp_path / "nlu.pt", "cpu").predict(VALID))},
                "de-en": {t: r.to_dict() for t, r in zip(GERMAN, treeseq.load(tmp_path / "de-en.pt", "cpu").predict(GERMAN))}}  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "treeseq.cli.main", "serve", "-m", f"nlu={tmp_path / 'nlu.pt'}", "-m", f"de-en={tmp_path / 'de-en.pt'}",
               "--port", str(port), "--threads", "1", "--device", "cpu", "--header-timeout", "2", "--max-cost", "2000000"]  # fmt: skip
    with log.open("w") as handle:
        server = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    statuses: dict[Any, int] = {}
    wrong: list[str] = []
    memory: list[tuple[float, int]] = []
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        start = time.monotonic()
        lock = threading.Lock()

        def client(number: int) -> None:
            rng = random.Random(number)
            with httpx.Client(base_url=url, timeout=60) as http:
                while time.monotonic() - start < SECONDS:
                    if rng.random() < 0.25:
                        status = hostile(url, port, rng)
                        with lock:
                            statuses[("hostile", status)] = statuses.get(("hostile", status), 0) + 1
                        continue
                    model = "de-en" if rng.random() < 0.3 else "nlu"
                    texts = rng.sample(list(expected[model]), 2) + [""]
                    while True:
                        answer = http.post("/v1/predict", json={"model": model, "texts": texts})
                        if answer.status_code != 503:
                            break
                        time.sleep(float(answer.headers["retry-after"]))
                    with lock:
                        statuses[("valid", answer.status_code)] = statuses.get(("valid", answer.status_code), 0) + 1
                        if answer.status_code != 200:
                            wrong.append(f"{answer.status_code} {answer.text[:200]}")
                        elif not all(close(got, expected[model][t]) for got, t in zip(answer.json()["results"], texts[:2])):
                            wrong.append(f"mismatch {texts}")

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            memory.append((time.monotonic() - start, rss_kib(server.pid)))
            time.sleep(0.5)
        for thread in threads:
            thread.join(60)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    text = log.read_text()
    assert not wrong, wrong[:5]
    assert statuses.get(("valid", 200), 0) > 100 and not [k for k in statuses if k[1] == 500], statuses
    assert {status for kind, status in statuses if kind == "hostile"} <= {None, 404, 413, 422, 503}, statuses
    assert "Traceback" not in text and '" 500' not in text and "ERROR" not in text, text[-3000:]
    second_half = [kib for at, kib in memory if at >= SECONDS / 2]
    assert max(second_half) <= 1.10 * min(second_half), (min(second_half), max(second_half))
    print(json.dumps({"statuses": {f"{k[0]} {k[1]}": v for k, v in sorted(statuses.items(), key=str)},
                      "rss_kib_second_half": [min(second_half), max(second_half)]}))  # fmt: skip
