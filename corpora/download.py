"""Fetch a registered corpus into the cache, verifying every file, never leaving a partial one behind.

Each file streams into a temporary file beside its final place while its sha256 is computed; only a
complete download with the expected digest is renamed (`os.replace`, atomic) to its final name. Zip
archives download into an anonymous temporary file and their members are installed the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import logging
import os
import secrets
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

from treeseq.corpora.registry import CorpusSpec, FileSpec, MemberSpec
from treeseq.errors import ConfigError, DownloadError
from treeseq.version import __version__

logger = logging.getLogger(__name__)

CACHE_ENV = "TREESEQ_CACHE"
_CHUNK = 1 << 16
_USER_AGENT = f"treeseq/{__version__} (corpus downloader)"


@dataclass(frozen=True)
class FileReport:
    """What happened to one file of a corpus.

    Attributes:
        target: the file's path relative to the corpus folder.
        path: where it now lies.
        sha256: its digest as computed here.
        expected: the registry's digest, or None when unknown (the file could not be verified).
        downloaded: True when fetched now, False when an existing file was kept.
    """

    target: str
    path: Path
    sha256: str
    expected: str | None
    downloaded: bool

    @property
    def verified(self) -> bool:
        """Whether the digest was checked against a known one."""
        return self.expected is not None


Report = Callable[[FileReport], None]


def default_cache_dir() -> Path:
    """The cache root: `$TREESEQ_CACHE` when set, else `~/.cache/treeseq/corpora`."""
    from_env = os.environ.get(CACHE_ENV, "").strip()
    return Path(from_env).expanduser() if from_env else Path.home() / ".cache" / "treeseq" / "corpora"


def corpus_dir(spec: CorpusSpec, cache_dir: str | Path | None = None) -> Path:
    """The folder a corpus is downloaded to (and that is passed as `--data-dir`): `<cache>/<name>`."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / spec.name


def missing_files(spec: CorpusSpec, cache_dir: str | Path | None = None) -> list[str]:
    """The targets of a corpus not yet in its folder (existence only; checksums are not recomputed)."""
    folder = corpus_dir(spec, cache_dir)
    return [target for target in spec.targets if not (folder / target).is_file()]


def with_mirror(spec: CorpusSpec, mirror_url: str) -> CorpusSpec:
    """Point every URL of a corpus at a mirror that keeps the upstream paths.

    `https://host/a/b.txt` with mirror `http://mirror:8080/pub` becomes `http://mirror:8080/pub/a/b.txt`.

    Args:
        spec: the corpus as registered.
        mirror_url: an http(s) or file URL; its path, if any, is a prefix for the upstream paths.

    Returns:
        A copy of the spec with rewritten URLs; checksums and targets are unchanged.

    Raises:
        ConfigError: the mirror is not an http, https or file URL.
    """
    mirror = urlsplit(mirror_url)
    if mirror.scheme not in ("http", "https", "file") or not (mirror.netloc or mirror.scheme == "file"):
        raise ConfigError(f"--mirror {mirror_url!r}: expected a URL such as http://host:port or file:///path")
    prefix = mirror.path.rstrip("/")

    def move(url: str) -> str:
        path = urlsplit(url).path
        return urlunsplit((mirror.scheme, mirror.netloc, prefix + path, "", ""))

    files = tuple(dataclasses.replace(f, url=move(f.url)) for f in spec.files)
    return dataclasses.replace(spec, files=files)


def file_sha256(path: str | Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download_corpus(
    spec: CorpusSpec,
    cache_dir: str | Path | None = None,
    *,
    force: bool = False,
    timeout: float = 30,
    opener: urllib.request.OpenerDirector | None = None,
    report: Report | None = None,
) -> Path:
    """Download and verify every file of a corpus into `<cache>/<name>`.

    Files already there with the right checksum (or, when the registry has none, simply present) are
    kept. A file whose checksum is unknown is downloaded anyway and its computed sha256 is reported as
    unverified: through `report`, or as a logged warning when no `report` is given.

    Args:
        spec: the corpus (see `corpora.registry.CORPORA`, and `with_mirror`).
        cache_dir: the cache root; None means `default_cache_dir()`.
        force: download again even when the files are present.
        timeout: seconds to wait for a connection or for the next bytes.
        opener: the urllib opener to use (proxies, authentication); None means `urlopen`.
        report: called once per file with what happened to it.

    Returns:
        The corpus folder, ready to pass as `--data-dir`.

    Raises:
        ConfigError: `timeout` is not positive.
        DownloadError: a URL cannot be fetched, a checksum does not match, an archive is broken, or
            the folder cannot be written. One line that says what to do without network.
    """
    if timeout <= 0:
        raise ConfigError(f"timeout must be > 0 seconds, got {timeout}")
    folder = corpus_dir(spec, cache_dir)
    fetcher = _Fetcher(timeout, opener, _manual_hint(spec, folder))
    emit = report or _log_report
    for file_spec in spec.files:
        if file_spec.is_archive:
            _fetch_archive(file_spec, folder, fetcher, force, emit)
        else:
            _fetch_file(file_spec, folder, fetcher, force, emit)
    return folder


def _manual_hint(spec: CorpusSpec, folder: Path) -> str:
    return (
        f"without network, download it elsewhere and put {', '.join(spec.targets)} in {folder} "
        "(or pass that folder as --data-dir)"
    )


def _log_report(result: FileReport) -> None:
    if not result.verified:
        logger.warning(
            "%s: no known sha256, so it could not be verified; computed sha256 %s", result.path, result.sha256
        )
    else:
        logger.info("%s: %s (sha256 ok)", result.path, "downloaded" if result.downloaded else "already present")


@dataclass(frozen=True)
class _Fetcher:
    """Opens URLs and turns every network failure into one DownloadError line."""

    timeout: float
    opener: urllib.request.OpenerDirector | None
    hint: str  # what to do by hand, appended to network errors

    def chunks(self, url: str) -> Iterator[bytes]:
        """Yield the body of `url` in chunks; raise DownloadError if it fails or ends early."""
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        received, expected = 0, None
        try:
            with self._open(request) as response:
                expected = _content_length(response)
                while chunk := response.read(_CHUNK):
                    received += len(chunk)
                    yield chunk
        except urllib.error.HTTPError as err:
            err.close()
            raise DownloadError(f"{url} answered HTTP {err.code} {err.reason}; {self.hint}") from err
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(f"cannot reach {url}: {_reason(err)}; {self.hint}") from err
        if expected is not None and received != expected:
            raise DownloadError(
                f"cannot reach {url}: the connection closed after {received} of {expected} bytes; {self.hint}"
            )

    def _open(self, request: urllib.request.Request) -> http.client.HTTPResponse:
        if self.opener is not None:
            return self.opener.open(request, timeout=self.timeout)
        return urllib.request.urlopen(request, timeout=self.timeout)


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isascii() and value.strip().isdigit() else None


def _reason(err: BaseException) -> str:
    """The short human reason inside a urllib/socket error (`Connection refused`, `timed out`)."""
    reason: object = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _present_sha(path: Path, expected: str | None) -> str | None:
    """The sha256 of an existing file that can be kept, or None when it must be (re)downloaded."""
    if not path.is_file():
        return None
    sha = file_sha256(path)
    return sha if expected is None or sha == expected else None


def _write_verified(final: Path, chunks: Iterable[bytes], expected: str | None, what: str) -> str:
    """Stream `chunks` to a temp file beside `final`, check the digest, then rename it into place.

    Returns:
        The computed sha256.

    Raises:
        DownloadError: the digest differs from `expected`, or the folder cannot be written. The temp
            file is removed on every failure, including interruption, so `final` is never partial.
    """
    temp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.part")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "xb") as out:
            sha = _copy_hashing(chunks, out)
        _check_sha(sha, expected, what)
        os.replace(temp, final)
    except OSError as err:  # local disk only: network errors arrive as DownloadError from `chunks`
        raise DownloadError(f"cannot write {final}: {err.strerror or err}") from err
    finally:
        temp.unlink(missing_ok=True)
    return sha


def _copy_hashing(chunks: Iterable[bytes], out: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


def _check_sha(got: str, expected: str | None, what: str) -> None:
    if expected is not None and got != expected:
        raise DownloadError(
            f"{what}: sha256 mismatch: expected {expected}, got {got}; the file was not kept "
            "(a corrupt download, a wrong mirror, or the upstream file changed)"
        )


def _fetch_file(spec: FileSpec, folder: Path, fetcher: _Fetcher, force: bool, emit: Report) -> None:
    final = folder / spec.target
    sha = None if force else _present_sha(final, spec.sha256)
    downloaded = sha is None
    if sha is None:
        sha = _write_verified(final, fetcher.chunks(spec.url), spec.sha256, f"{spec.target} from {spec.url}")
    emit(FileReport(spec.target, final, sha, spec.sha256, downloaded))


def _fetch_archive(spec: FileSpec, folder: Path, fetcher: _Fetcher, force: bool, emit: Report) -> None:
    kept = {m.target: None if force else _present_sha(folder / m.target, m.sha256) for m in spec.members}
    todo = [m for m in spec.members if kept[m.target] is None]
    if todo:
        _extract_from_download(spec, todo, folder, fetcher, emit)
    for member in spec.members:
        sha = kept[member.target]
        if sha is not None:
            emit(FileReport(member.target, folder / member.target, sha, member.sha256, downloaded=False))


def _extract_from_download(
    spec: FileSpec, members: list[MemberSpec], folder: Path, fetcher: _Fetcher, emit: Report
) -> None:
    """Download an archive to an anonymous temp file, verify it, then install the given members."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = tempfile.TemporaryFile(dir=folder)  # unlinked at once: nothing to clean up, ever
    except OSError as err:
        raise DownloadError(f"cannot write {folder}: {err.strerror or err}") from err
    with handle:
        try:
            archive_sha = _copy_hashing(fetcher.chunks(spec.url), handle)
        except OSError as err:
            raise DownloadError(f"cannot write a temporary file in {folder}: {err.strerror or err}") from err
        _check_sha(archive_sha, spec.sha256, f"{spec.target} from {spec.url}")
        handle.seek(0)
        try:
            archive = zipfile.ZipFile(handle)
        except zipfile.BadZipFile as err:
            raise DownloadError(f"{spec.url}: not a valid zip archive ({err})") from err
        with archive:
            for member in members:
                final = folder / member.target
                chunks = _member_chunks(archive, member.member, spec.url)
                what = f"{member.target} ({member.member} in {spec.url})"
                sha = _write_verified(final, chunks, member.sha256, what)
                emit(FileReport(member.target, final, sha, member.sha256, downloaded=True))


def _member_chunks(archive: zipfile.ZipFile, name: str, url: str) -> Iterator[bytes]:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise DownloadError(f"{url}: the archive has no member {name}") from None
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DownloadError(f"{url}: member {name} is corrupt ({err})") from err
