"""Every command the README and the docs show exists, with the flags shown, and every link between the
pages leads somewhere (the walkthrough cannot drift).

Commands are read from shell blocks (```bash, ```sh or unlabelled), from console blocks (`$ treeseq
...` lines) and from inline code that starts with `treeseq ` (tables, prose). The cheap ones also run,
with their output checked: tests/unit/test_docs_examples.py.
"""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

import pytest
import typer

from treeseq.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "experiments").glob("*.md"))]
INLINE = re.compile(r"(?<!`)`(treeseq [^`]+)`(?!`)")


def shown_commands(page: Path) -> list[list[str]]:
    """`treeseq ...` command lines in the page's code blocks and inline code (continuations joined, comments dropped)."""
    text = page.read_text(encoding="utf-8")
    lines = [line.split(" #")[0].strip() for block in shell_blocks(text) for line in block.replace("\\\n", " ").splitlines()]
    for block in console_blocks(text):
        lines += [line[2:] for line in block.replace("\\\n", " ").splitlines() if line.startswith("$ ")]
    lines += [match.group(1) for match in INLINE.finditer(prose(text))]
    out = []
    for line in lines:
        for part in re.split(r"\|", line):
            words = shlex.split(part.strip().replace("<", " ").replace(">", " "), comments=False) if part.strip() else []
            if "treeseq" in words:
                out.append(words[words.index("treeseq") + 1 :])
            elif "treeseq.cli.main" in words:  # torchrun ... -m treeseq.cli.main train ...
                out.append(words[words.index("treeseq.cli.main") + 1 :])
    return out


def prose(text: str) -> str:
    """The page without its fenced code blocks."""
    return re.sub(r"^ *```.*?^ *```", "", text, flags=re.S | re.M)


def console_blocks(text: str) -> list[str]:
    """The contents of ```console blocks."""
    return re.findall(r"^ *```console\n(.*?)^ *```", text, flags=re.S | re.M)


def shell_blocks(text: str) -> list[str]:
    """The contents of fenced code blocks that are shell (```bash, ```sh or unlabelled), also indented ones."""
    blocks, current, language, indent = [], [], None, 0
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```"):
            if language is None:
                language, current, indent = stripped[3:].strip(), [], len(line) - len(stripped)
            else:
                if language in ("", "bash", "sh"):
                    blocks.append("\n".join(current) + "\n")
                language = None
        elif language is not None:
            current.append(line[indent:] if not line[:indent].strip() else line)
    return blocks


@functools.cache
def root_command():  # noqa: ANN201 (a click group)
    return typer.main.get_command(app)


def resolve(words: list[str]):  # noqa: ANN201 (a click command)
    command = root_command()
    rest = list(words)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:  # type: ignore[attr-defined]
        command = command.commands[rest.pop(0)]  # type: ignore[attr-defined]
    return command, rest


# Pages whose code blocks show no command line (they name commands in prose, or show Python): listed, so
# that the check below never passes on a page where it found nothing to check.
WITHOUT_COMMANDS = {"testing.md", "contributing.md"}


def test_the_pages_without_commands_are_the_known_ones() -> None:
    assert {page.name for page in PAGES if not shown_commands(page)} == WITHOUT_COMMANDS


@pytest.mark.parametrize("page", [p for p in PAGES if p.name not in WITHOUT_COMMANDS], ids=lambda p: str(p.relative_to(ROOT)))
def test_shown_commands_exist_with_their_flags(page: Path) -> None:
    commands = shown_commands(page)
    assert commands, f"{page.name} shows no treeseq command: list it in WITHOUT_COMMANDS"
    for words in commands:
        command, rest = resolve(words)
        placeholder = bool(rest) and rest[0].isupper()  # `treeseq train FAMILY` in prose
        assert not hasattr(command, "commands") or not rest or rest[0].startswith("-") or placeholder, (page.name, words)
        known = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
        flags = [w.split("=")[0] for w in rest if w.startswith("-") and not re.fullmatch(r"-\d.*", w)]
        unknown = [f for f in flags if f not in known and f not in ("-h", "--help")]
        assert not unknown, (page.name, " ".join(words), unknown)


def test_the_readme_shows_commands() -> None:
    assert len(shown_commands(ROOT / "README.md")) >= 15


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    headings = re.findall(r"^#+ (.+)$", prose(page.read_text(encoding="utf-8")), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_between_pages_lead_somewhere(page: Path) -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), (page.name, target)
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), (page.name, target, sorted(anchors(linked)))


def test_the_family_pages_show_their_commands() -> None:
    for name, command in [("trees", "classify"), ("parsing", "parse"), ("tagging", "tag"), ("classification", "classify"),
                          ("translation", "translate"), ("language-models", "generate")]:  # fmt: skip
        shown = shown_commands(ROOT / "docs" / f"{name}.md")
        assert any(words[:1] == ["train"] for words in shown), name
        assert any(words[:1] == [command] for words in shown), name
        assert any(words[:1] == ["evaluate"] for words in shown), name
        assert any("--seeds" in words for words in shown), name
