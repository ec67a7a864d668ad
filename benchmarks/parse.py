"""Parse + classify throughput from raw text: batched (vectorized chart) against per sentence, per cell.

    python benchmarks/parse.py [--parser runs/parser-sst2.pt] [--classifier runs/final/lstm-fine.pt]
                               [--data ../shared/corpora/sst/dev.txt] [--baseline-sentences 150]
                               [--threads 1] [--workers 2] [--precision fp32,bf16]

Both pipelines start from the raw text of the SST dev sentences (treebank tokens detokenized) and do
the same work: treebank tokenization, the BiLSTM span scores, the best binary tree, then the tree
classifier on it. The batched pipeline parses many sentences per forward pass (batches bounded by
chart cells) with the chart vectorized over sentences, starts and split points, and classifies the
trees in level-batched passes of up to 256. --workers threads parse batches at once and classify
shares of the trees (each thread with --threads intra-op threads). The baseline runs each sentence
alone in the main thread: a batch of one through the BiLSTM, the per-cell chart loop of
`tests/unit/cky_reference.py`, and the classifier on one tree. The batched pipeline runs once per
--precision (bf16: autocast for the parser; for the classifier too with --classifier-precision bf16);
for each it also reports the trees and root labels that differ from the first run (fp32), and the
dev bracket F1 of the parser on the gold tokens.
Missing archives are replaced by randomly initialized models of the default sizes (same cost).
Prints JSON lines; the last carries the headline ratio in `speedup` (the fastest batched run against
the baseline). Under 2 minutes by default.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from treeseq.checkpoint import load_archive  # noqa: E402
from treeseq.config import TrainConfig  # noqa: E402
from treeseq.corpora.readers.ptb import read_trees  # noqa: E402
from treeseq.data.parsing import batch_examples  # noqa: E402
from treeseq.decoding.cky import spans_to_tree, tree_spans  # noqa: E402
from treeseq.device import autocast_dtype  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "unit"))  # the slow reference decoder lives with the tests
from cky_reference import cky_decode_per_cell  # noqa: E402

from treeseq.metrics import bracket_scores  # noqa: E402
from treeseq.tasks.parser import (  # noqa: E402
    ParserConfig,
    ParserInference,
    ParserTask,
    build_parser,
    build_vocabs,
    parse_examples,
)  # fmt: skip
from treeseq.tasks.tree import TreeInference, TreeModelConfig, TreeTask, build_model  # noqa: E402
from treeseq.tokenize import detokenize, tokenize  # noqa: E402
from treeseq.vocab import Vocab  # noqa: E402

RUNS = ROOT / "runs"  # where the docs' commands write models (ignored by git)
DEFAULT_DATA = ROOT.parent / "shared" / "corpora" / "sst" / "dev.txt"


def emit(**record: object) -> None:
    print(json.dumps({"bench": "parse", **record}), flush=True)


def load_models(parser_path: Path, classifier_path: Path, texts: list[str]) -> tuple[ParserInference, TreeInference, str]:
    """The archives when present, else random models of the default sizes over the texts' words."""
    cpu = torch.device("cpu")
    sentences = [tokenize(t) for t in texts]
    if parser_path.is_file():
        parser_archive, source = load_archive(parser_path, task="parser"), str(parser_path)
    else:
        cfg = ParserConfig()
        vocabs = build_vocabs(sentences, cfg)
        parser_archive = ParserTask(cfg, TrainConfig(), vocabs, [], []).archive(build_parser(cfg, vocabs))
        source = "random parser"
    if classifier_path.is_file():
        tree_archive = load_archive(classifier_path, task="tree")
        source += f" + {classifier_path}"
    else:
        cfg_t = TreeModelConfig(embed_dim=100, hidden_size=100, lowercase=True)
        vocab = Vocab.build((w for s in sentences for w in s), lowercase=True)
        tree_archive = TreeTask(cfg_t, TrainConfig(), vocab, [], []).archive(build_model(cfg_t, len(vocab)))
        source += " + random classifier"
    return ParserInference.from_archive(parser_archive, cpu), TreeInference.from_archive(tree_archive, cpu), source


def batched(
    parser: ParserInference, classifier: TreeInference, texts: list[str], classify_bf16: bool
) -> tuple[float, list]:
    start = time.perf_counter()
    trees = parser.parse_tokens([tokenize(t) for t in texts])
    results = classify(classifier, trees, parser.workers, classify_bf16)
    return time.perf_counter() - start, results


def classify(classifier: TreeInference, trees: list, workers: int, bf16: bool) -> list:
    """The classifier over all trees: `workers` threads, each predicting a share of the trees."""

    def run(chunk: list) -> list:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):  # autocast is per thread
            return classifier.predict(chunk)

    if workers == 1:
        return run(trees)
    size = -(-len(trees) // (2 * workers))  # two chunks per worker: the threads finish together
    chunks = [trees[i : i + size] for i in range(0, len(trees), size)]
    with ThreadPoolExecutor(workers) as pool:
        return [result for part in pool.map(run, chunks) for result in part]


def dev_f1(parser: ParserInference, gold: list) -> float:
    """Unlabeled bracket F1 on the gold tokens (the training log's dev metric), in percent."""
    examples = parser.encode([t.tokens for t in gold])
    spans = parse_examples(parser.model, examples, parser.vocabs, parser.device, parser.cell_budget,
                           parser.precision, parser.workers)  # fmt: skip
    scores = bracket_scores(spans, [tree_spans(t) for t in gold], [len(t.tokens) for t in gold])
    return round(100 * scores["f1"], 2)


@torch.no_grad()
def per_sentence(parser: ParserInference, classifier: TreeInference, texts: list[str]) -> tuple[float, list]:
    start = time.perf_counter()
    out = []
    for text in texts:
        tokens = tokenize(text)
        batch = batch_examples(parser.encode([tokens]), parser.vocabs, with_gold=False)
        scores = parser.model(*batch.inputs)[0]
        spans, _ = cky_decode_per_cell(scores, len(tokens))
        out.append(classifier.predict([spans_to_tree(tokens, spans)])[0])
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parser", type=Path, default=RUNS / "parser-sst2.pt")
    parser.add_argument("--classifier", type=Path, default=RUNS / "final" / "lstm-fine.pt")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--baseline-sentences", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per worker")
    parser.add_argument("--workers", type=int, default=2, help="batches parsed at once (threads)")
    parser.add_argument("--precision", default="fp32,bf16", help="batched runs, comma-separated: fp32, bf16")
    parser.add_argument("--classifier-precision", default="fp32", choices=("fp32", "bf16"),
                        help="bf16: autocast the classifier too in the bf16 runs (root labels move a little)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = args.data if args.data.is_file() else ROOT / "corpora" / "samples" / "sentiment" / "dev.txt"
    gold = read_trees(data)
    texts = [detokenize(t.tokens) for t in gold]
    span_parser, classifier, source = load_models(args.parser, args.classifier, texts)
    emit(event="setup", data=str(data), sentences=len(texts), models=source, threads=args.threads,
         workers=args.workers, tokens=sum(len(tokenize(t)) for t in texts))  # fmt: skip
    rates: dict[str, float] = {}
    reference: list | None = None
    for precision in args.precision.split(","):
        if precision != "fp32" and autocast_dtype("cpu", precision) is None:  # it would run fp32 under a bf16 label
            emit(workload="batched", precision=precision, skipped="this CPU has no bf16 units")
            continue
        span_parser.precision, span_parser.workers = precision, args.workers
        classify_bf16 = precision == "bf16" and args.classifier_precision == "bf16"
        batched(span_parser, classifier, texts[:64], classify_bf16)  # warm-up
        seconds, results = batched(span_parser, classifier, texts, classify_bf16)
        rates[precision] = len(texts) / seconds
        reference = reference or results
        pairs = list(zip(results, reference))
        emit(workload="batched", precision=precision, sentences=len(texts), seconds=round(seconds, 3),
             sent_per_s=round(rates[precision], 1), dev_f1=dev_f1(span_parser, gold),
             trees_differ=sum(a[0].children != b[0].children for a, b in pairs),
             root_labels_differ=sum(int(a[1][-1].argmax()) != int(b[1][-1].argmax()) for a, b in pairs))  # fmt: skip
    span_parser.precision, span_parser.workers = "fp32", 1
    sample = texts[: args.baseline_sentences]
    slow_seconds, slow_results = per_sentence(span_parser, classifier, sample)
    slow_rate = len(sample) / slow_seconds
    same = sum(a[0].children == b[0].children for a, b in zip(reference or [], slow_results))
    emit(workload="per-sentence-per-cell", sentences=len(sample), seconds=round(slow_seconds, 3),
         sent_per_s=round(slow_rate, 1), same_trees=f"{same}/{len(sample)}")  # fmt: skip
    best = max(rates, key=rates.__getitem__)
    emit(metric="parse+classify sentences/s", batched={k: round(v, 1) for k, v in rates.items()}, best=best,
         baseline=round(slow_rate, 1), goal_met=rates[best] >= 300, speedup=round(rates[best] / slow_rate, 2))  # fmt: skip


if __name__ == "__main__":
    main()
