"""`treeseq corpora list|info|download`: the public corpora, their sources, checksums and licences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from treeseq.cli.common import Verbose, cli_errors, console, err_console
from treeseq.cli.helpstyle import Command
from treeseq.corpora.registry import CORPORA, CorpusSpec, FileSpec, get_corpus

app = typer.Typer(
    help="Public corpora: list them, show their sources, checksums and licences, download and verify them.",
    no_args_is_help=True,
)

CorpusName = Annotated[str, typer.Argument(help=f"One of: {', '.join(CORPORA)}.", show_default=False)]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Cache root; the corpus goes to <cache-dir>/<name>. Default: $TREESEQ_CACHE or ~/.cache/treeseq/corpora.",
        file_okay=False,
        show_default=False,
    ),
]


def _download() -> Any:
    """treeseq.corpora.download, imported when a command needs it (it loads http and urllib: slower start-up)."""
    import treeseq.corpora.download as download  # noqa: PLC0415

    return download


Format = Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text (a table) or jsonl (one record a corpus).")]


@app.command("list", cls=Command)
def list_corpora(cache_dir: CacheDir = None, format: Format = "text") -> None:
    """List the registered corpora and whether each is already in the cache.

    Example: treeseq corpora list --format jsonl
    """
    if format == "jsonl":
        for spec in CORPORA.values():
            record = {"name": spec.name, "format": spec.format, "splits": list(spec.splits), "licence": spec.licence,
                      "downloaded": _download_state(spec, cache_dir), "data_dir": str(_download().corpus_dir(spec, cache_dir))}  # fmt: skip
            typer.echo(json.dumps(record, ensure_ascii=False))
        return
    table = Table(title=f"corpora (cache: {escape(str(cache_dir or _download().default_cache_dir()))})", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("format", no_wrap=True)
    table.add_column("splits")
    table.add_column("licence")
    table.add_column("downloaded", no_wrap=True)
    for spec in CORPORA.values():
        table.add_row(
            spec.name, spec.format, ", ".join(spec.splits), escape(_short(spec.licence)), _download_state(spec, cache_dir)
        )
    console.print(table)


@app.command(cls=Command)
def info(name: CorpusName, cache_dir: CacheDir = None, format: Format = "text", verbose: Verbose = False) -> None:
    """Show everything about one corpus: licence, citation, URLs with sha256, the --data-dir folder.

    Example: treeseq corpora info sst
    """
    with cli_errors(verbose):
        spec = get_corpus(name)
    folder = _download().corpus_dir(spec, cache_dir)
    if format == "jsonl":
        files = [{"target": f.target, "url": f.url, "sha256": f.sha256,
                  "members": [{"target": m.target, "member": m.member, "sha256": m.sha256} for m in f.members]}
                 for f in spec.files]  # fmt: skip
        typer.echo(json.dumps({"name": spec.name, "description": spec.description, "format": spec.format,
                               "splits": list(spec.splits), "licence": spec.licence, "citation": spec.citation,
                               "homepage": spec.homepage, "data_dir": str(folder),
                               "downloaded": _download_state(spec, cache_dir), "layout": spec.layout_note,
                               "files": files}, ensure_ascii=False))  # fmt: skip
        return
    fields = {
        "name": spec.name,
        "description": spec.description,
        "format": spec.format,
        "splits": ", ".join(spec.splits),
        "licence": spec.licence,
        "citation": spec.citation,
        "homepage": spec.homepage,
        "data-dir": f"{folder} (downloaded: {_download_state(spec, cache_dir)})",
        "layout": spec.layout_note,
    }
    for key, value in fields.items():
        console.print(f"[bold]{key}:[/bold] {escape(value)}")
    console.print("[bold]files:[/bold]")
    for file_spec in spec.files:
        for line in _describe_file(file_spec):
            console.print(f"  {escape(line)}")


@app.command(cls=Command)
def download(
    name: CorpusName,
    cache_dir: CacheDir = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if the files are present.")] = False,
    mirror: Annotated[
        str | None,
        typer.Option(help="A mirror keeping the upstream paths, e.g. http://host:8080 or file:///srv/mirror."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a connection or for data.")] = 30.0,
    verbose: Verbose = False,
) -> None:
    """Download a corpus, verify its checksums and print the folder to pass as --data-dir.

    Files already there with the right checksum are kept (--force downloads them again).

    Example: treeseq corpora download sst && treeseq train tree --data-dir ~/.cache/treeseq/corpora/sst --output runs/sst.pt
    """
    with cli_errors(verbose):
        spec = get_corpus(name)
        if mirror is not None:
            spec = _download().with_mirror(spec, mirror)
        folder = _download().download_corpus(spec, cache_dir, force=force, timeout=timeout, report=_print_report)
    console.print(escape(str(folder)))


def _download_state(spec: CorpusSpec, cache_dir: Path | None) -> str:
    missing = len(_download().missing_files(spec, cache_dir))
    total = len(spec.targets)
    if missing == 0:
        return "yes"
    return "no" if missing == total else f"partial ({total - missing}/{total} files)"


def _sha_text(sha256: str | None) -> str:
    return f"sha256 {sha256}" if sha256 else "sha256 unknown (computed and shown when downloaded)"


def _describe_file(spec: FileSpec) -> list[str]:
    if not spec.is_archive:
        return [f"{spec.target}  <-  {spec.url}  {_sha_text(spec.sha256)}"]
    lines = [f"{spec.url}  (zip archive, {_sha_text(spec.sha256)}; not kept after extraction)"]
    lines += [f"  {m.target}  <-  {m.member}  {_sha_text(m.sha256)}" for m in spec.members]
    return lines


def _print_report(result: Any) -> None:  # a treeseq.corpora.download.FileReport
    action = "downloaded" if result.downloaded else "already present"
    if result.verified:
        err_console.print(f"{escape(result.target)}: {action}, sha256 ok", soft_wrap=True)
        return
    err_console.print(
        f"[yellow]warning:[/yellow] {escape(result.target)}: {action}, but no sha256 is known so it could not be "
        f"verified; computed sha256 {result.sha256}",
        soft_wrap=True,
    )


def _short(licence: str) -> str:
    """The licence's first clause for the table; `info` shows it whole."""
    head = licence.split(";")[0].split(" (")[0].strip()
    return head if len(head) <= 40 else head[:39] + "…"
