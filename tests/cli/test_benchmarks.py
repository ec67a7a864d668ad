"""The benchmark scripts keep running: a tiny setting of each, checking their JSON-lines contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_tree_benchmark_prints_json_lines_ending_with_speedup() -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "tree.py"), "--data-dir", str(ROOT / "corpora/samples/sentiment"),
           "--batched-sentences", "50", "--reference-sentences", "25", "--threads", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(r["bench"] == "tree" for r in records)
    assert records[-1]["speedup"] > 1
    assert any("share_of_level_shape_rate" in r for r in records)
