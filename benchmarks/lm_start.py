"""The start of language-model training: uniform output biases against the unigram start, over
several orders of the same training lines.

    python benchmarks/lm_start.py [--data-dir ../shared/corpora/multi30k-en] [--size 384] [--steps 300] [--orders 4]

Trains the documented word LSTM (2 layers, tied embeddings, dropout 0.3, the two-level softmax with a
2,000-word head; `train lm`'s training defaults: fused Adam at 3e-3 decaying linearly over a run of
`--epochs`, clipping at 0.25, 8 streams, bptt 35 varied) with the training engine for its first
`--steps` steps, from the same initial weights, on `--orders` orders of the training lines:
the file's own, then shuffles with seeds 1, 2, ... Each order is trained twice: output biases at zero
(the uniform start) and at the training text's log unigram distribution (`model.unigram_bias`).
Prints one JSON line per run: the mean training loss (nats) over each fifth of the steps, the
highest single-step loss (a spike above the initial ln(classes) is a diverging first phase) and the
dev perplexity after the steps. Measures how much of the first phase each start spends at the
unigram plateau, and how much that depends on the order of the lines.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from treeseq.config import TrainConfig  # noqa: E402
from treeseq.data.lm import Units, to_classes, token_stream  # noqa: E402
from treeseq.tasks.lm import (  # noqa: E402
    TRAIN_DEFAULTS,
    LMDataConfig,
    LMModelConfig,
    LMTask,
    build_model,
    find_split,
    read_text,
    stream_nll,
)
from treeseq.training.engine import TrainState, fit  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "corpora" / "multi30k-en"


def emit(**record: object) -> None:
    print(json.dumps({"bench": "lm_start", **record}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size", type=int, default=384, help="embedding and hidden size")
    parser.add_argument("--head", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--orders", type=int, default=4, help="the file's order and orders-1 shuffles")
    parser.add_argument("--epochs", type=int, default=9, help="the schedule's length (lr decays linearly over it)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = read_text(find_split(args.data_dir, "train"))
    units = Units.build("word", lines, min_count=2, lowercase=True)
    encoded = units.encode(lines)
    stream = token_stream(encoded, units.eos_id)
    dev = token_stream(units.encode(read_text(find_split(args.data_dir, "dev"))), units.eos_id)
    counts = torch.bincount(to_classes(stream[1:]), minlength=units.size - 1)
    cfg = LMModelConfig(embed_dim=args.size, hidden_size=args.size, layers=2, dropout=0.3, head=args.head)
    train_cfg = TrainConfig(**{**TRAIN_DEFAULTS, "epochs": args.epochs, "batch_size": 8, "log_every": 10**9})
    emit(setup=True, classes=units.classes, uniform_loss=round(math.log(units.classes), 3), steps=args.steps, size=args.size)
    for order in range(args.orders):
        lines_in_order = encoded if order == 0 else random.Random(order).sample(encoded, len(encoded))
        for unigram in (False, True):
            task = LMTask(cfg, train_cfg, LMDataConfig(), units, token_stream(lines_in_order, units.eos_id), dev)
            torch.manual_seed(train_cfg.seed)  # as `train lm` builds it
            model = build_model(cfg, units)
            if unigram:
                model.init_output_bias(counts)
            losses: list[float] = []

            def record(state: TrainState, step: dict, losses: list = losses) -> None:
                losses.append(step["loss"])
                state.stop_requested = len(losses) >= args.steps

            with tempfile.TemporaryDirectory() as folder:  # the engine's checkpoints, not kept
                fit(task, model, train_cfg, Path(folder) / "lm.pt", torch.device("cpu"), show_progress=False, step_hooks=[record])
            fifth = max(1, len(losses) // 5)
            nll, tokens = stream_nll(model, dev)
            emit(order="file" if order == 0 else f"shuffle {order}", start="unigram" if unigram else "uniform",
                 loss_by_fifth=[round(sum(losses[i : i + fifth]) / len(losses[i : i + fifth]), 3) for i in range(0, len(losses), fifth)][:5],
                 max_loss=round(max(losses), 3), dev_ppl=round(math.exp(nll / tokens), 2))  # fmt: skip

if __name__ == "__main__":
    main()
