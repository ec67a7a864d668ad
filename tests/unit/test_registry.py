"""The corpus registry (well-formed data) and the downloader, against a local HTTP server only."""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import re
import socket
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from treeseq.corpora.download import (
    FileReport,
    corpus_dir,
    default_cache_dir,
    download_corpus,
    missing_files,
    with_mirror,
)
from treeseq.corpora.registry import CORPORA, CorpusSpec, FileSpec, MemberSpec, get_corpus
from treeseq.errors import ConfigError, DownloadError

SHARED_CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
REQUIRED = {"sst", "multi30k", "multi30k-en", "atis", "snips", "ud-english-ewt"}
FORMATS = {"ptb-trees", "parallel-text", "plain-text", "atis-folders", "conllu"}
HEX64 = re.compile(r"[0-9a-f]{64}")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ---------------------------------------------------------------- a local HTTP server (127.0.0.1 only)


@dataclass
class LocalServer:
    root: Path  # served folder
    url: str  # http://127.0.0.1:PORT
    requests: list[str] = field(default_factory=list)
    truncated: dict[str, bytes] = field(default_factory=dict)  # path -> body sent with a larger Content-Length

    def put(self, path: str, data: bytes) -> str:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return f"{self.url}/{path.lstrip('/')}"


class _Handler(SimpleHTTPRequestHandler):
    state: LocalServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.state.requests.append(self.path)
        body = self.state.truncated.get(self.path)
        if body is None:
            super().do_GET()
            return
        # Promise more bytes than we send, then drop the connection.
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + 1000))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (_Handler,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    state = LocalServer(root, f"http://127.0.0.1:{httpd.server_address[1]}")
    handler.state = state
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def spec_of(*files: FileSpec, name: str = "toy") -> CorpusSpec:
    return CorpusSpec(
        name=name,
        description="a toy corpus",
        licence="CC0",
        format="ptb-trees",
        citation="nobody",
        homepage="https://example.org/",
        splits=("train",),
        files=files,
        layout_note="the folder itself",
    )


# ---------------------------------------------------------------- the registry is well-formed data


def test_required_corpora_are_registered() -> None:
    assert REQUIRED <= set(CORPORA)
    assert all(name == spec.name for name, spec in CORPORA.items())


@pytest.mark.parametrize("name", sorted(CORPORA))
def test_entry_is_well_formed(name: str) -> None:
    spec = CORPORA[name]
    assert spec.format in FORMATS
    assert spec.description and spec.licence and spec.citation and spec.layout_note
    assert spec.homepage.startswith("https://")
    assert len(set(spec.targets)) == len(spec.targets)
    for file_spec in spec.files:
        assert urlsplit(file_spec.url).scheme == "https" and urlsplit(file_spec.url).netloc
    for target, digest in spec.outputs:
        assert digest is None or HEX64.fullmatch(digest)
        assert not target.startswith("/") and ".." not in target.split("/")
    for split in spec.splits:  # every split has a file
        assert any(split in target for target in spec.targets), split


def test_known_checksums_and_urls() -> None:
    sst = get_corpus("sst").files[0]
    assert sst.url == "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip" and sst.sha256 is None
    assert [(m.member, m.target) for m in sst.members] == [
        ("trees/train.txt", "train.txt"),
        ("trees/dev.txt", "dev.txt"),
        ("trees/test.txt", "test.txt"),
    ]
    assert dict(get_corpus("ud-english-ewt").outputs)["en_ewt-ud-test.conllu"] is None
    assert all(digest is None for _, digest in get_corpus("snips").outputs)
    assert dict(get_corpus("atis").outputs)["valid/seq.out"].startswith("83ccff3e")


def test_multi30k_en_is_a_view_of_the_multi30k_download() -> None:
    """The language-modelling corpus the README trains on: multi30k's English files, under the names
    `train lm` reads, with the same URLs and checksums."""
    english = {f.url: f.sha256 for f in get_corpus("multi30k").files if f.target.endswith(".en.gz")}
    view = get_corpus("multi30k-en")
    assert view.format == "plain-text" and set(view.targets) == {"train.txt.gz", "dev.txt.gz", "test.txt.gz"}
    assert {f.url: f.sha256 for f in view.files} == english


def test_checksums_match_the_shared_corpora() -> None:
    checked = 0
    for spec in CORPORA.values():
        for target, digest in spec.outputs:
            path = SHARED_CORPORA / spec.name / target
            if digest is not None and path.is_file():
                assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path
                checked += 1
    if not checked:
        pytest.skip(f"no shared corpora at {SHARED_CORPORA}")


@pytest.mark.parametrize(
    "make",
    [
        lambda: FileSpec("https://example.org/a.txt", "a.txt", "ABC"),
        lambda: FileSpec("https://example.org/a.txt", "/etc/a.txt"),
        lambda: FileSpec("https://example.org/a.txt", "../a.txt"),
        lambda: FileSpec("ftp://example.org/a.txt", "a.txt"),
        lambda: MemberSpec("x/a.txt", "a/../../b.txt"),
        lambda: spec_of(FileSpec("https://e.org/a", "a.txt"), FileSpec("https://e.org/b", "a.txt")),
        lambda: spec_of(FileSpec("https://e.org/a", "a.txt"), name="Bad Name"),
    ],
)
def test_malformed_entries_are_rejected(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown corpus 'nope'; known corpora: atis, multi30k, multi30k-en, snips, sst"):
        get_corpus("nope")


# ---------------------------------------------------------------- paths and mirrors


def test_cache_dir_from_env_or_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TREESEQ_CACHE", str(tmp_path / "c"))
    assert corpus_dir(get_corpus("sst")) == tmp_path / "c" / "sst"
    monkeypatch.delenv("TREESEQ_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "treeseq" / "corpora"
    assert corpus_dir(get_corpus("atis"), tmp_path) == tmp_path / "atis"


def test_mirror_keeps_paths_checksums_and_targets() -> None:
    spec = get_corpus("ud-english-ewt")
    moved = with_mirror(spec, "http://127.0.0.1:8000/pub/")
    assert moved.files[0].url == (
        "http://127.0.0.1:8000/pub/UniversalDependencies/UD_English-EWT/r2.15/en_ewt-ud-train.conllu"
    )
    assert moved.outputs == spec.outputs
    assert with_mirror(spec, "file:///srv/m").files[0].url.startswith("file:///srv/m/UniversalDependencies/")
    with pytest.raises(ConfigError, match="--mirror"):
        with_mirror(spec, "ftp://host")
    with pytest.raises(ConfigError):
        with_mirror(spec, "no-scheme")


# ---------------------------------------------------------------- downloads


@pytest.fixture
def toy(server: LocalServer) -> tuple[CorpusSpec, dict[str, bytes]]:
    """Two plain files (one with an unknown checksum) and a zip with two members."""
    data = {"a.txt": b"alpha\n" * 1000, "b.txt": b"beta\n", "x.txt": b"(2 (2 x) (3 y))\n", "y.txt": b"why\n"}
    zipped = make_zip({"trees/x.txt": data["x.txt"], "trees/y.txt": data["y.txt"], "other": b"ignored"})
    spec = spec_of(
        FileSpec(server.put("d/a.txt", data["a.txt"]), "a.txt", sha(data["a.txt"])),
        FileSpec(server.put("d/b.txt", data["b.txt"]), "sub/b.txt", None),
        FileSpec(
            server.put("d/t.zip", zipped),
            "t.zip",
            sha(zipped),
            (MemberSpec("trees/x.txt", "x.txt", sha(data["x.txt"])), MemberSpec("trees/y.txt", "y.txt")),
        ),
    )
    return spec, data


def test_download_verifies_and_installs(toy: tuple[CorpusSpec, dict[str, bytes]], tmp_path: Path) -> None:
    spec, data = toy
    reports: list[FileReport] = []
    folder = download_corpus(spec, tmp_path / "cache", report=reports.append)
    assert folder == tmp_path / "cache" / "toy"
    assert all_files(folder) == sorted(folder / t for t in ("a.txt", "sub/b.txt", "x.txt", "y.txt"))
    assert (folder / "sub/b.txt").read_bytes() == data["b.txt"]
    assert (folder / "x.txt").read_bytes() == data["x.txt"]
    by_target = {r.target: r for r in reports}
    assert set(by_target) == {"a.txt", "sub/b.txt", "x.txt", "y.txt"}
    assert all(r.downloaded for r in reports)
    assert [t for t, r in sorted(by_target.items()) if not r.verified] == ["sub/b.txt", "y.txt"]
    assert by_target["y.txt"].sha256 == sha(data["y.txt"])
    assert missing_files(spec, tmp_path / "cache") == []


def test_unverified_files_are_logged_when_nobody_listens(
    toy: tuple[CorpusSpec, dict[str, bytes]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec, data = toy
    with caplog.at_level(logging.WARNING, logger="treeseq.corpora.download"):
        download_corpus(spec, tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert any("could not be verified" in w and sha(data["b.txt"]) in w for w in warnings)


def test_present_files_are_skipped_and_force_fetches_again(
    toy: tuple[CorpusSpec, dict[str, bytes]], server: LocalServer, tmp_path: Path
) -> None:
    spec, _ = toy
    download_corpus(spec, tmp_path)
    assert len(server.requests) == 3
    reports: list[FileReport] = []
    download_corpus(spec, tmp_path, report=reports.append)
    assert len(server.requests) == 3
    assert len(reports) == 4 and not any(r.downloaded for r in reports)
    download_corpus(spec, tmp_path, force=True)
    assert len(server.requests) == 6


def test_a_corrupted_local_file_is_fetched_again(
    toy: tuple[CorpusSpec, dict[str, bytes]], server: LocalServer, tmp_path: Path
) -> None:
    spec, data = toy
    download_corpus(spec, tmp_path)
    (tmp_path / "toy" / "a.txt").write_bytes(b"damaged")
    (tmp_path / "toy" / "x.txt").unlink()
    download_corpus(spec, tmp_path)
    assert server.requests[3:] == ["/d/a.txt", "/d/t.zip"]
    assert (tmp_path / "toy" / "a.txt").read_bytes() == data["a.txt"]
    assert (tmp_path / "toy" / "x.txt").read_bytes() == data["x.txt"]


def test_checksum_mismatch_keeps_nothing(server: LocalServer, tmp_path: Path) -> None:
    good = sha(b"what we expect")
    spec = spec_of(FileSpec(server.put("a.txt", b"something else"), "a.txt", good))
    with pytest.raises(DownloadError) as caught:
        download_corpus(spec, tmp_path)
    message = str(caught.value)
    assert f"a.txt from {server.url}/a.txt: sha256 mismatch: expected {good}, got {sha(b'something else')}" in message
    assert "\n" not in message
    assert all_files(tmp_path / "toy") == []


def test_zip_member_mismatch_keeps_nothing(server: LocalServer, tmp_path: Path) -> None:
    zipped = make_zip({"m.txt": b"content"})
    member = MemberSpec("m.txt", "m.txt", sha(b"other content"))
    spec = spec_of(FileSpec(server.put("z.zip", zipped), "z.zip", None, (member,)))
    with pytest.raises(DownloadError, match=r"m.txt \(m.txt in .*z.zip\): sha256 mismatch: expected [0-9a-f]{64}"):
        download_corpus(spec, tmp_path)
    assert all_files(tmp_path / "toy") == []


def test_broken_archives(server: LocalServer, tmp_path: Path) -> None:
    not_zip = spec_of(FileSpec(server.put("a.zip", b"<html>404</html>"), "a.zip", None, (MemberSpec("m", "m"),)))
    with pytest.raises(DownloadError, match="not a valid zip archive"):
        download_corpus(not_zip, tmp_path)
    no_member = spec_of(FileSpec(server.put("b.zip", make_zip({"n": b"1"})), "b.zip", None, (MemberSpec("m", "m"),)))
    with pytest.raises(DownloadError, match="the archive has no member m"):
        download_corpus(no_member, tmp_path)
    assert all_files(tmp_path / "toy") == []


def test_connection_dropped_mid_file_keeps_nothing(server: LocalServer, tmp_path: Path) -> None:
    server.truncated["/big.txt"] = b"x" * 500
    spec = spec_of(FileSpec(f"{server.url}/big.txt", "big.txt", None))
    with pytest.raises(DownloadError, match="closed after 500 of 1500 bytes"):
        download_corpus(spec, tmp_path)
    assert all_files(tmp_path / "toy") == []


def test_connection_refused_says_where_to_put_the_files(closed_port: int, tmp_path: Path) -> None:
    spec = with_mirror(get_corpus("sst"), f"http://127.0.0.1:{closed_port}")
    with pytest.raises(DownloadError) as caught:
        download_corpus(spec, tmp_path, timeout=5)
    url = f"http://127.0.0.1:{closed_port}/sentiment/trainDevTestTrees_PTB.zip"
    assert str(caught.value) == (
        f"cannot reach {url}: Connection refused; without network, download it elsewhere and put "
        f"train.txt, dev.txt, test.txt in {tmp_path / 'sst'} (or pass that folder as --data-dir)"
    )
    assert all_files(tmp_path) == []


def test_http_error_names_the_status(server: LocalServer, tmp_path: Path) -> None:
    spec = spec_of(FileSpec(f"{server.url}/missing.txt", "a.txt", None))
    with pytest.raises(DownloadError, match=r"missing.txt answered HTTP 404 .*put a.txt in"):
        download_corpus(spec, tmp_path)


def test_a_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        spec = spec_of(FileSpec(f"http://127.0.0.1:{silent.getsockname()[1]}/a.txt", "a.txt", None))
        with pytest.raises(DownloadError, match="cannot reach .*: timed out"):
            download_corpus(spec, tmp_path, timeout=0.2)
    with pytest.raises(ConfigError):
        download_corpus(spec, tmp_path, timeout=0)


class _InterruptedResponse:
    """A response that delivers one chunk, then the user presses Ctrl-C."""

    headers = {"Content-Length": "100000"}

    def __init__(self) -> None:
        self.calls = 0

    def __enter__(self) -> _InterruptedResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self, size: int) -> bytes:
        self.calls += 1
        if self.calls > 1:
            raise KeyboardInterrupt
        return b"x" * size


class _FakeOpener:
    def open(self, request: object, timeout: float) -> _InterruptedResponse:
        return _InterruptedResponse()


def test_interruption_keeps_nothing(tmp_path: Path) -> None:
    spec = spec_of(FileSpec("https://example.org/a.txt", "a.txt", None))
    with pytest.raises(KeyboardInterrupt):
        download_corpus(spec, tmp_path, opener=_FakeOpener())  # type: ignore[arg-type]
    assert all_files(tmp_path) == []
