"""`treeseq average`: the element-wise mean of several archives' weights, as one archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from treeseq.cli.common import Verbose, cli_errors, console


def average(
    archives: Annotated[list[Path], typer.Argument(help="Archives of one family, architecture and vocabulary (an ensemble archive counts as its members).", dir_okay=False, show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the averaged archive.", dir_okay=False, show_default=False)],
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file at --output.")] = False,
    verbose: Verbose = False,
) -> None:
    """Average the weights of model archives into one (checkpoint averaging), e.g. a run's last epochs.

    Keep the last K epochs' archives while training with --set train.keep_last=K (each <stem>.epochN.pt),
    then average them; the result is an ordinary archive of the family that every command takes.

    Example: treeseq average -o runs/de-en.avg.pt runs/de-en.epoch13.pt runs/de-en.epoch14.pt runs/de-en.epoch15.pt
    """
    with cli_errors(verbose):
        from treeseq.api import average as run  # noqa: PLC0415 (torch loads only when a command runs)

        written = run(archives, output, overwrite=overwrite)
        console.print(f"averaged {len(archives)} archive(s) into {written}", markup=False, highlight=False)
