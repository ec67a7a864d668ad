"""Parse + classify throughput from raw text: batched (vectorized chart) against per sentence, per cell.

    python benchmarks/parse.py [--parser runs/parser-sst.pt] [--classifier runs/lstm-fine-mc2.pt]
                               [--data ../shared/corpora/sst/dev.txt] [--baseline-sentences 150] [--threads 1]

Both pipelines start from the raw text of the SST dev sentences (treebank tokens detokenized) and do
the same work: treebank tokenization, the BiLSTM span scores, the best binary tree, then the tree
classifier on it. The batched pipeline parses many sentences per forward pass (batches bounded by
chart cells) with the chart vectorized over sentences, starts and split points, and classifies 256
trees per level-batched pass. The baseline runs each sentence alone: a batch of one through the
BiLSTM, the per-cell chart loop of `treeseq.parsing.reference`, and the classifier on one tree.
Missing archives are replaced by randomly initialized models of the default sizes (same cost).
Prints JSON lines; the last carries the headline ratio in `speedup`. Under 2 minutes by default.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpora.readers.ptb import read_trees  # noqa: E402
from treeseq.checkpoint import load_archive  # noqa: E402
from treeseq.config import TrainConfig  # noqa: E402
from treeseq.parsing.chart import spans_to_tree  # noqa: E402
from treeseq.parsing.data import batch_examples  # noqa: E402
from treeseq.parsing.reference import cky_decode_per_cell  # noqa: E402
from treeseq.tasks.parser import ParserConfig, ParserPredictor, ParserTask, build_parser, build_vocabs  # noqa: E402
from treeseq.tasks.tree import TreeModelConfig, TreePredictor, TreeTask, build_model  # noqa: E402
from treeseq.tokenize import detokenize, tokenize  # noqa: E402
from treeseq.vocab import Vocab  # noqa: E402

RUNS = ROOT / "runs"  # where the docs' commands write models (ignored by git)
DEFAULT_DATA = ROOT.parent / "shared" / "corpora" / "sst" / "dev.txt"


def emit(**record: object) -> None:
    print(json.dumps({"bench": "parse", **record}), flush=True)


def load_models(parser_path: Path, classifier_path: Path, texts: list[str]) -> tuple[ParserPredictor, TreePredictor, str]:
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
    return ParserPredictor.from_archive(parser_archive, cpu), TreePredictor.from_archive(tree_archive, cpu), source


def batched(parser: ParserPredictor, classifier: TreePredictor, texts: list[str]) -> tuple[float, list]:
    start = time.perf_counter()
    trees = parser.parse_tokens([tokenize(t) for t in texts])
    results = classifier.predict(trees)
    return time.perf_counter() - start, [r[0] for r in results]


@torch.no_grad()
def per_sentence(parser: ParserPredictor, classifier: TreePredictor, texts: list[str]) -> tuple[float, list]:
    start = time.perf_counter()
    out = []
    for text in texts:
        tokens = tokenize(text)
        batch = batch_examples([parser.vocabs.encode(tokens)], parser.vocabs, with_gold=False)
        scores = parser.model(batch.word_ids, batch.char_ids, batch.lengths)[0]
        spans, _ = cky_decode_per_cell(scores, len(tokens))
        out.append(classifier.predict([spans_to_tree(tokens, spans)])[0][0])
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parser", type=Path, default=RUNS / "parser-sst.pt")
    parser.add_argument("--classifier", type=Path, default=RUNS / "lstm-fine-mc2.pt")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--baseline-sentences", type=int, default=150)
    parser.add_argument("--threads", type=int, default=1)  # faster than 2 on the shared 2-core machine
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = args.data if args.data.is_file() else ROOT / "corpora" / "samples" / "sentiment" / "dev.txt"
    texts = [detokenize(t.tokens) for t in read_trees(data)]
    span_parser, classifier, source = load_models(args.parser, args.classifier, texts)
    emit(event="setup", data=str(data), sentences=len(texts), models=source, threads=args.threads,
         tokens=sum(len(tokenize(t)) for t in texts))  # fmt: skip
    batched(span_parser, classifier, texts[:64])  # warm-up
    fast_seconds, fast_trees = batched(span_parser, classifier, texts)
    fast_rate = len(texts) / fast_seconds
    emit(workload="batched", sentences=len(texts), seconds=round(fast_seconds, 3), sent_per_s=round(fast_rate, 1))
    sample = texts[: args.baseline_sentences]
    slow_seconds, slow_trees = per_sentence(span_parser, classifier, sample)
    slow_rate = len(sample) / slow_seconds
    same = sum(a.children == b.children for a, b in zip(fast_trees, slow_trees))
    emit(workload="per-sentence-per-cell", sentences=len(sample), seconds=round(slow_seconds, 3),
         sent_per_s=round(slow_rate, 1), same_trees=f"{same}/{len(sample)}")  # fmt: skip
    emit(metric="parse+classify sentences/s", batched=round(fast_rate, 1), baseline=round(slow_rate, 1),
         goal_met=fast_rate >= 300, speedup=round(fast_rate / slow_rate, 2))  # fmt: skip


if __name__ == "__main__":
    main()
