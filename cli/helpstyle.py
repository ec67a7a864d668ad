"""Every command's `-h` in one style.

Typer renders what each option declares; left alone, defaults show in two styles (`[default: auto]`
after the help, `(default: 10)` inside it), on/off flags carry a `<bool>` type as if they took a
value, long choice lists wrap mid-word in the type column, and docstrings keep their source line
breaks. `Command` (every command's class) settles it once, when the command is built:

- a default is written into the help as `(default: X)`; an on/off pair names the one that holds
  (`(default: --no-resume)`); a plain switch is off unless given and shows none;
- flags show no type; a choice list longer than `CHOICES_WIDTH` shows as the option's name in
  capitals (the help lists the choices);
- the command's description is reflowed: a paragraph's lines are joined, paragraphs kept.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Any

from typer.core import TyperCommand

CHOICES_WIDTH = 24


def default_text(option: Any) -> str | None:
    """How an option's default reads in its help; None when it has none to show."""
    default = option.default
    if option.is_flag and option.secondary_opts:
        return option.opts[0] if default else option.secondary_opts[0]
    if option.is_flag or default is None or callable(default) or option.required:
        return None
    if isinstance(default, enum.Enum):
        default = default.value
    if isinstance(default, (list, tuple)):
        return ", ".join(map(str, default)) if default else None
    return str(default) if not isinstance(default, Path) else default.as_posix()


def polish_option(option: Any, defaults: dict[str, Any] | None = None) -> None:
    """One option's help in the common style (see the module docstring); `option` is a Typer option.
    `defaults`: what an option whose own default is None (resolved later, per family) defaults to."""
    help_text = " ".join((option.help or "").split())
    shown = default_text(option)
    if shown is None and option.default is None and (defaults or {}).get(option.name) is not None:
        shown = str(defaults[option.name])  # type: ignore[index]
    if shown is not None and "default:" not in help_text and (option.show_default is not False or option.default is None):
        help_text = f"{help_text[:-1]} (default: {shown})." if help_text.endswith(".") else f"{help_text} (default: {shown})"
    option.help = help_text
    option.show_default = False
    if option.is_flag:
        option.metavar = ""
    elif "|" in (shown_type := str(option.display_type(None) or "")) and len(shown_type) > CHOICES_WIDTH:
        option.metavar = (option.name or "value").upper()


def reflow(text: str) -> str:
    """A docstring's paragraphs, each on one line (blank lines between paragraphs kept)."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


class Command(TyperCommand):
    """A Typer command whose help follows the common style."""

    defaults: dict[str, Any] = {}  # noqa: RUF012 (read only; see with_defaults)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.help:
            self.help = reflow(self.help)
        for param in self.params:
            if param.param_type_name == "option":  # Typer's options (its own click), not arguments
                polish_option(param, self.defaults)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            polish_option(option)
        return option

    @classmethod
    def with_defaults(cls, defaults: dict[str, Any]) -> type[Command]:
        """This class with the defaults of options that are None on the command line (a family's model
        defaults for `train FAMILY`)."""
        return type("Command", (cls,), {"defaults": dict(defaults)})
