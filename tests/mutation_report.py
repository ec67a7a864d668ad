"""Mutation testing of the numerical core and metrics with mutmut, module by module, and its score.

    python tests/mutation_report.py run [MODULE ...]    # mutate and test (all modules by default), then report
    python tests/mutation_report.py retest [MODULE ...] # again, only the mutants no test detected
    python tests/mutation_report.py report [--survivors] # the table from the saved results

`make mutate` runs the first (MUTATE="nn.crf metrics" for some modules only). `[tool.mutmut]` in
pyproject.toml says which files mutmut copies and mutates; here each module is run on its own
(`mutmut run <its mutant names>`) against its own test files (TESTS below), of which mutmut runs, for
each mutant, those that reach the mutated function. A module's results are saved in
mutants/results/<module>.json as soon as it is done (mutmut forgets every verdict when the test
selection changes, as it does from one module to the next), so a partial run still gives whole
modules' scores. Of the engine only the resume and checkpoint code is mutated. Survivors judged
equivalent (no test can tell them from the original) are listed with the reason in
tests/mutation_equivalents.txt and left out of the score's denominator; docs/testing.md has the figures.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = "treeseq.training.engine."
# Module name -> the mutant names (globs) mutmut gives its functions.
MODULES: dict[str, list[str]] = {
    **{f"nn.{name}": [f"treeseq.nn.{name}.*"] for name in
       ("attention", "char_encoder", "crf", "dropout", "packed", "rnn", "tree_cells", "tree_levels")},
    # models/ensemble.py is left out: its tests train a dozen members in one module-scope fixture, whose
    # time mutmut charges to no test, so every mutant it reaches runs out of its time limit instead of failing
    **{f"models.{name}": [f"treeseq.models.{name}.*"] for name in ("classifier", "lm", "parser", "seq2seq", "tagger", "tree")},
    **{f"decoding.{name}": [f"treeseq.decoding.{name}.*"] for name in
       ("beam", "cky", "forced", "greedy", "sampling", "seq2seq_inference")},
    "metrics": ["treeseq.metrics.*"],
    "tags": ["treeseq.tags.*"],
    "data.batching": ["treeseq.data.batching.*"],
    "checkpoint": ["treeseq.checkpoint.*"],
    # the engine's resume and checkpoint code: restoring, the checkpoint's contents, the metrics log a
    # resumed run continues, the files beside the archive (fit's epoch loop and the step are left out)
    "training.engine": [
        f"{ENGINE}x__restore__mutmut_*", f"{ENGINE}x__checkpoint__mutmut_*", f"{ENGINE}xǁ_MetricsLogǁ*",
        f"{ENGINE}x__step_of__mutmut_*", f"{ENGINE}x_paths_for__mutmut_*", f"{ENGINE}x_epoch_path__mutmut_*",
        f"{ENGINE}x__keep_epoch__mutmut_*", f"{ENGINE}xǁ_Runǁsave_last__mutmut_*",
    ],
}  # fmt: skip
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}
RESULTS = ROOT / "mutants" / "results"

# The test files each module's mutants may run (mutmut picks, per mutant, those reaching its function).
UNIT = "tests/unit/test_"
REFS = f"{UNIT}paper_references.py"
TESTS: dict[str, list[str]] = {
    "nn.attention": [REFS, f"{UNIT}seq2seq.py"],
    "nn.char_encoder": [f"{UNIT}tagger_models.py"],
    "nn.crf": [REFS, f"{UNIT}crf.py"],
    "nn.dropout": [f"{UNIT}tree_models.py", f"{UNIT}lm.py"],
    "nn.packed": [f"{UNIT}seq2seq.py"],
    "nn.rnn": [REFS, f"{UNIT}tagger_models.py", f"{UNIT}parser_model.py"],
    "nn.tree_cells": [REFS, f"{UNIT}tree_models.py", f"{UNIT}tree_fast_backward.py"],
    "nn.tree_levels": [REFS, f"{UNIT}tree_models.py", f"{UNIT}tree_fast_backward.py"],
    "models.classifier": [f"{UNIT}classifier.py"],
    "models.lm": [f"{UNIT}lm.py"],
    "models.parser": [f"{UNIT}parser_model.py", f"{UNIT}parser_chart.py"],
    "models.seq2seq": [REFS, f"{UNIT}seq2seq.py", f"{UNIT}beam.py"],
    "models.tagger": [f"{UNIT}tagger_models.py"],
    "models.tree": [REFS, f"{UNIT}tree_models.py", f"{UNIT}tree_fast_backward.py"],
    "decoding.beam": [f"{UNIT}beam.py", f"{UNIT}seq2seq.py"],
    "decoding.cky": [f"{UNIT}parser_chart.py", f"{UNIT}parser_model.py"],
    "decoding.greedy": [f"{UNIT}beam.py", f"{UNIT}seq2seq.py"],
    "decoding.sampling": [f"{UNIT}lm.py"],
    "decoding.seq2seq_inference": [f"{UNIT}seq2seq.py", f"{UNIT}beam.py"],
    "metrics": [f"{UNIT}metrics_by_hand.py", f"{UNIT}tags.py", f"{UNIT}classifier.py"],
    "tags": [f"{UNIT}tags.py", REFS, f"{UNIT}crf.py", f"{UNIT}metrics_by_hand.py"],
    "data.batching": [f"{UNIT}batching.py", REFS, f"{UNIT}tagger_models.py"],
    "checkpoint": [f"{UNIT}engine.py", f"{UNIT}reliability.py"],
    "training.engine": [f"{UNIT}engine.py"],
}
# One mutmut run for one module: its test selection set in mutmut's configuration (read once; the
# workers are forked from this process), then `mutmut run` on the module's mutant names.
BOOTSTRAP = """
import sys
import mutmut.configuration as configuration
from mutmut.__main__ import cli
configuration.config().pytest_add_cli_args_test_selection[:] = sys.argv[1].split(",")
configuration.config().pytest_add_cli_args.append("--hypothesis-profile=mutation")
cli(["run", *sys.argv[2:]])
"""


def equivalents() -> dict[str, str]:
    """Survivors judged equivalent: mutant name -> why no test can tell it from the original."""
    path = ROOT / "tests" / "mutation_equivalents.txt"
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            out[name] = reason.strip()
    return out


def mutmut_results() -> dict[str, str]:
    """Every mutant's status in mutmut's own result files (mutants/**/*.py.meta)."""
    from mutmut.stats import status_by_exit_code

    status = {}
    for meta in (ROOT / "mutants").rglob("*.py.meta"):
        for name, code in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"].items():
            status[name] = status_by_exit_code[code]
    return status


def results() -> dict[str, str]:
    """Every measured mutant's status, from the modules' saved results."""
    status: dict[str, str] = {}
    for path in sorted(RESULTS.glob("*.json")) if RESULTS.is_dir() else []:
        status.update(json.loads(path.read_text(encoding="utf-8")))
    return status


def run_module(module: str, names: list[str]) -> int:
    """mutmut on `names` (globs) with the module's test selection; its verdicts saved, merged with earlier ones."""
    done = subprocess.run([sys.executable, "-c", BOOTSTRAP, ",".join(TESTS[module]), *names], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)
        return done.returncode
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{module}.json"
    saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    fresh = {n: kind for n, kind in mutmut_results().items() if module_of(n) == module and kind != "not checked"}
    path.write_text(json.dumps({**saved, **fresh}, indent=0, sort_keys=True), encoding="utf-8")
    return 0


def module_of(name: str) -> str | None:
    for module, patterns in MODULES.items():
        if any(fnmatch.fnmatchcase(name, p) for p in patterns):
            return module
    return None


def report(show_survivors: bool) -> int:
    status, judged = results(), equivalents()
    rows, survivors = [], []
    for module in MODULES:
        names = [n for n in status if module_of(n) == module]
        if not names:
            continue
        counts: dict[str, int] = {}
        for name in names:
            kind = "equivalent" if status[name] == "survived" and name in judged else status[name]
            counts[kind] = counts.get(kind, 0) + 1
            if status[name] not in DETECTED and name not in judged:
                survivors.append(f"{status[name]:10} {name}")
        detected = sum(v for k, v in counts.items() if k in DETECTED)
        counted = len(names) - counts.get("equivalent", 0) - counts.get("not checked", 0)
        score = 100 * detected / counted if counted else float("nan")
        rows.append((module, len(names), detected, counts.get("survived", 0), counts.get("no tests", 0),
                     counts.get("equivalent", 0), counts.get("not checked", 0), score))  # fmt: skip
    print(f"{'module':40} {'mutants':>7} {'killed':>7} {'survived':>8} {'no test':>7} {'equiv.':>6} {'unrun':>5} {'score':>6}")
    for module, total, detected, survived, untested, equivalent, unrun, score in rows:
        print(f"{module:40} {total:7} {detected:7} {survived:8} {untested:7} {equivalent:6} {unrun:5} {score:5.1f}%")
    if rows:
        total = sum(r[1] for r in rows)
        detected = sum(r[2] for r in rows)
        counted = total - sum(r[5] + r[6] for r in rows)
        print(f"{'all measured':40} {total:7} {detected:7} {sum(r[3] for r in rows):8} {sum(r[4] for r in rows):7} "
              f"{sum(r[5] for r in rows):6} {sum(r[6] for r in rows):5} {100 * detected / max(1, counted):5.1f}%")  # fmt: skip
    if show_survivors:
        print("\n".join(["", "not detected (survived, no test, timeout-free suspicious):", *survivors]))
    return 0


def run(modules: list[str]) -> int:
    """Each module in turn: `mutmut run` on its mutant names against its test files."""
    chosen = modules or list(MODULES)
    unknown = [m for m in chosen if m not in MODULES]
    if unknown:
        print(f"unknown module(s) {unknown}; expected some of: {', '.join(MODULES)}", file=sys.stderr)
        return 2
    for module in chosen:
        started = time.monotonic()
        print(f"== {module}", flush=True)
        code = run_module(module, MODULES[module])
        if code:
            return code
        print(f"   {time.monotonic() - started:.0f} s", flush=True)
    return report(show_survivors=False)


def retest(modules: list[str]) -> int:
    """`mutmut run` again on the mutants that no test detected (after tests were added), then report."""
    status, judged = results(), equivalents()
    for module in modules or list(MODULES):
        names = [n for n, kind in status.items() if module_of(n) == module and kind in ("survived", "no tests") and n not in judged]
        if names:
            print(f"== {module}: {len(names)} mutants", flush=True)
            code = run_module(module, sorted(names))
            if code:
                return code
    return report(show_survivors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("modules", nargs="*")
    retest_parser = sub.add_parser("retest")
    retest_parser.add_argument("modules", nargs="*")
    report_parser = sub.add_parser("report")
    report_parser.add_argument("--survivors", action="store_true")
    args = parser.parse_args()
    if args.command == "run":
        return run(args.modules)
    if args.command == "retest":
        return retest(args.modules)
    return report(args.survivors)


if __name__ == "__main__":
    sys.exit(main())
