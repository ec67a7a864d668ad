"""What every command shares: error handling, the console, common option types."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Iterator, Literal, Optional, TextIO

import typer
from rich.console import Console

from treeseq.errors import ConfigError, TreeseqError

console = Console(highlight=False, soft_wrap=True, emoji=False)  # user text is never read as :emoji: codes
err_console = Console(stderr=True, highlight=False, emoji=False)

# The options of every command, each declared once.
DataDir = Annotated[Path, typer.Option("--data-dir", help="Folder holding the corpus files.", file_okay=False)]
ModelFile = Annotated[list[Path], typer.Option("--model", "-m", help="A treeseq model archive (.pt); given more than once (-m a.pt -m b.pt), the models predict as one ensemble (same family and vocabularies).", dir_okay=False, show_default=False)]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")]
Seed = Annotated[int, typer.Option(help="Random seed.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and debug logs.")]
# Predicting commands: classify, parse, tag, translate.
Texts = Annotated[Optional[list[str]], typer.Argument(help="Sentences; else --input FILE or stdin, one a line.", show_default=False)]
InputFile = Annotated[Optional[Path], typer.Option("--input", "-i", help="Read lines from this file (UTF-8, plain or .gz) instead of stdin.", dir_okay=False)]
OutputFile = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the results to this file (replaced only when all is written) instead of stdout.", dir_okay=False)]
BatchSize = Annotated[int, typer.Option("--batch-size", "-b", help="Lines read and predicted together; results are written after each batch.", min=1)]
Threads = Annotated[Optional[int], typer.Option(help="CPU threads for torch (default: torch's choice).", min=1)]
PredictPrecision = Annotated[Literal["fp32", "bf16"], typer.Option(help="fp32, or bf16 (faster on CPUs with bf16 units; elsewhere fp32 with a warning).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No messages on stderr except errors.")]
SkipBad = Annotated[bool, typer.Option("--skip-bad", help="A line that cannot be processed gets an empty record (and a message) instead of stopping; the count is reported at the end.")]
MaxLength = Annotated[Optional[int], typer.Option("--max-length", help="Longest input line accepted: tokens (subwords for translators); default: the model's (300 for parsing, 1,000 otherwise).", min=1)]


@contextlib.contextmanager
def cli_errors(verbose: bool = False) -> Iterator[None]:
    """Turn library errors into one line on stderr and an exit code (2: bad input, 1: runtime)."""
    try:
        yield
    except TreeseqError as err:
        if verbose:
            traceback.print_exc()
        from rich.text import Text  # noqa: PLC0415

        # The message quotes user input (file names, lines, tokens): shown as text, never as markup.
        err_console.print(Text.assemble(("error:", "red"), " ", str(err)), highlight=False, soft_wrap=True)
        raise typer.Exit(code=err.exit_code) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(code=130) from None


def model_family(models: list[Path]) -> str | None:
    """The family of the first archive given with --model (`treeseq.load` checks that the others match)."""
    from treeseq.checkpoint import load_archive  # noqa: PLC0415

    return load_archive(models[0]).get("task") if models else None


def setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
        force=True,
    )


def input_lines(texts: list[str] | None, path: Path | None) -> tuple[Iterable[tuple[int, str]], str]:
    """Numbered input lines, read lazily, and a name for error messages: the arguments, --input FILE, or stdin.

    Stdin is decoded and checked exactly as a file is (`<stdin>:2:5: byte 0xff is not valid UTF-8`).
    When stdin is a terminal, a line on stderr says what is expected instead of waiting silently.
    """
    from treeseq.files import decode_lines, read_lines  # noqa: PLC0415

    if texts:
        if path is not None:
            raise ConfigError("give sentences as arguments or --input FILE, not both")
        return list(enumerate(texts, start=1)), "<args>"
    if path is not None:
        return read_lines(path, allow_empty=True), str(path)
    if sys.stdin.isatty():
        err_console.print("reading sentences from the terminal, one a line (Ctrl-D ends); see --help for files", highlight=False)
    return decode_lines(sys.stdin.buffer, "<stdin>"), "<stdin>"


@contextlib.contextmanager
def output_file(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file written through a temporary one and renamed when everything is written."""
    if path is None:
        yield sys.stdout
        return
    from treeseq.files import atomic_path  # noqa: PLC0415

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        yield handle


def write_stream(model: Any, lines: Iterable[tuple[int, str]], source: str, render: Callable[[Any], str], out: TextIO,
                 batch_size: int, skip_bad: bool, quiet: bool, **options: Any) -> int:  # fmt: skip
    """Predict line by line in batches and write each rendered result (a blank line's and a skipped
    line's render of None too) as soon as its batch is done; returns how many lines were skipped."""
    skipped = 0
    batch: list[str] = []
    for item in model.predict_lines(lines, batch_size, source=source, skip_bad=skip_bad, **options):
        if item.error is not None:
            skipped += 1
            if not quiet:
                err_console.print(f"skipped {item.error}", markup=False, highlight=False, soft_wrap=True)
        batch.append(render(item.result))
        if len(batch) >= batch_size:
            out.write("".join(batch))
            out.flush()
            batch = []
    out.write("".join(batch))
    out.flush()
    if skipped and not quiet:
        err_console.print(f"{skipped} line(s) skipped (--skip-bad)", highlight=False)
    return skipped


def quiet_logs(quiet: bool) -> None:
    """--quiet: only errors on stderr (no warnings such as the bf16 fallback)."""
    if quiet:
        logging.getLogger("treeseq").setLevel(logging.ERROR)


def set_threads(threads: int | None) -> None:
    if threads:
        import torch  # noqa: PLC0415

        torch.set_num_threads(threads)
