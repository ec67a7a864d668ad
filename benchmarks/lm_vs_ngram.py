"""Recurrent language models against interpolated Kneser-Ney n-grams on the same tokens, in one run.

    python benchmarks/lm_vs_ngram.py --data-dir ../shared/corpora/multi30k-en runs/lm/lstm.pt [runs/lm/gru.pt ...]

For each model archive: its dev perplexity (the split read as one stream, as `treeseq evaluate` and
training measure it), and two 5-gram Kneser-Ney models fitted in this run on the same units of the
training text (the archive's vocabulary and <unk>): modified KN (Chen & Goodman's three discounts per
order), interpolated KN with one discount per order estimated from the counts (Ney, Essen & Kneser
1994) and interpolated KN with one fixed discount of 0.75 at every order. Both sides predict exactly
the same tokens: every unit and every line's <eos>. `reduction` is 1 - model ppl / modified-KN ppl,
`reduction_single` and `reduction_fixed` the same against the one-discount models. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import treeseq  # noqa: E402
from treeseq.recipes.lm import kneser_ney_baseline  # noqa: E402


def emit(**record: object) -> None:
    print(json.dumps({"bench": "lm_vs_ngram", **record}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "corpora" / "multi30k-en")
    parser.add_argument("--split", default="dev")
    parser.add_argument("--order", type=int, default=5)
    args = parser.parse_args()
    baselines: dict[str, tuple] = {}
    for path in args.models:
        model = treeseq.load(path, device="cpu", family="lm")
        start = time.perf_counter()
        report = treeseq.evaluate(model, args.data_dir, args.split)
        seconds = time.perf_counter() - start
        key = json.dumps(model.units.to_dict(), default=len, sort_keys=True)  # one baseline per vocabulary
        if key not in baselines:
            baselines[key] = (kneser_ney_baseline(model, args.data_dir, args.split, args.order),
                              kneser_ney_baseline(model, args.data_dir, args.split, args.order, modified=False),
                              kneser_ney_baseline(model, args.data_dir, args.split, args.order, discount=0.75))  # fmt: skip
        modified, single, fixed = baselines[key]
        assert modified.info["tokens"] == report.info["tokens"], "the n-gram and the model must predict the same tokens"
        ppl = report.metrics["ppl"]
        emit(model=str(path), unit=model.units.unit, rnn=model.config.rnn, tokens=report.info["tokens"], ppl=round(ppl, 2),
             bpc=round(report.metrics["bpc"], 4), kn_modified_ppl=round(modified.metrics["ppl"], 2),
             kn_single_ppl=round(single.metrics["ppl"], 2), kn_fixed_ppl=round(fixed.metrics["ppl"], 2),
             reduction=round(1 - ppl / modified.metrics["ppl"], 4), reduction_single=round(1 - ppl / single.metrics["ppl"], 4),
             reduction_fixed=round(1 - ppl / fixed.metrics["ppl"], 4), seconds=round(seconds, 1),
             kn_seconds=modified.info["seconds"])  # fmt: skip


if __name__ == "__main__":
    main()
