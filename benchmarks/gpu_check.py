"""GPU readiness: each family trained for one epoch on the project's samples on CUDA (fp32, bf16, fp16)
and on the CPU, then compared, with training and prediction throughput, as JSON lines.

    python benchmarks/gpu_check.py            # on a CUDA machine, under 5 minutes on one GPU
    python benchmarks/gpu_check.py --device cpu --families tree   # a dry run of the script itself, CPU against CPU

Checks, per family and precision: the first epoch's training loss on CUDA within a tolerance of the
CPU's (fp32 1e-3 relative; bf16 and fp16 5e-2), and the CUDA model's predictions on the dev sentences
equal to the same model's predictions on the CPU (fp32; reduced precisions: at least 95% equal).
Exits 1 on any mismatch. Without CUDA it says so in one line and exits 0.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "corpora" / "samples"
FAMILIES = {  # family: (data folder, small settings)
    "tree": ("sentiment", {"embed_dim": 32, "hidden_size": 32}),
    "parser": ("sentiment", {"hidden_size": 32, "embed_dim": 32}),
    "tagger": ("pos", {"hidden_size": 32, "embed_dim": 32}),
    "translator": ("parallel", {"hidden_size": 32, "embed_dim": 32, "vocab_size": 300, "batch_size": 800}),
}
LOSS_TOLERANCE = {"fp32": 1e-3, "bf16": 5e-2, "fp16": 5e-2}


def emit(**record: object) -> None:
    print(json.dumps({"bench": "gpu_check", **record}), flush=True)


def sentences(family: str) -> list:
    """Up to 200 dev inputs: trees for the tree classifier, text for the others."""
    from treeseq.corpora.readers.conllu import read_conllu
    from treeseq.corpora.readers.ptb import read_trees

    if family in ("tree", "parser"):
        trees = read_trees(SAMPLES / "sentiment" / "dev.txt")[:200]
        return trees if family == "tree" else [" ".join(t.tokens) for t in trees]
    if family == "tagger":
        return [" ".join(s.words) for s in read_conllu(SAMPLES / "pos" / "sample-ud-dev.conllu")][:200]
    return (SAMPLES / "parallel" / "val.de").read_text(encoding="utf-8").splitlines()[:200]


def key(result: object) -> object:
    for name in ("brackets", "text"):
        value = getattr(result, name, None)
        if value is not None:
            return value() if callable(value) else value
    return tuple(result.tags)  # type: ignore[attr-defined]


def run(family: str, precision: str, folder: Path, target: str = "cuda") -> bool:
    import treeseq

    data, settings = FAMILIES[family]
    losses, seconds = {}, {}
    for index, device in enumerate(("cpu", target)):
        out = folder / f"{family}-{precision}-{index}.pt"  # 0: the CPU reference, 1: the device checked
        start = time.perf_counter()
        fit = treeseq.train(family, SAMPLES / data, out, epochs=1, seed=3, device=device, precision=precision,
                            progress=False, **settings)  # fmt: skip
        seconds["cuda" if index else "cpu"] = time.perf_counter() - start
        losses["cuda" if index else "cpu"] = fit.history[-1]["train_loss"]
    texts = sentences(family)
    archive = folder / f"{family}-{precision}-1.pt"
    start = time.perf_counter()
    on_gpu = [key(r) for r in treeseq.load(archive, device=target, precision="bf16" if precision == "bf16" else "fp32").predict(texts)]
    predict_seconds = time.perf_counter() - start
    on_cpu = [key(r) for r in treeseq.load(archive, device="cpu").predict(texts)]
    agree = sum(a == b for a, b in zip(on_gpu, on_cpu)) / max(1, len(texts))
    loss_ok = abs(losses["cuda"] - losses["cpu"]) <= LOSS_TOLERANCE[precision] * max(1.0, abs(losses["cpu"]))
    predict_ok = agree == 1.0 if precision == "fp32" else agree >= 0.95
    emit(family=family, precision=precision, cpu_loss=round(losses["cpu"], 5), cuda_loss=round(losses["cuda"], 5),
         loss_ok=loss_ok, predictions_equal=round(agree, 4), predict_ok=predict_ok,
         train_seconds_cpu=round(seconds["cpu"], 2), train_seconds_cuda=round(seconds["cuda"], 2),
         predict_sentences_per_s_cuda=round(len(texts) / predict_seconds, 1))  # fmt: skip
    return loss_ok and predict_ok


def main() -> int:
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (the check), or cpu (a dry run of this script)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device on this machine; nothing to check")
        return 0
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            for precision in ("fp32", "bf16", "fp16"):
                try:
                    failures += not run(family, precision, Path(tmp), args.device)
                except Exception as err:  # noqa: BLE001 (a check script: report every family, then fail)
                    failures += 1
                    emit(family=family, precision=precision, error=f"{type(err).__name__}: {err}"[:300])
    emit(metric="mismatches", value=failures)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
