"""What every command shares: error handling, the console, common option types."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Iterator

import typer
from rich.console import Console

from treeseq.errors import TreeseqError

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False)

DataDir = Annotated[Path, typer.Option("--data-dir", help="Folder holding the corpus files.", file_okay=False)]
ModelFile = Annotated[Path, typer.Option("--model", "-m", help="A treeseq model archive (.pt).", dir_okay=False)]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs.")]


@contextlib.contextmanager
def cli_errors(verbose: bool = False) -> Iterator[None]:
    """Turn library errors into one line on stderr and an exit code (2: bad input, 1: runtime)."""
    try:
        yield
    except TreeseqError as err:
        if verbose:
            traceback.print_exc()
        err_console.print(f"[red]error:[/red] {err}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(code=err.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(code=130) from None


def setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )


def read_inputs(texts: list[str] | None) -> tuple[list[str], str]:
    """Arguments when given, else stdin lines; returns (lines, a name for error messages)."""
    if texts:
        return list(texts), "<args>"
    return [line.rstrip("\r\n") for line in sys.stdin], "<stdin>"
