"""`treeseq corpora list|info|download` through CliRunner; downloads go to a 127.0.0.1 server only."""

from __future__ import annotations

import functools
import io
import socket
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from treeseq.cli.corpora import app
from treeseq.corpora.registry import CORPORA

runner = CliRunner()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TREESEQ_CACHE", str(tmp_path / "env-cache"))  # never the user's real cache


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local mirror: (its URL, the folder it serves, laid out like the upstream paths)."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def put_snips(root: Path) -> None:
    for split in ("train", "valid", "test"):
        folder = root / "MiuLab/SlotGated-SLU/master/data/snips" / split
        folder.mkdir(parents=True)
        (folder / "seq.in").write_text("play some jazz\n")
        (folder / "seq.out").write_text("O O B-genre\n")
        (folder / "label").write_text("PlayMusic\n")


def test_list_shows_every_corpus_and_its_state(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for target in CORPORA["sst"].targets:
        (cache / "sst").mkdir(parents=True, exist_ok=True)
        (cache / "sst" / target).write_text("(2 x)\n")
    (cache / "atis" / "train").mkdir(parents=True)
    (cache / "atis" / "train" / "seq.in").write_text("x\n")
    result = runner.invoke(app, ["list", "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│ ")}
    assert set(CORPORA) <= set(rows)
    assert "yes" in rows["sst"] and "ptb-trees" in rows["sst"]
    assert "partial (1/9" in rows["atis"]
    assert rows["ud-english-ewt"].rstrip("│ ").endswith("no")


def test_info_shows_urls_checksums_and_data_dir(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", "sst", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip" in out
    train_sha = "e2f3f41b0b1e6d4dddc0effe3bfc2d27ed8928079aa9a03d652311614fc5feb7"
    assert f"train.txt  <-  trees/train.txt  sha256 {train_sha}" in out
    assert "test.txt  <-  trees/test.txt  sha256 unknown" in out
    assert f"data-dir: {tmp_path / 'sst'} (downloaded: no)" in out
    assert "licence: research release" in out and "Socher" in out


def test_info_defaults_to_the_env_cache(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", "ud-english-ewt"])
    assert result.exit_code == 0
    assert f"data-dir: {tmp_path / 'env-cache' / 'ud-english-ewt'}" in result.stdout
    assert "CC BY-SA 4.0" in result.stdout


@pytest.mark.parametrize("command", ["info", "download"])
def test_unknown_name_is_a_one_line_error(command: str) -> None:
    result = runner.invoke(app, [command, "penn-treebank"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == ["error: unknown corpus 'penn-treebank'; known corpora: atis, multi30k, multi30k-en, snips, sst, ud-english-ewt"]


def test_bad_mirror_is_bad_input() -> None:
    result = runner.invoke(app, ["download", "sst", "--mirror", "ftp://example.org"])
    assert result.exit_code == 2
    assert "--mirror" in result.output


def test_download_through_a_mirror_then_skip(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    put_snips(root)
    args = ["download", "snips", "--cache-dir", str(tmp_path / "cache"), "--mirror", url, "--timeout", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "cache" / "snips"
    assert result.stdout.strip().splitlines()[-1] == str(folder)
    assert (folder / "valid" / "seq.out").read_text() == "O O B-genre\n"
    assert result.output.count("could not be verified; computed sha256 ") == 9  # never silent
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert again.output.count("already present") == 9


def test_checksum_mismatch_exits_1_and_keeps_nothing(mirror: tuple[str, Path], tmp_path: Path) -> None:
    url, root = mirror
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for split in ("train", "dev", "test"):
            archive.writestr(f"trees/{split}.txt", "(2 (2 not) (2 the real file))\n")
    (root / "sentiment").mkdir()
    (root / "sentiment" / "trainDevTestTrees_PTB.zip").write_bytes(buffer.getvalue())
    result = runner.invoke(app, ["download", "sst", "--cache-dir", str(tmp_path / "c"), "--mirror", url])
    assert result.exit_code == 1
    assert "train.txt (trees/train.txt in" in result.output
    assert "expected e2f3f41b0b1e6d4dddc0effe3bfc2d27ed8928079aa9a03d652311614fc5feb7, got" in result.output
    assert not any(p.is_file() for p in (tmp_path / "c").rglob("*"))


def test_unreachable_mirror_says_where_to_put_the_files(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = ["download", "multi30k", "--cache-dir", str(tmp_path), "--mirror", f"http://127.0.0.1:{port}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: cannot reach http://127.0.0.1:{port}/multi30k/dataset/raw/master/")
    assert "put train.de.gz, train.en.gz, val.de.gz, val.en.gz" in line
    assert f"in {tmp_path / 'multi30k'} (or pass that folder as --data-dir)" in line
