"""Start-up of a one-sentence call: each predicting command against the imports it cannot avoid.

Trains a small model of each family on the samples (into a temporary folder), then times, in the same
run and interleaved, each one-sentence command (`treeseq classify -m sst.pt "A fine film ."`, ...) and
the baselines `python -c "import torch"` and `python -c "import torch, spacy"`. Each command's own
share is its median wall time minus the median of the baseline for what it imported: torch and spaCy
where the call loaded spaCy (to tokenize raw text), torch alone otherwise. One JSON line per command,
then a summary line that checks the goal (every command's own share under --goal seconds).

    python benchmarks/startup.py                     # 7 runs of each, goal 0.3 s
    python benchmarks/startup.py --runs 11 --goal 0.3

Timings depend on the machine's load: run it on an idle machine (the summary prints the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "corpora" / "samples"
PROBE = ("import atexit, sys\n"
         "atexit.register(lambda: sys.stderr.write('\\n@@spacy=%d\\n' % ('spacy' in sys.modules)))\n"
         "sys.argv = ['treeseq'] + sys.argv[1:]\n"
         "from treeseq.cli.main import main\n"
         "main()\n")  # fmt: skip


def train_models(folder: Path) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT))
    import treeseq  # noqa: PLC0415

    quiet = {"progress": False, "device": "cpu"}
    runs = {name: folder / f"{name}.pt" for name in ("parser", "sst", "pos", "intent", "de-en", "lm")}
    treeseq.train("parser", SAMPLES / "sentiment", runs["parser"], epochs=1, hidden_size=16,
                  overrides=["model.mlp_size=16", "model.embed_dim=8"], **quiet)  # fmt: skip
    treeseq.train("tree", SAMPLES / "sentiment", runs["sst"], epochs=1, embed_dim=16, hidden_size=16, parser=runs["parser"], **quiet)
    treeseq.train("tagger", SAMPLES / "pos", runs["pos"], epochs=1, hidden_size=16, **quiet)
    treeseq.train("classifier", SAMPLES / "nlu", runs["intent"], epochs=1, hidden_size=16, **quiet)
    treeseq.train("translator", SAMPLES / "parallel", runs["de-en"], epochs=1, hidden_size=16, embed_dim=16, vocab_size=400,
                  batch_size=600, overrides=["data.dev_subset=10"], **quiet)  # fmt: skip
    treeseq.train("lm", SAMPLES / "parallel", runs["lm"], train_file="train.en", dev_file="val.en", epochs=1, hidden_size=16,
                  embed_dim=16, head=0, **quiet)  # fmt: skip
    return runs


def calls(runs: dict[str, Path]) -> dict[str, list[str]]:
    return {
        "classify (tree)": ["classify", "-m", str(runs["sst"]), "A fine film ."],
        "classify (sentence)": ["classify", "-m", str(runs["intent"]), "show flights to boston"],
        "parse": ["parse", "-m", str(runs["parser"]), "A fine film ."],
        "tag": ["tag", "-m", str(runs["pos"]), "The cat sat on the mat ."],
        "tag --tokenized": ["tag", "-m", str(runs["pos"]), "--tokenized", "The cat sat on the mat ."],
        "translate": ["translate", "-m", str(runs["de-en"]), "Ein Hund läuft ."],
        "score": ["score", "-m", str(runs["lm"]), "A dog runs ."],
        "generate": ["generate", "-m", str(runs["lm"]), "--seed", "1", "--max-tokens", "5"],
    }


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    return seconds, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--goal", type=float, default=0.3, help="Most seconds of a command's own share.")
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        runs = train_models(Path(tmp))
        commands = calls(runs)
        baselines = {"torch": [sys.executable, "-c", "import torch"], "torch+spacy": [sys.executable, "-c", "import torch, spacy"]}
        times: dict[str, list[float]] = {name: [] for name in [*baselines, *commands]}
        spacy: dict[str, bool] = {}
        for _ in range(args.runs):  # interleaved, so that a change of load hits every row alike
            for name, argv in baselines.items():
                times[name].append(timed(argv, env)[0])
            for name, argv in commands.items():
                seconds, stderr = timed([sys.executable, "-c", PROBE, *argv], env)
                times[name].append(seconds)
                spacy[name] = "@@spacy=1" in stderr
        median = {name: statistics.median(values) for name, values in times.items()}
        worst = 0.0
        for name in commands:
            base = "torch+spacy" if spacy[name] else "torch"
            own = median[name] - median[base]
            worst = max(worst, own)
            print(json.dumps({"bench": "startup", "command": name, "seconds": round(median[name], 3), "baseline": base,
                              "baseline_seconds": round(median[base], 3), "own_seconds": round(own, 3),
                              "imports_spacy": spacy[name]}))  # fmt: skip
        print(json.dumps({"bench": "startup", "summary": True, "runs": args.runs, "goal_seconds": args.goal,
                          "worst_own_seconds": round(worst, 3), "meets_goal": worst < args.goal,
                          "load_average": os.getloadavg()[0]}))  # fmt: skip


if __name__ == "__main__":
    main()
