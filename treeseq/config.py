"""Configuration: frozen dataclasses, filled from defaults, then a TOML file, then command-line options."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

import tomllib

from treeseq.errors import ConfigError

Precision = Literal["fp32", "bf16", "fp16"]
OPTIMIZERS = ("adagrad", "adam", "adamw", "sgd")
SCHEDULES = ("constant", "linear", "cosine", "plateau")
# Each family's training defaults over TrainConfig's own (a config file, --set and options still win).
FAMILY_TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "tree": {},
    "parser": {"epochs": 10, "batch_size": 32, "optimizer": "adam", "lr": 2e-3, "weight_decay": 0.0, "clip_norm": 5.0},
    "tagger": {"optimizer": "adam", "lr": 2e-3, "batch_size": 32, "weight_decay": 0.0, "epochs": 20, "clip_norm": 5.0},
    "translator": {"optimizer": "adam", "lr": 1e-3, "batch_size": 4096, "weight_decay": 0.0, "epochs": 10, "clip_norm": 1.0},
    "classifier": {"optimizer": "adam", "lr": 1e-3, "batch_size": 25, "weight_decay": 0.0, "epochs": 10, "clip_norm": 5.0},
    # lm: batch_size is the number of parallel streams (few streams, many updates: measured best per
    # minute on CPU, docs/experiments/language-models.md); clipping at 0.25 as RNN language models use it
    "lm": {"optimizer": "adam", "lr": 3e-3, "batch_size": 8, "weight_decay": 0.0, "epochs": 10, "schedule": "linear",
           "clip_norm": 0.25, "fused": True},
}


@dataclass(frozen=True)
class TrainConfig:
    """What the engine needs; the same for every model family."""

    epochs: int = 10
    batch_size: int = 25
    optimizer: str = "adagrad"
    lr: float = 0.05
    weight_decay: float = 1e-4
    schedule: str = "constant"
    warmup_steps: int = 0
    plateau_decay: float = 0.5  # with schedule=plateau: lr multiplier after an epoch without improvement
    clip_norm: float = 5.0
    patience: int = 0  # epochs without dev improvement before stopping; 0 = never stop early
    seed: int = 1
    precision: str = "fp32"
    checkpoint_every: int = 0  # optimizer steps between mid-epoch checkpoints; 0 = at epoch ends
    log_every: int = 50
    fused: bool = False  # one fused kernel per optimizer step (faster, about 3x for Adam on CPU; not bit-identical)
    ema: float = 0.0  # > 0: dev is measured and the archive written with an exponential moving average of the weights (decay per step)
    limit: int = 0  # > 0: train on a seeded random sample of this many training examples (dev stays whole)
    keep_last: int = 0  # > 0: also keep the last K epochs' archives (trained weights) as <stem>.epochN.pt, to average: treeseq average

    def __post_init__(self) -> None:
        _positive(self, "epochs", "batch_size")
        if self.lr <= 0:
            raise ConfigError(f"train.lr must be > 0, got {self.lr}")
        _choice(self, "optimizer", OPTIMIZERS)
        _choice(self, "schedule", SCHEDULES)
        _choice(self, "precision", ("fp32", "bf16", "fp16"))
        if not 0 < self.plateau_decay <= 1:
            raise ConfigError(f"train.plateau_decay must be in (0, 1], got {self.plateau_decay}")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"train.ema must be in [0, 1) (0: no average), got {self.ema}")
        if self.limit < 0:
            raise ConfigError(f"train.limit must be >= 0 (0: every training example), got {self.limit}")
        if self.keep_last < 0:
            raise ConfigError(f"train.keep_last must be >= 0 (0: keep no epoch archives), got {self.keep_last}")
        check_seed(self.seed, "train.seed")


SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1  # what torch.manual_seed takes: 64 bits, signed or not


def check_seed(seed: Any, name: str = "seed") -> None:
    """Raise ConfigError unless `seed` is a whole number torch can seed with (64 bits)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{name} must be a whole number, got {seed!r}"[:200])
    if not SEED_MIN <= seed <= SEED_MAX:
        shown = f"{seed}" if abs(seed) < 10**30 else f"a number of {seed.bit_length():,} bits"
        raise ConfigError(f"{name} must fit in 64 bits ({SEED_MIN} to {SEED_MAX}), got {shown}")


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        if getattr(obj, name) < 1:
            raise ConfigError(f"{type(obj).__name__}.{name} must be >= 1, got {getattr(obj, name)}")


def _choice(obj: Any, name: str, allowed: tuple[str, ...]) -> None:
    if getattr(obj, name) not in allowed:
        raise ConfigError(f"{name} {getattr(obj, name)!r}: expected one of {', '.join(allowed)}")


def choice(obj: Any, name: str, allowed: tuple[str, ...]) -> None:
    """Raise ConfigError unless `obj.name` is one of `allowed` (for other config classes)."""
    _choice(obj, name, allowed)


C = TypeVar("C")


def build_config(cls: type[C], section: str, *layers: dict[str, Any]) -> C:
    """Fill `cls` from layers of overrides, later layers winning; None values are skipped.

    Raises:
        ConfigError: an unknown key or a value of the wrong type.
    """
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if key not in known:
                raise ConfigError(f"unknown setting {section}.{key}; known: {', '.join(sorted(known))}")
            values[key] = _coerce(value, known[key], section)
    return cls(**values)


def _coerce(value: Any, field: dataclasses.Field, section: str) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    try:
        if kind == "bool":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "str":
            return str(value)
    except ValueError:
        raise ConfigError(f"{section}.{field.name}: {value!r} is not a valid {kind}") from None
    return value


def read_config_file(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """Read a TOML config with sections such as [model], [train], [data]."""
    if path is None:
        return {}
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    for key, value in data.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: top-level key {key!r} must be a section like [train]")
    return data


def parse_overrides(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """`--set train.lr=0.01` style overrides, grouped by section."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. train.lr=0.01")
        out.setdefault(section, {})[name] = value.strip()
    return out
