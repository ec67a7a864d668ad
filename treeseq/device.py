"""Device resolution and seeding: done once, in the CLI or the engine."""

from __future__ import annotations

import logging
import random

import torch

from treeseq.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """Turn `auto`, `cpu`, `cuda` or `cuda:N` into a torch.device.

    Raises:
        ConfigError: the name is unknown or asks for CUDA on a machine without it.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available on this machine (use cpu or auto)")
        return torch.device(name)
    raise ConfigError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N")


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators (all devices)."""
    random.seed(seed)
    torch.manual_seed(seed if seed < 2**64 else seed - 2**64)  # a 64-bit seed plus a data-parallel rank wraps


def rng_state() -> dict:
    """The generators' states, in a form `torch.load(weights_only=True)` accepts."""
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what `rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
_warned: set[str] = set()


def cpu_supports(dtype: torch.dtype) -> bool:
    """Whether this CPU runs oneDNN's reduced-precision kernels (the RNN primitives need them)."""
    if dtype == torch.bfloat16:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if dtype == torch.float16:
        return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    return True


def autocast_dtype(device_type: str, precision: str) -> torch.dtype | None:
    """The autocast dtype for a precision name, or None for fp32.

    On a CPU without bf16 (or fp16) units oneDNN has no reduced-precision RNN kernels, so such a CPU
    runs fp32 instead, with a warning (once per precision).

    Raises:
        ConfigError: an unknown precision name.
    """
    if precision not in _DTYPES:
        raise ConfigError(f"precision {precision!r}: expected one of {', '.join(_DTYPES)}")
    dtype = _DTYPES[precision]
    if dtype is not None and device_type == "cpu" and not cpu_supports(dtype):
        if precision not in _warned:
            _warned.add(precision)
            logging.getLogger(__name__).warning("this CPU has no %s units: running in fp32 instead", precision)
        return None
    return dtype


def check_inference_precision(precision: str) -> None:
    """Loaded models predict in fp32 or bf16.

    Raises:
        ConfigError: any other precision name.
    """
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"precision {precision!r}: expected fp32 or bf16")


def autocast(device_type: str, precision: str) -> torch.autocast:
    """`torch.autocast` for a precision name (disabled for fp32, and for bf16/fp16 where unsupported)."""
    dtype = autocast_dtype(device_type, precision)
    return torch.autocast(device_type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def epoch_rng(seed: int, epoch: int) -> random.Random:
    """The random stream of one epoch's batch order: a function of (seed, epoch) alone, so that a
    resumed run draws the same batches (every family's `train_batches` uses it)."""
    return random.Random(seed * 1_000_003 + epoch)
