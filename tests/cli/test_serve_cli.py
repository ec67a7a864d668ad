"""`treeseq serve`: the command parses its options, serves over HTTP and stops gracefully on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import treeseq
from treeseq.cli.main import app

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
runner = CliRunner()


def test_bad_model_options_are_one_line_errors(tmp_path: Path) -> None:
    for args, message in ((["--model", "=x.pt"], "expected NAME=path.pt"), (["-m", "a=x.pt", "-m", "a=y.pt"], "given twice"),
                          (["-m", "a b=x.pt"], "a name takes letters"), (["-m", f"a={tmp_path / 'none.pt'}"], "no such model file")):  # fmt: skip
        result = runner.invoke(app, ["serve", *args])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, (args, result.output)


def test_serve_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    archive = tmp_path / "pos.pt"
    treeseq.train("tagger", SAMPLES / "pos", archive, epochs=1, hidden_size=8, embed_dim=8, progress=False, device="cpu")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "treeseq.cli.main", "serve", "--model", f"pos={archive}", "--port", str(port),
               "--threads", "1", "--device", "cpu"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        answer = httpx.post(f"{url}/v1/predict", json={"model": "pos", "texts": ["The cat sat .", ""]}, timeout=30).json()
        expected = treeseq.load(archive, "cpu").predict(["The cat sat ."])[0].to_dict()
        assert answer["results"][0]["tags"] == expected["tags"] and answer["results"][1] == {}
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) in (0, -signal.SIGTERM)  # uvicorn shuts down, then re-raises the signal it caught
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    log = server.stdout.read()  # type: ignore[union-attr]
    assert "Waiting for application shutdown" in log and "Finished server process" in log and "Traceback" not in log, log
