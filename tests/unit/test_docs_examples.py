"""Every example in the README and the docs runs, and prints what the page says it prints.

The pages: README.md, docs/*.md and docs/experiments/*.md (the experiments pages hold the commands
behind the figures; their commands that train for an hour are only checked for their flags, but any
Python example or predicting command there runs like the others).

Each page runs in a folder of its own (tests/unit/conftest.py): `runs/` holds small models trained
on the samples under the names the docs use (`sst.pt` with its parser, `parser.pt`, `ewt.pt`,
`atis.pt`, `intent.pt`, `de-en.pt`, `lm.pt`), `corpora/` is this repository's, the files
`sentences.txt`, `german.txt` and `in.conllu` are there to read, and `../shared/corpora/` maps the
real corpora's names (`sst`, `atis`, `ud-english-ewt`, `multi30k`, `multi30k-en`) onto the samples.
An archive a page trains (`treeseq.train(..., "runs/x.pt")`) is removed from its folder first, as
it would not be there for a reader either.

The convention, one for every page:

- **Python** (```python): a page's blocks run in order in one namespace. What a `print` prints is
  written beside it, `print(x)  # -> text`, or in a comment right below the statement,
  `# -> first line` followed by `#    next line` continuation lines. The expectation is all that
  the statement prints while the page runs, line by line (a `print` in a loop of three shows three
  lines). In the expected text `...` stands for anything, such as the figures of a trained model
  (doctest's ELLIPSIS; runs of whitespace compare equal). Every `print` in an example carries an
  expectation and every expectation must be printed. `assert`s check the rest.
- **Console** (```console): `$ treeseq ...` lines (a trailing `\\` continues a line), each followed
  by what it prints, matched the same way; run through the command line (Typer's CliRunner) in the
  page's folder, exit status 0.
- **Shell** (```bash, ```sh or unlabelled): tests/cli/test_readme_commands.py checks that every
  `treeseq` command exists with the flags shown. Here the cheap ones also run, in page order: the
  predicting, evaluating and inspecting commands (classify, parse, tag, translate, score, generate,
  evaluate, curve, average, corpora list/info) whose every input (models, `-i`, `--data-dir`, `<`
  redirections, metrics logs) exists in the page's folder; each must exit 0. Training, serving and
  downloading commands, and lines with shell variables, are not run.

Training in an example runs as written with three limits for the suite's two cores: at most three
epochs, one job at a time, and 16-unit layers where the example names no `hidden_size`. An example
that calls the HTTP service (`httpx` to http://127.0.0.1:8000) reaches a real server on a free port
that serves the folder's models under their names, as `treeseq serve --model sst=runs/sst.pt ...` would.
"""

from __future__ import annotations

import ast
import doctest
import io
import re
import shlex
import sys
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "experiments").glob("*.md"))]
CHECKER, FLAGS = doctest.OutputChecker(), doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
RUN_COMMANDS = {"classify", "parse", "tag", "translate", "score", "generate", "evaluate", "curve", "average", "corpora"}
READ_OPTIONS = {"-m", "--model", "-i", "--input", "--data-dir", "--score-references", "--config", "--parser"}
TRAINING_LIMITS = {"epochs": 3, "jobs": 1}
# at least this many commands of these pages run (a renamed model or file must not silently skip them)
COMMANDS_RUN = {"README.md": 14, "docs/trees.md": 6, "docs/parsing.md": 6, "docs/tagging.md": 5, "docs/classification.md": 4,
                "docs/translation.md": 8, "docs/language-models.md": 5}


# ---------------------------------------------------------------------------------------------------
# Reading a page


@dataclass
class Block:
    language: str
    code: str
    line: int  # the page line of the block's first code line


def fenced_blocks(text: str) -> list[Block]:
    """The page's fenced code blocks (also indented ones, inside list items), dedented."""
    blocks: list[Block] = []
    lines, index = text.splitlines(), 0
    while index < len(lines):
        stripped = lines[index].lstrip()
        if stripped.startswith("```"):
            indent, language = len(lines[index]) - len(stripped), stripped[3:].strip().split(" ")[0]
            end = index + 1
            while end < len(lines) and not lines[end].lstrip().startswith("```"):
                end += 1
            body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[index + 1 : end]]
            blocks.append(Block(language, "\n".join(body) + "\n", index + 2))
            index = end + 1
        else:
            index += 1
    return blocks


# ---------------------------------------------------------------------------------------------------
# Python examples


@dataclass
class Expectation:
    want: str
    line: int  # block line of the statement it belongs to
    outputs: list[str] = field(default_factory=list)  # what the statement printed, call by call


@dataclass
class PythonExample:
    source: str
    name: str
    expectations: dict[tuple[int, int], Expectation] = field(default_factory=dict)  # statement span -> expectation
    statements: list[tuple[int, int]] = field(default_factory=list)


def parse_python(block: Block, page: str) -> PythonExample:
    """The block and its `# -> ` expectations, each attached to the innermost statement it follows."""
    example = PythonExample(block.code, f"{page} (line {block.line})")
    example.statements = sorted({(n.lineno, n.end_lineno or n.lineno) for n in ast.walk(ast.parse(block.code))
                                 if isinstance(n, ast.stmt)})  # fmt: skip
    tokens = list(tokenize.generate_tokens(io.StringIO(block.code).readline))
    layout = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    code_rows = {t.start[0] for t in tokens if t.type not in layout}
    current, previous_row = None, -1
    for token in (t for t in tokens if t.type == tokenize.COMMENT):
        row, text = token.start[0], token.string
        if text.startswith("# -> ") or text == "# ->":
            anchor = row if row in code_rows else max((r for r in code_rows if r < row), default=0)
            span = innermost(example.statements, anchor)
            assert span is not None, f"{example.name}: `# ->` at line {row} follows no statement"
            assert span not in example.expectations, f"{example.name}: two expectations for the statement at line {span[0]}"
            current = example.expectations[span] = Expectation(text[5:], span[0])
        elif current is not None and text.startswith("#    ") and row not in code_rows and row == previous_row + 1:
            current.want += "\n" + text[5:]  # a continuation line, right below the expectation
        else:
            current = None
        previous_row = row
    return example


def innermost(statements: list[tuple[int, int]], line: int) -> tuple[int, int] | None:
    containing = [s for s in statements if s[0] <= line <= s[1]]
    return min(containing, key=lambda s: (s[1] - s[0], -s[0])) if containing else None


class Prints:
    """A `print` for the examples: records what each statement of an example prints."""

    def __init__(self) -> None:
        self.example: PythonExample | None = None
        self.failures: list[str] = []

    def __call__(self, *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False) -> None:
        frame = sys._getframe(1)
        while frame is not None and self.example is not None and frame.f_code.co_filename != self.example.name:
            frame = frame.f_back  # type: ignore[assignment]
        if file is not None or frame is None or self.example is None:
            print(*args, sep=sep, end=end, file=file, flush=flush)
            return
        got = (" " if sep is None else sep).join(str(a) for a in args)
        span = innermost(self.example.statements, frame.f_lineno)
        expected = self.example.expectations.get(span) if span else None  # type: ignore[arg-type]
        source_line = self.example.source.splitlines()[frame.f_lineno - 1].strip()
        if expected is None:
            self.failures.append(f"{self.example.name}, example line {frame.f_lineno}: `{source_line}` printed "
                                 f"{got!r} but shows no `# -> ` expectation")  # fmt: skip
            return
        expected.outputs.append(got)


def run_python(block: Block, page: str, namespace: dict, prints: Prints) -> None:
    example = parse_python(block, page)
    prints.example = example
    try:
        exec(compile(example.source, example.name, "exec"), namespace)  # noqa: S102 (our own docs)
    finally:
        prints.example = None
    lines = example.source.splitlines()
    for expectation in example.expectations.values():
        got = "\n".join(expectation.outputs)
        where = f"{example.name}, example line {expectation.line}: `{lines[expectation.line - 1].strip()}`"
        if not expectation.outputs:
            prints.failures.append(f"{where} expects {expectation.want!r}, but nothing was printed there")
        elif not CHECKER.check_output(expectation.want + "\n", got + "\n", FLAGS):
            prints.failures.append(f"{where}\n  the page shows: {expectation.want!r}\n  it printed:     {got!r}")


def limited_training(train: Callable[..., Any]) -> Callable[..., Any]:
    """treeseq.train with the suite's limits: at most 3 epochs and 1 job, 16-unit layers unless given."""

    def run(family: str, data_dir: Any, output: Any, **options: Any) -> Any:
        for name, most in TRAINING_LIMITS.items():
            if name in options:
                options[name] = min(options[name], most)
        options.setdefault("epochs", TRAINING_LIMITS["epochs"])
        options.setdefault("hidden_size", 16)
        options.setdefault("progress", False)
        options.setdefault("device", "cpu")
        return train(family, data_dir, output, **options)

    return run


# ---------------------------------------------------------------------------------------------------
# Commands


@dataclass
class Command:
    words: list[str]  # after `treeseq`
    stdin: str | None = None  # text, or None
    stdin_file: str | None = None
    stdout_file: str | None = None
    shown: str | None = None  # console blocks: the output the page shows
    line: int = 0


def shell_commands(block: Block) -> Iterator[Command]:
    """`treeseq` commands of a shell block, with their echo pipes and redirections."""
    for number, line in enumerate(block.code.replace("\\\n", " ").splitlines()):
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#") or "treeseq" not in line:
            continue
        command = parse_command(line)
        if command is not None:
            command.line = block.line + number
            yield command


def parse_command(line: str) -> Command | None:
    parts = [p.strip() for p in line.split(" | ")]
    treeseq_parts = [p for p in parts if "treeseq " in p or p.startswith("treeseq")]
    if len(treeseq_parts) != 1 or "$" in line or "python " in line:
        return None
    try:
        words = shlex.split(treeseq_parts[0])
    except ValueError:
        return None
    if "treeseq" not in words:
        return None
    words = words[words.index("treeseq") + 1 :]
    command = Command([])
    rest = iter(words)
    for word in rest:
        if word == "<":
            command.stdin_file = next(rest, None)
        elif word == ">":
            command.stdout_file = next(rest, None)
        else:
            command.words.append(word)
    before = parts[: parts.index(treeseq_parts[0])]
    if before:
        echoed = shlex.split(before[-1])
        if echoed[:1] != ["echo"] or len(before) > 1:
            return None
        command.stdin = " ".join(echoed[1:]) + "\n"
    return command


def console_commands(block: Block) -> Iterator[Command]:
    """`$ treeseq ...` lines of a console block, each with the output shown below it."""
    lines, index = block.code.splitlines(), 0
    while index < len(lines):
        if not lines[index].startswith("$ "):
            index += 1
            continue
        start, text = index, lines[index][2:]
        while text.endswith("\\"):
            index += 1
            text = text[:-1] + " " + lines[index].strip()
        index += 1
        shown = []
        while index < len(lines) and not lines[index].startswith("$ "):
            shown.append(lines[index])
            index += 1
        command = parse_command(text)
        assert command is not None, f"line {block.line + start}: not a treeseq command: {text}"
        command.shown, command.line = "\n".join(shown).rstrip("\n"), block.line + start
        yield command


def inputs_exist(command: Command, folder: Path) -> bool:
    """Whether every file the command reads is in the folder (else it is one for the reader's own data)."""
    words = command.words
    if not words or words[0] not in RUN_COMMANDS or "-h" in words or "--help" in words:
        return False
    if words[0] == "corpora":
        return words[1:2] in (["list"], ["info"])
    reads = [words[i + 1] for i, w in enumerate(words[:-1]) if w in READ_OPTIONS]
    if words[0] in ("curve", "average"):
        takes_value = {"-o", "--output", "--metric", "--title", "-f", "--format"}
        reads += [w for i, w in enumerate(words[1:], 1) if not w.startswith("-") and words[i - 1] not in takes_value]
    if command.stdin_file:
        reads.append(command.stdin_file)
    return bool(reads) and all((folder / path).exists() for path in reads)


def run_command(command: Command, folder: Path, runner: CliRunner) -> str:
    from treeseq.cli.main import app

    stdin = command.stdin
    if command.stdin_file:
        stdin = (folder / command.stdin_file).read_text(encoding="utf-8")
    result = runner.invoke(app, command.words, input=stdin if stdin is not None else "", catch_exceptions=True)
    shown = " ".join(["treeseq", *command.words])
    assert result.exit_code == 0, f"line {command.line}: `{shown}` exited {result.exit_code}:\n{result.output}{result.exception or ''}"
    if command.stdout_file:
        (folder / command.stdout_file).write_text(result.stdout, encoding="utf-8")
    return result.stdout


# ---------------------------------------------------------------------------------------------------
# The tests


def trained_by(text: str) -> set[str]:
    """Archives the page's Python examples train (removed from its folder before it runs)."""
    return set(re.findall(r"treeseq\.train\([^)]*?[\"'](runs/[^\"']+\.pt)[\"']", text, re.S))


@pytest.fixture
def http_to_app(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Callable[[Path], None]:
    """Serve the folder's models as `treeseq serve` would, and send httpx calls to 127.0.0.1:8000 there."""

    def serve(folder: Path) -> None:
        import httpx
        from test_serve import Server

        import treeseq
        from treeseq.serve.app import create_app

        models = {p.stem: treeseq.load(p) for p in sorted((folder / "runs").glob("*.pt")) if "." not in p.stem}
        server = Server(create_app(models))
        url = server.__enter__()
        request.addfinalizer(lambda: server.__exit__(None, None, None))
        for verb in ("get", "post"):
            real = getattr(httpx, verb)

            def call(address: str, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
                return _real(address.replace("http://127.0.0.1:8000", url, 1), *args, **kwargs)

            monkeypatch.setattr(httpx, verb, call)

    return serve


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_runs_and_prints_what_the_page_shows(page: Path, docs_folder: Callable[[str], Path],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          http_to_app: Callable[[Path], None]) -> None:  # fmt: skip
    import treeseq
    from treeseq.api import train

    text = page.read_text(encoding="utf-8")
    blocks = fenced_blocks(text)
    page_name = str(page.relative_to(ROOT))
    if not blocks:
        pytest.skip("no examples")
    folder = docs_folder(page_name.replace("/", "-").removesuffix(".md"))
    for archive in trained_by("".join(b.code for b in blocks if b.language == "python")):
        for stale in (folder / "runs").glob(Path(archive).stem + ".*"):
            stale.unlink()
    monkeypatch.chdir(folder)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setattr(treeseq, "train", limited_training(train))
    if "httpx" in text:
        http_to_app(folder)
    prints, namespace, runner, ran = Prints(), {"__name__": "__docs__"}, CliRunner(), 0
    namespace["print"] = prints
    for block in blocks:
        if block.language == "python":
            run_python(block, page_name, namespace, prints)
        elif block.language == "console":
            for command in console_commands(block):
                got = run_command(command, folder, runner)
                assert command.shown is not None
                if not CHECKER.check_output(command.shown + "\n", got.rstrip("\n") + "\n", FLAGS):
                    prints.failures.append(f"{page_name}:{command.line}: `treeseq {' '.join(command.words)}`\n"
                                           f"  the page shows:\n{command.shown}\n  it printed:\n{got}")  # fmt: skip
                ran += 1
        elif block.language in ("", "bash", "sh"):
            for command in shell_commands(block):
                if inputs_exist(command, folder):
                    run_command(command, folder, runner)
                    ran += 1
    assert not prints.failures, "\n\n".join(prints.failures)
    assert ran >= COMMANDS_RUN.get(page_name, 0), f"only {ran} of the page's commands ran: are its models and files named as in the folder?"


def test_the_convention_catches_what_it_should(tmp_path: Path) -> None:
    """A print without an expectation, a wrong one and one never printed are all failures."""
    prints = Prints()
    code = 'for word in ["a", "b"]:\n    print(word)  # -> a\nprint("x" * 3)\n# -> x...\n#    y\nif False:\n    print(1)  # -> 1\nprint(2)\n'
    run_python(Block("python", code, 1), "page.md", {"print": prints}, prints)
    messages = "\n".join(prints.failures)
    assert "it printed:     'a\\nb'" in messages  # the loop prints two lines, the page shows one
    assert "'xxx'" in messages  # the block expectation has a second line
    assert "expects '1', but nothing was printed" in messages
    assert "printed '2' but shows no" in messages
    assert len(prints.failures) == 4
    passing = Prints()
    code = 'for word in ["a", "b"]:\n    print(word, 0.25)\n# -> a ...\n#    b 0.25\nprint("x")  # -> x\n'
    run_python(Block("python", code, 1), "page.md", {"print": passing}, passing)
    assert passing.failures == []
