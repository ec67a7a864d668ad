"""Every command's `-h` in one style: no `<bool>` on flags, a default shown for every option that has
one (as `(default: X)`, never `[default: X]`), whole sentences, and an example."""

from __future__ import annotations

import dataclasses
import re

import pytest
import typer.main
from typer.testing import CliRunner

from treeseq.cli.helpstyle import reflow
from treeseq.cli.main import app
from treeseq.cli.training import MODEL_DEFAULTS

runner = CliRunner()


def commands() -> list[tuple[list[str], object]]:
    out = []

    def walk(command: object, path: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, [*path, name])
        else:
            out.append((path, command))

    walk(typer.main.get_command(app), [])
    return out


COMMANDS = commands()


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_help_in_one_style(path: list[str], command: object) -> None:
    shown = runner.invoke(app, [*path, "-h"], env={"COLUMNS": "250", "TERM": "dumb"})
    assert shown.exit_code == 0, shown.output
    assert "<bool>" not in shown.output and "[default:" not in shown.output
    assert "Example:" in shown.output
    for param in command.params:  # type: ignore[attr-defined]
        if param.param_type_name != "option" or param.hidden:
            continue
        switch = param.is_flag and not param.secondary_opts
        if param.default is not None and not switch and not param.required:
            assert "default:" in (param.help or ""), (path, param.name, param.help)
        assert "\n" not in (param.help or "")


def test_the_shared_model_options_show_each_familys_own_defaults() -> None:
    from treeseq.api.core import _recipes

    for family, shown in MODEL_DEFAULTS.items():
        declared = _recipes(family).FAMILY
        renames = dict(declared.renames)
        model = {f.name: f.default for f in dataclasses.fields(declared.model)}
        actual = {name: model[renames.get(name, ("model", name))[1]] for name in shown}
        assert actual == shown, family
        help_text = runner.invoke(app, ["train", family, "-h"], env={"COLUMNS": "250"}).output
        assert re.search(rf"embedding size \(default: {shown['embed_dim']}\)", help_text), family


def test_descriptions_are_reflowed_into_paragraphs() -> None:
    assert reflow("One line\n    broken here.\n\n    Example: x") == "One line broken here.\n\nExample: x"
