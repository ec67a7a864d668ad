"""Ensemble prediction time against its members', per family, in one run.

For each family an ensemble of N members predicts the same inputs as each member alone, in interleaved
rounds (so both see the same machine); one JSON line per family gives the seconds of the ensemble and
of the members one after the other, and `ratio` = ensemble / sum of the members' times (goal: at most
1.1, i.e. N times one member plus 10%). Translators decode with beam 5 (the members' decoders inside
one beam); language models score lines; the tree model labels given trees.

    python benchmarks/ensemble.py                                   # trains 3 small members per family on the samples
    python benchmarks/ensemble.py --model lm=runs/lm/a.pt,runs/lm/b.pt,runs/lm/c.pt --model translator=...
        [--data FAMILY=FILE: the lines to predict, one a line (default: the samples)]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import treeseq  # noqa: E402

SAMPLES = ROOT / "corpora" / "samples"
# family: (training folder, training options for small members, the sample lines predicted, predict options)
SMALL = {
    "tree": ("sentiment", {"epochs": 1, "embed_dim": 50, "hidden_size": 50}, "sentiment/dev.txt", {"brackets": True}),
    "parser": ("sentiment", {"epochs": 1, "hidden_size": 64}, "sentiment/examples.txt", {}),
    "tagger": ("nlu", {"epochs": 1, "hidden_size": 64, "overrides": ["model.output=crf"]}, "nlu/valid/seq.in", {}),
    "classifier": ("nlu", {"epochs": 1, "hidden_size": 64}, "nlu/valid/seq.in", {}),
    "translator": ("parallel", {"epochs": 1, "hidden_size": 64, "embed_dim": 32, "vocab_size": 400, "batch_size": 800},
                   "parallel/val.de", {"beam": 5}),
    "lm": ("parallel", {"epochs": 1, "hidden_size": 64, "embed_dim": 64, "train_file": "train.en", "dev_file": "val.en"},
           "parallel/val.en", {}),
}  # fmt: skip


def small_members(family: str, count: int, folder: Path) -> list[Path]:
    data, options, _, _ = SMALL[family]
    paths = []
    for seed in range(1, count + 1):
        path = folder / f"{family}{seed}.pt"
        treeseq.train(family, SAMPLES / data, path, seed=seed, progress=False, device="cpu", **options)
        paths.append(path)
    return paths


def lines_for(family: str, path: Path | None, count: int) -> list[str]:
    source = path or SAMPLES / SMALL[family][2]
    lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    if family == "parser" and path is None:  # the examples are trees: their words as raw text
        from treeseq.corpora.readers.ptb import parse_tree_line  # noqa: PLC0415

        lines = [" ".join(parse_tree_line(line, "examples").tokens) for line in lines]
    return (lines * (count // len(lines) + 1))[:count]


def timed(model: Any, lines: list[str], options: dict[str, Any]) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        model.predict(lines, **options)
    return time.perf_counter() - start


def measure(family: str, paths: list[Path], lines: list[str], rounds: int) -> dict[str, Any]:
    options = dict(SMALL[family][3])
    ensemble, singles = treeseq.load(paths, "cpu"), [treeseq.load(p, "cpu") for p in paths]
    timed(ensemble, lines[:8], options)  # warm-up: first calls pack weights and fill caches
    for single in singles:
        timed(single, lines[:8], options)
    together, alone = 0.0, 0.0
    for _ in range(rounds):
        together += timed(ensemble, lines, options)
        alone += sum(timed(single, lines, options) for single in singles)
    return {"bench": "ensemble", "family": family, "members": len(paths), "inputs": len(lines), "rounds": rounds,
            "ensemble_s": round(together, 3), "members_s": round(alone, 3), "ratio": round(together / alone, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="FAMILY=a.pt,b.pt,... (real members; else small ones)")
    parser.add_argument("--data", action="append", default=[], help="FAMILY=FILE: lines to predict")
    parser.add_argument("--families", default=",".join(SMALL), help="families measured with small members")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--inputs", type=int, default=200, help="lines predicted per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    given = {spec.partition("=")[0]: [Path(p) for p in spec.partition("=")[2].split(",")] for spec in args.model}
    data = {spec.partition("=")[0]: Path(spec.partition("=")[2]) for spec in args.data}
    families = list(given) or [f for f in args.families.split(",") if f]
    ratios = []
    with tempfile.TemporaryDirectory() as folder:
        for family in families:
            paths = given.get(family) or small_members(family, args.members, Path(folder))
            record = measure(family, paths, lines_for(family, data.get(family), args.inputs), args.rounds)
            ratios.append(record["ratio"])
            print(json.dumps(record), flush=True)
    print(json.dumps({"bench": "ensemble", "metric": "worst_ratio", "value": max(ratios), "goal": 1.1}), flush=True)


if __name__ == "__main__":
    main()
