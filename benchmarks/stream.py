"""Memory of streaming prediction: `predict_iter` over growing streams against `predict` on a list.

Prints one JSON line per run: lines, the peak Python heap while predicting (tracemalloc, MiB) and the
growth of the resident set (MiB) from the first result to the last; then a summary line with the
ratio of peak heaps between the largest and the smallest stream (about 1 for bounded memory) and the
same for the baseline, `predict` on a list of every line (grows with the input).

    python benchmarks/stream.py --lines 10000 100000          # trains a small tagger on the samples first
    python benchmarks/stream.py --model runs/ewt.pt --lines 10000 100000
    python benchmarks/stream.py --cli --lines 100000 1000000  # `treeseq tag -i FILE -o FILE`: peak RSS per size

With --cli each size runs the command in a process of its own and reports that process's peak resident
memory (from the kernel's accounting of the finished child), against the smallest size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import treeseq  # noqa: E402

WORDS = "the a cat dog sat ran on under mat park quickly slowly big small red green".split()


def sentences(count: int) -> Iterator[str]:
    """A deterministic stream of short sentences, made lazily."""
    for index in range(count):
        length = 5 + index % 11
        yield " ".join(WORDS[(index * 7 + k * 3) % len(WORDS)] for k in range(length)) + " .\n"


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(model: object, lines: int, batch_size: int, streaming: bool) -> dict:
    tracemalloc.start()
    first = last = 0.0
    count = 0
    results = model.predict_iter(sentences(lines), batch_size=batch_size) if streaming else iter(
        model.predict([s.rstrip("\n") for s in sentences(lines)])
    )
    for count, _ in enumerate(results, start=1):
        if count == 1:
            first = rss_mib()
    last = rss_mib()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"bench": "stream", "mode": "predict_iter" if streaming else "predict_list", "lines": lines, "results": count,
            "peak_heap_mib": round(peak / 2**20, 2), "rss_growth_mib": round(last - first, 1)}  # fmt: skip


def measure_cli(model: Path, lines: int, folder: Path, batch_size: int) -> dict:
    """Peak RSS of `treeseq tag` over a file of `lines` lines, in a process of its own."""
    import subprocess  # noqa: PLC0415
    import time  # noqa: PLC0415

    source, target = folder / f"in-{lines}.txt", folder / f"out-{lines}.jsonl"
    with open(source, "w", encoding="utf-8") as handle:
        handle.writelines(sentences(lines))
    command = [sys.executable, "-m", "treeseq.cli.main", "tag", "-m", str(model), "-i", str(source), "-o", str(target),
               "-f", "jsonl", "--batch-size", str(batch_size), "--device", "cpu", "--threads", "1", "--quiet"]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"tag failed on {lines} lines (status {status})")
    with open(target, encoding="utf-8") as handle:
        written = sum(1 for _ in handle)
    source.unlink()
    target.unlink()
    return {"bench": "stream", "mode": "cli_tag", "lines": lines, "written": written, "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "seconds": round(seconds, 1), "lines_per_s": round(lines / seconds)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="A tagger archive (default: train a small one on the samples).")
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--baseline-lines", type=int, nargs="+", default=None,
                        help="Stream sizes for predict on a list (default: the two smallest of --lines).")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cli", action="store_true", help="Measure `treeseq tag` processes' peak RSS instead.")
    args = parser.parse_args()
    import torch  # noqa: PLC0415

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model
        if path is None:
            path = Path(tmp) / "pos.pt"
            treeseq.train("tagger", ROOT / "corpora/samples/pos", path, epochs=1, hidden_size=16, word_dim=16,
                          progress=False, device="cpu")  # fmt: skip
        if args.cli:
            runs = [measure_cli(path, n, Path(tmp), args.batch_size) for n in sorted(args.lines)]
            for record in runs:
                print(json.dumps(record), flush=True)
            print(json.dumps({"bench": "stream", "metric": "cli_peak_rss_ratio_largest_to_smallest",
                              "ratio": round(runs[-1]["peak_rss_mib"] / runs[0]["peak_rss_mib"], 3),
                              "sizes": sorted(args.lines)}), flush=True)  # fmt: skip
            return
        model = treeseq.load(path, device="cpu")
        measure(model, 256, args.batch_size, True)  # warm-up: the tokenizer and the kernels load once
        sizes = sorted(args.lines)
        streamed = [measure(model, n, args.batch_size, True) for n in sizes]
        baseline_sizes = sorted(args.baseline_lines or sizes[:2])
        listed = [measure(model, n, args.batch_size, False) for n in baseline_sizes]
    for record in itertools.chain(streamed, listed):
        print(json.dumps(record), flush=True)
    summary = {"bench": "stream", "metric": "peak_heap_ratio_largest_to_smallest",
               "predict_iter": round(streamed[-1]["peak_heap_mib"] / max(streamed[0]["peak_heap_mib"], 1e-9), 2),
               "predict_list": round(listed[-1]["peak_heap_mib"] / max(listed[0]["peak_heap_mib"], 1e-9), 2),
               "sizes": sizes, "baseline_sizes": baseline_sizes}  # fmt: skip
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
