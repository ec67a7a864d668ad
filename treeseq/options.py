"""Each family's options for loading, predicting, generating and evaluating, declared once.

Every surface derives from these declarations: `treeseq.load(**options)` and `treeseq.evaluate` check
their options here, the predicting commands build their flags from them (cli/predicting.py
`predict_command`) and the HTTP service its request models (treeseq/serve/app.py), so an option, its
default, its bounds and every check across options are written once, and those surfaces refuse the
same things with the same sentence. In Python, the translator's decoding options and the language
model's generation are checked here too; other families' `predict` keywords are plain Python
arguments. The spaCy components take the options of the "spacy" surface (the translator's beam and
n-best) through their factories' signatures.

This module is plain Python (no torch), so the command line can read it when it starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from treeseq.errors import ConfigError

Stage = Literal["load", "predict", "generate", "evaluate"]
Surface = Literal["cli", "http", "spacy"]
ALL_SURFACES: frozenset[str] = frozenset({"cli", "http", "spacy"})
CLI_HTTP: frozenset[str] = frozenset({"cli", "http"})  # spaCy's components cut their own docs and keep their factories' options

# Names the library's registries and configs start with (the registries may gain more at run time).
TREE_KINDS = ("rnn", "rntn", "binary-lstm", "childsum-lstm")
RECURRENT_CELLS = ("lstm", "gru", "rnn", "irnn")
ATTENTION_KINDS = ("bahdanau", "dot", "general")
MAX_GENERATED = 10_000  # the most units `generate` makes a sample


@dataclass(frozen=True)
class Option:
    """One option: its Python keyword, type, default, help, bounds or choices, where it applies and which
    surfaces offer it (all by default); `flag` is its command-line spelling when not `--name-with-dashes`."""

    name: str
    kind: type
    default: Any
    help: str
    stages: tuple[Stage, ...] = ("predict",)
    low: float | None = None  # inclusive
    high: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound
    choices: tuple[str, ...] | None = None
    flag: str | None = None
    short: str | None = None
    surfaces: frozenset[str] = ALL_SURFACES

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def problem(self, value: Any) -> str | None:
        """What is wrong with a value of this option, in one sentence; None when it is fine."""
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        fits = {bool: isinstance(value, bool), int: number and isinstance(value, int), float: number,
                str: isinstance(value, str)}.get(self.kind, True)  # fmt: skip
        if not fits:
            return f"{self.name} must be {_kind_name(self.kind)}, got {value!r}"
        if number and self.kind is not bool:
            if not math.isfinite(value):
                return f"{self.name} must be a finite number, got {value!r}"
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high) or (
                    self.above is not None and value <= self.above):  # fmt: skip
                return f"{self.name} must be {self.range_text()}, got {_number(value)}"
        if self.choices is not None and value not in self.choices:
            return f"{self.name} {value!r}: expected one of {', '.join(self.choices)}"
        return None

    def bounds_text(self) -> str:
        """The bounds in words, for help texts ('' when there are none)."""
        low = f"above {_number(self.above)}" if self.above is not None else (f"at least {_number(self.low)}" if self.low is not None else "")
        high = f"at most {_number(self.high)}" if self.high is not None else ""
        if self.low is not None and self.high is not None:
            return f"From {_number(self.low)} to {_number(self.high)}"
        return ", ".join(p for p in (low, high) if p).capitalize()

    def range_text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"from {_number(self.low)} to {_number(self.high)}"
        parts = []
        if self.above is not None:
            parts.append(f"> {_number(self.above)}")
        if self.low is not None:
            parts.append(f">= {_number(self.low)}")
        if self.high is not None:
            parts.append(f"<= {_number(self.high)}")
        return " and ".join(parts)


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


Check = Callable[[dict[str, Any]], "str | None"]


@dataclass(frozen=True)
class FamilyOptions:
    """A family's options and the checks across them (each takes the options with their defaults filled
    in and returns a problem sentence or None)."""

    family: str
    command: str  # the command that predicts with this family
    options: tuple[Option, ...] = ()
    checks: tuple[tuple[Stage, Check], ...] = field(default=())

    def of(self, stage: Stage, surface: str | None = None) -> tuple[Option, ...]:
        return tuple(o for o in self.options if stage in o.stages and (surface is None or surface in o.surfaces))

    def names(self, stage: Stage) -> tuple[str, ...]:
        return tuple(o.name for o in self.of(stage))

    def defaults(self, stage: Stage) -> dict[str, Any]:
        return {o.name: o.default for o in self.of(stage)}

    def check(self, stage: Stage, given: dict[str, Any], spell: Callable[[str], str] | None = None) -> dict[str, Any]:
        """The given options (None meaning not given) checked: names this family takes at this stage, each
        value, then the checks across them. Returns the options with the defaults filled in.

        Args:
            spell: how the surface spells an option in its messages (the command line: `--n-best`);
                by default its Python name.

        Raises:
            ConfigError: one sentence, the same on every surface (each spelling the options its way).
        """
        spell = spell or (lambda name: name)
        declared = {o.name: o for o in self.of(stage)}
        given = {k: v for k, v in given.items() if v is not None}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            where = {"load": "", "predict": "", "generate": " to generate", "evaluate": " to evaluate"}[stage]
            takes = f"takes {', '.join(map(spell, declared))}" if declared else "takes no options"
            owners = [f.family for f in FAMILIES.values() if f.family != self.family and unknown[0] in f.names(stage)]
            if owners:  # the option of another family: say whose
                raise ConfigError(f"{spell(unknown[0])} applies to {' and '.join(owners)} models; this is a "
                                  f"{self.family} model (it {takes}{where})")  # fmt: skip
            raise ConfigError(f"a {self.family} model does not take {', '.join(map(spell, unknown))}{where} ({takes})")
        for name, value in given.items():
            problem = declared[name].problem(value)
            if problem is not None:
                raise ConfigError(spell(name) + problem[len(name):])
        filled = {**self.defaults(stage), **given}
        for when, check in self.checks:
            problem = check(filled) if when == stage else None
            if problem is not None:
                raise ConfigError(problem)
        return filled


def _kind_name(kind: type) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(kind, kind.__name__)


def _n_best_at_most_beam(options: dict[str, Any]) -> str | None:
    if options["n_best"] > options["beam"]:
        return f"beam size {options['beam']} and n-best {options['n_best']}: need 1 <= n-best <= beam"
    return None


MAX_LENGTH = Option("max_length", int, None, "Longest input line accepted: tokens (subwords for translators); "
                    "default: the model's (300 for parsing, 1,000 otherwise).", stages=("load",), low=1)  # fmt: skip
WORKERS = Option("workers", int, 1, "Parser batches run at once by this many threads (set OMP_NUM_THREADS=1 with 2+).",
                 stages=("load",), low=1, surfaces=frozenset({"cli"}))  # fmt: skip
LIMIT = Option("limit", int, None, "Evaluate on a random sample of N examples of the split (drawn with seed 0: the same "
               "N every time; SST's files are sorted by label, so their first lines are no fair slice).",
               stages=("evaluate",), low=1)  # fmt: skip
BEAM = Option("beam", int, 5, "Beam size (1: greedy).", stages=("predict", "evaluate"), low=1, high=64)

FAMILIES: dict[str, FamilyOptions] = {
    "tree": FamilyOptions("tree", "classify", (
        MAX_LENGTH, WORKERS, LIMIT,
        Option("spacy_model", str, None, "Parse raw text with this spaCy pipeline (dependency trees).", stages=("load",),
               flag="--spacy-model", surfaces=frozenset({"cli"})),
        Option("brackets", bool, False, "The lines are bracketed trees, e.g. (X (X The) (X film)), labelled as given "
               "(their labels are ignored).", flag="--trees", surfaces=CLI_HTTP),
        Option("parse", bool, False, "Re-parse each sentence from its raw text with the archive's parser (or spaCy "
               "pipeline) and score against the gold labels (phrases: matched spans only).", stages=("evaluate",),
               surfaces=frozenset({"cli"})),
    )),  # fmt: skip
    "parser": FamilyOptions("parser", "parse", (MAX_LENGTH, WORKERS, LIMIT)),
    "tagger": FamilyOptions("tagger", "tag", (
        MAX_LENGTH, LIMIT,
        Option("tokenized", bool, False, "Text is already tokenized: split on whitespace, not spaCy.", surfaces=CLI_HTTP),
    )),  # fmt: skip
    "classifier": FamilyOptions("classifier", "classify", (MAX_LENGTH, LIMIT)),
    "translator": FamilyOptions("translator", "translate", (
        MAX_LENGTH, BEAM, LIMIT,
        Option("n_best", int, 1, "Hypotheses per sentence (<= beam).", low=1, high=64),
        Option("alpha", float, 0.6, "Length penalty exponent (GNMT; 0: none).", low=0, high=10, surfaces=CLI_HTTP),
        Option("max_len_ratio", float, 1.5, "Output budget: ratio x source subwords + 10.", above=0, high=10,
               surfaces=CLI_HTTP),
        Option("attention", bool, False, "Keep each hypothesis's attention matrix (target pieces x source pieces).",
               surfaces=frozenset({"cli", "http"})),
    ), checks=(("predict", _n_best_at_most_beam),)),  # fmt: skip
    "lm": FamilyOptions("lm", "score", (
        MAX_LENGTH, LIMIT,
        Option("prompt", str, "", "Text to continue (default: start a new line).", stages=("generate",), short="-p"),
        Option("samples", int, 1, "How many samples.", stages=("generate",), low=1, high=1000, short="-n"),
        Option("max_tokens", int, 50, f"Most units generated per sample (at most {MAX_GENERATED:,}; a sample stops "
               "earlier at the end of a line).", stages=("generate",), low=1, high=MAX_GENERATED),
        Option("temperature", float, 1.0, "Softmax temperature; 0 is greedy.", stages=("generate",), low=0, high=100),
        Option("top_k", int, 0, "Sample among the K most likely units only (0: all).", stages=("generate",), low=0),
        Option("top_p", float, 1.0, "Nucleus sampling: the smallest set of units whose probability reaches P (1: all).",
               stages=("generate",), above=0, high=1),
        Option("seed", int, None, "Random seed: the same seed gives the same samples (default: a fresh one).",
               stages=("generate",), low=0, high=2**64 - 1),
    )),  # fmt: skip
}


def family_options(family: str) -> FamilyOptions:
    """The declaration of a family.

    Raises:
        ConfigError: an unknown family.
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")
    return FAMILIES[family]
