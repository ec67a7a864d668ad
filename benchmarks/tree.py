"""Tree-LSTM training throughput: level-batched against the per-node reference, in the same run.

    python benchmarks/tree.py [--data-dir ../shared/corpora/sst] [--batch-size 25]

Prints JSON lines; the last carries the headline ratio in `speedup` (total throughputs over rounds that
interleave the two, so both see the same machine). Also prints the dense matmul
rate this machine reaches at the model's shapes (fp32 torch.matmul) and the share of it that batched
training achieves. Runs in under 2 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from treeseq.corpora.readers.ptb import read_trees  # noqa: E402
from treeseq.data.batching import pooled_batches  # noqa: E402
from treeseq.data.trees import TreeExample, batch_trees  # noqa: E402
from treeseq.models.tree import TreeClassifier  # noqa: E402
from treeseq.tasks.tree import LabelScheme, TreeModelConfig, encode  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "unit"))  # the slow per-node reference lives with the tests
from tree_reference import reference_logits  # noqa: E402

from treeseq.training.optim import build_optimizers  # noqa: E402
from treeseq.vocab import Vocab  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "corpora" / "sst"


def emit(**record: object) -> None:
    print(json.dumps({"bench": "tree", **record}), flush=True)


def load(data_dir: Path, cfg: TreeModelConfig) -> tuple[list[TreeExample], Vocab]:
    scheme = LabelScheme(cfg)
    trees = read_trees(data_dir / "train.txt", scheme.check)
    vocab = Vocab.build((w for t in trees for w in t.tokens), lowercase=cfg.lowercase)
    examples = [encode(t, vocab, scheme) for t in trees]
    random.Random(0).shuffle(examples)
    return examples, vocab


def train_batched(model: TreeClassifier, batches: list[list[TreeExample]], precision: str) -> float:
    """Seconds for one optimizer step per batch, schedule building included."""
    optim = build_optimizers(model, "adagrad", 0.05, 1e-4)
    dtype = torch.bfloat16 if precision == "bf16" else None
    start = time.perf_counter()
    for examples in batches:
        batch = batch_trees(examples)
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            logits = model(batch)
        loss = torch.nn.functional.cross_entropy(logits.float(), batch.labels, ignore_index=-1)
        optim.zero_grad()
        loss.backward()
        optim.step()
    return time.perf_counter() - start


def train_per_node(model: TreeClassifier, batches: list[list[TreeExample]]) -> float:
    """The same training, each tree evaluated node by node by the recursive reference."""
    optim = build_optimizers(model, "adagrad", 0.05, 1e-4)
    start = time.perf_counter()
    for examples in batches:
        logits = torch.cat([reference_logits(model, e) for e in examples])
        labels = torch.tensor([label for e in examples for label in e.labels])
        loss = torch.nn.functional.cross_entropy(logits, labels, ignore_index=-1)
        optim.zero_grad()
        loss.backward()
        optim.step()
    return time.perf_counter() - start


def training_flops(batches: list[list[TreeExample]], cfg: TreeModelConfig, classes: int) -> float:
    """Matmul FLOPs of forward + backward (3x forward) for the binary Tree-LSTM."""
    d, h = cfg.embed_dim, cfg.hidden_size
    leaves = sum(1 for b in batches for e in b for kids in e.tree.children if not kids)
    phrases = sum(1 for b in batches for e in b for kids in e.tree.children if kids)
    forward = leaves * 2 * d * 3 * h + phrases * 2 * (2 * h) * (5 * h) + (leaves + phrases) * 2 * h * classes
    return 3.0 * forward


def matmul_rate(rows: int, inner: int, cols: int, seconds: float = 1.0) -> float:
    """FLOP/s of fp32 torch.matmul at one shape, measured for about `seconds`."""
    a, b = torch.randn(rows, inner), torch.randn(inner, cols)
    for _ in range(10):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2.0 * rows * inner * cols * count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else ROOT / "corpora/samples/sentiment")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--batched-sentences", type=int, default=5000)
    parser.add_argument("--reference-sentences", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved reference/batched rounds")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = TreeModelConfig(kind="binary-lstm", embed_dim=300, hidden_size=150, dropout=0.5, lowercase=True)
    examples, vocab = load(args.data_dir, cfg)
    classes = len(LabelScheme(cfg).classes)
    size = args.batch_size

    def batches(count: int, offset: int = 0) -> list[list[TreeExample]]:
        pool = (examples * (1 + (offset + count) // len(examples)))[offset : offset + count]
        return [pool[i : i + size] for i in range(0, len(pool), size)]

    def height_batches(chunk: list[list[TreeExample]]) -> list[list[TreeExample]]:
        """The same sentences batched as training batches them by default (by tree height)."""
        examples = [e for b in chunk for e in b]
        order = pooled_batches(len(examples), size, random.Random(0), [e.heights[-1] for e in examples].__getitem__)
        return [[examples[i] for i in batch] for batch in order]

    def new_model(fused: bool = True) -> TreeClassifier:
        torch.manual_seed(0)
        return TreeClassifier(cfg.kind, len(vocab), cfg.embed_dim, cfg.hidden_size, classes, cfg.dropout,
                              sparse_embeddings=True, fused=fused).train()  # fmt: skip

    common = {"data": str(args.data_dir), "batch_size": size, "threads": args.threads, "model": "binary-lstm 300/150"}
    train_batched(new_model(), batches(5 * size), "fp32")  # warm-ups: first calls allocate and pick kernels
    train_per_node(new_model(), batches(size))
    # Interleave the two in rounds, so that both see the same machine load; report medians.
    rounds = max(1, args.rounds)
    ref_model, random_model, fast_model = new_model(), new_model(), new_model()
    ref_rates, random_rates, fast_rates, fast_seconds, fast_batches = [], [], [], 0.0, []
    ref_seconds = random_seconds = 0.0
    ref_per_round, fast_per_round = args.reference_sentences // rounds, args.batched_sentences // rounds
    for r in range(rounds):
        chunk = batches(ref_per_round, offset=r * ref_per_round)
        ref_round = train_per_node(ref_model, chunk)
        ref_rates.append(ref_per_round / ref_round)
        ref_seconds += ref_round
        chunk = batches(fast_per_round, offset=r * fast_per_round)
        random_round = train_batched(random_model, chunk, "fp32")
        random_rates.append(fast_per_round / random_round)
        random_seconds += random_round
        chunk = height_batches(chunk)
        seconds = train_batched(fast_model, chunk, "fp32")
        fast_rates.append(fast_per_round / seconds)
        fast_seconds += seconds
        fast_batches += chunk
    ratios = [round(f / r, 2) for f, r in zip(fast_rates, ref_rates)]
    # Throughput over all rounds (total sentences / total seconds): robust to which sentences a round drew.
    ref_rate, rate = ref_per_round * rounds / ref_seconds, fast_per_round * rounds / fast_seconds
    emit(impl="per-node reference", sent_per_s=round(ref_rate, 1), sentences=ref_per_round * rounds, rounds=rounds, **common)
    emit(impl="level-batched", batching="random", precision="fp32", sent_per_s=round(fast_per_round * rounds / random_seconds, 1),
         sentences=fast_per_round * rounds, rounds=rounds, **common)  # fmt: skip
    emit(impl="level-batched", batching="height (default)", precision="fp32", sent_per_s=round(rate, 1),
         sentences=fast_per_round * rounds, rounds=rounds, **common)  # fmt: skip
    seconds = fast_seconds

    bf16_count = args.batched_sentences // 5
    bf16_seconds = train_batched(new_model(fused=False), height_batches(batches(bf16_count)), "bf16")
    emit(impl="level-batched", precision="bf16", sent_per_s=round(bf16_count / bf16_seconds, 1), sentences=bf16_count, **common)

    # Roofline: the composition product at the mean number of phrase nodes per level.
    sample = [batch_trees(b) for b in fast_batches[:20]]
    mean_level = sum(lv.stop - lv.start for b in sample for lv in b.levels[1:]) / sum(len(b.levels) - 1 for b in sample)
    peak_level = matmul_rate(round(mean_level), 2 * cfg.hidden_size, 5 * cfg.hidden_size)
    peak_large = matmul_rate(1024, 2 * cfg.hidden_size, 5 * cfg.hidden_size)
    achieved = training_flops(fast_batches, cfg, classes) / seconds  # mean over all rounds
    emit(
        measure="matmul roofline (fp32 torch.matmul)",
        mean_phrase_nodes_per_level=round(mean_level, 1),
        matmul_gflops_at_level_shape=round(peak_level / 1e9, 2),
        matmul_gflops_at_1024_rows=round(peak_large / 1e9, 2),
        training_gflops=round(achieved / 1e9, 2),
        share_of_level_shape_rate=round(achieved / peak_level, 4),
        share_of_1024_row_rate=round(achieved / peak_large, 4),
    )
    emit(summary="level-batched (height batches) vs per-node training, interleaved rounds", batched_sent_per_s=round(rate, 1),
         reference_sent_per_s=round(ref_rate, 1), round_speedups=ratios, speedup=round(rate / ref_rate, 2))  # fmt: skip


if __name__ == "__main__":
    main()
