"""Every command the README and the docs show exists, with the flags shown (the walkthrough cannot drift)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from treeseq.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands(page: Path) -> list[list[str]]:
    """`treeseq ...` command lines inside the page's code blocks (continuations joined, comments dropped)."""
    out = []
    for block in shell_blocks(page.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            for part in re.split(r"\|", line):
                words = shlex.split(part.strip().replace("<", " ").replace(">", " "), comments=False) if part.strip() else []
                if "treeseq" in words:
                    out.append(words[words.index("treeseq") + 1 :])
                elif "treeseq.cli.main" in words:  # torchrun ... -m treeseq.cli.main train ...
                    out.append(words[words.index("treeseq.cli.main") + 1 :])
    return out


def shell_blocks(text: str) -> list[str]:
    """The contents of fenced code blocks that are shell (```bash, ```sh or unlabelled)."""
    blocks, current, language = [], [], None
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language, current = line[3:].strip(), []
            else:
                if language in ("", "bash", "sh"):
                    blocks.append("\n".join(current) + "\n")
                language = None
        elif language is not None:
            current.append(line)
    return blocks


def resolve(words: list[str]):  # noqa: ANN201 (a click command)
    command = typer.main.get_command(app)
    rest = list(words)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:  # type: ignore[attr-defined]
        command = command.commands[rest.pop(0)]  # type: ignore[attr-defined]
    return command, rest


# Pages whose code blocks show no command line (they name commands in prose, or show Python): listed, so
# that the check below never passes on a page where it found nothing to check.
WITHOUT_COMMANDS = {"api.md", "architecture.md", "reliability.md", "trees.md"}


def test_the_pages_without_commands_are_the_known_ones() -> None:
    assert {page.name for page in PAGES if not shown_commands(page)} == WITHOUT_COMMANDS


@pytest.mark.parametrize("page", [p for p in PAGES if p.name not in WITHOUT_COMMANDS], ids=lambda p: p.name)
def test_shown_commands_exist_with_their_flags(page: Path) -> None:
    commands = shown_commands(page)
    assert commands, f"{page.name} shows no treeseq command: list it in WITHOUT_COMMANDS"
    for words in commands:
        command, rest = resolve(words)
        assert not hasattr(command, "commands") or not rest or rest[0].startswith("-"), (page.name, words)
        known = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
        flags = [w.split("=")[0] for w in rest if w.startswith("-") and not re.fullmatch(r"-\d.*", w)]
        unknown = [f for f in flags if f not in known and f not in ("-h", "--help")]
        assert not unknown, (page.name, " ".join(words), unknown)


def test_the_readme_shows_commands() -> None:
    assert len(shown_commands(ROOT / "README.md")) >= 15
