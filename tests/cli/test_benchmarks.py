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


def test_translate_benchmark_prints_json_lines_ending_with_speedup(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "translate.py"), "--data-dir", str(ROOT / "corpora/samples/parallel"),
           "--vocab-size", "300", "--hidden-size", "32", "--steps", "1", "--sentences", "10", "--single", "2",
           "--rounds", "1", "--model", str(tmp_path / "none.pt"), "--threads", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(r["bench"] == "translate" for r in records)
    rates = [r for r in records if r.get("metric") == "train_tgt_tokens_per_s"]
    assert {(r["precision"], r["decoder"]) for r in rates} == {(p, d) for p in ("fp32", "bf16") for d in ("whole_target", "stepwise")}
    beam = next(r for r in records if r.get("metric") == "beam5_sentences_per_s")
    assert beam["model"] == "untrained" and beam["batched"] > 0 and beam["one_at_a_time"] > 0
    assert records[-1]["speedup"] > 0


def test_gpu_check_says_so_without_cuda_and_its_dry_run_agrees_with_itself() -> None:
    import torch

    script = str(ROOT / "benchmarks" / "gpu_check.py")
    if not torch.cuda.is_available():
        done = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120, check=True)
        assert done.stdout.strip() == "gpu_check: no CUDA device on this machine; nothing to check"
    dry = subprocess.run([sys.executable, script, "--device", "cpu", "--families", "tagger"], capture_output=True, text=True,
                         timeout=300, check=True)  # fmt: skip
    records = [json.loads(line) for line in dry.stdout.splitlines()]
    assert records[-1] == {"bench": "gpu_check", "metric": "mismatches", "value": 0} and len(records) == 4


def test_lm_benchmark_prints_json_lines_ending_with_speedup(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text((ROOT / "corpora/samples/parallel/train.en").read_text(encoding="utf-8"), encoding="utf-8")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "lm.py"), "--data-dir", str(tmp_path), "--steps", "2",
           "--sentences", "5", "--threads", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(r["bench"] == "lm" for r in records)
    tbptt = next(r for r in records if r.get("mode") == "tbptt")
    assert tbptt["tok_per_s"] > 0 and 0 < tbptt["matmul_share"]
    assert [r["samples"] for r in records if r.get("mode") == "generate"] == [1, 16]
    assert records[-1]["speedup"] > 0


def test_lm_output_benchmark_times_four_variants(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text((ROOT / "corpora/samples/parallel/train.en").read_text(encoding="utf-8"), encoding="utf-8")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "lm_output.py"), "--data-dir", str(tmp_path),
           "--size", "16", "--head", "10", "--streams", "2", "--bptt", "5", "--steps", "2", "--threads", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[0]["setup"] and 0 < records[0]["tail_share"] < 1
    assert [(r["softmax"], r["fused_adam"]) for r in records[1:]] == [("one", False), ("one", True), ("two-level", False), ("two-level", True)]
    assert records[1]["speedup"] == 1.0 and all(r["tok_per_s"] > 0 for r in records[1:])


def test_lm_start_benchmark_trains_each_order_from_both_starts(tmp_path: Path) -> None:
    for split, name in (("train", "train.en"), ("dev", "val.en")):
        (tmp_path / f"{split}.txt").write_text((ROOT / "corpora/samples/parallel" / name).read_text(encoding="utf-8"), encoding="utf-8")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "lm_start.py"), "--data-dir", str(tmp_path),
           "--size", "16", "--head", "10", "--steps", "5", "--orders", "2", "--threads", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert records[0]["setup"] and records[0]["steps"] == 5
    assert [(r["order"], r["start"]) for r in records[1:]] == [("file", "uniform"), ("file", "unigram"), ("shuffle 1", "uniform"), ("shuffle 1", "unigram")]
    assert all(len(r["loss_by_fifth"]) == 5 and r["dev_ppl"] > 1 for r in records[1:])
    uniform, unigram = records[1]["loss_by_fifth"][0], records[2]["loss_by_fifth"][0]  # the first step's loss
    assert unigram < min(uniform, records[0]["uniform_loss"]) - 0.1  # below the uniform start and ln(classes)


def test_serve_benchmark_checks_every_answer_and_ends_with_speedup() -> None:
    import pytest

    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "serve.py"), "--clients", "2", "4", "--requests", "2", "--texts", "2",
           "--threads", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(r["bench"] == "serve" for r in records)
    served = [r for r in records if r.get("mode") == "http"]
    assert [r["clients"] for r in served] == [2, 4] and all(r["lost"] == 0 and r["mismatched"] == 0 for r in served)
    assert all(r["p99_ms"] >= r["p50_ms"] > 0 for r in served)
    assert records[-1]["speedup"] > 0


def test_ensemble_benchmark_prints_a_ratio_per_family() -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "ensemble.py"), "--families", "classifier,lm", "--members", "2",
           "--inputs", "20", "--rounds", "1"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r.get("family") for r in records[:-1]] == ["classifier", "lm"]
    assert all(r["members"] == 2 and r["ensemble_s"] > 0 and r["members_s"] > 0 for r in records[:-1])
    assert records[-1]["metric"] == "worst_ratio" and records[-1]["value"] == max(r["ratio"] for r in records[:-1])


def test_startup_benchmark_times_every_predicting_command_and_loads_spacy_only_to_tokenize() -> None:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "startup.py"), "--runs", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    rows, summary = {r["command"]: r for r in records[:-1]}, records[-1]
    assert set(rows) == {"classify (tree)", "classify (sentence)", "parse", "tag", "tag --tokenized", "translate", "score", "generate"}
    # spaCy's tokenizer cuts raw text for the tree models, the parser, the tagger and word-level LMs only
    assert {name for name, r in rows.items() if r["imports_spacy"]} == {"classify (tree)", "parse", "tag", "score"}
    assert all(abs(r["own_seconds"] - (r["seconds"] - r["baseline_seconds"])) < 0.002 for r in rows.values())
    assert summary["summary"] and summary["worst_own_seconds"] == max(r["own_seconds"] for r in rows.values())
