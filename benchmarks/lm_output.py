"""Language-model training step: one softmax against the two-level softmax, plain against fused Adam.

    python benchmarks/lm_output.py [--data-dir ../shared/corpora/multi30k-en] [--size 384] [--head 2000] [--threads 2]

Builds untrained word LSTM language models (2 layers, tied embeddings, dropout 0.3) over the training
text's vocabulary (lowercased, words seen once are <unk>, as the documented runs use it) and times
training steps on the real token stream, so the share of targets that fall in the tail is the
corpus's: forward, loss, backward, gradient clipping at 0.25 and an Adam step, as the engine runs
them, with `--streams` rows of `--bptt` steps. Four variants in the same run: one softmax or a
two-level softmax with a `--head`-word first level, each with torch's plain or fused Adam.
`speedup` is tokens/s over the first variant's (one softmax, plain Adam). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.lm import train_steps  # noqa: E402
from treeseq.config import TrainConfig  # noqa: E402
from treeseq.data.lm import Units, to_classes, token_stream  # noqa: E402
from treeseq.tasks.lm import LMDataConfig, LMModelConfig, LMTask, build_model, find_split, read_text  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "corpora" / "multi30k-en"


def emit(**record: object) -> None:
    print(json.dumps({"bench": "lm_output", **record}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else None)
    parser.add_argument("--size", type=int, default=384, help="embedding and hidden size")
    parser.add_argument("--head", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--steps", type=int, default=80, help="timed steps per variant (after 5 untimed)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.data_dir is not None:
        lines = read_text(find_split(args.data_dir, "train"))
    else:  # a synthetic Zipf-like text: a few frequent words and a long tail
        lines = [" ".join(f"w{(i * 7 + j) % 50 if j % 3 else (i * 13 + j) % 4000}" for j in range(12)) for i in range(8000)]
    units = Units.build("word", lines, min_count=2, lowercase=True)
    stream = token_stream(units.encode(lines), units.eos_id)
    data_cfg = LMDataConfig(bptt=args.bptt, vary_bptt=False)
    task = LMTask(LMModelConfig(), TrainConfig(batch_size=args.streams), data_cfg, units, stream, stream[:10])
    batches = [task.collate(b) for b in task.train_batches(0)[: args.steps + 5]]
    targets = torch.cat([to_classes(b.targets).flatten() for b in batches])
    emit(setup=True, classes=units.classes, head=args.head, tail_share=round(float((targets >= args.head).float().mean()), 4),
         size=args.size, streams=args.streams, bptt=args.bptt, threads=args.threads)  # fmt: skip
    baseline = None
    for head in (0, args.head):
        for fused in (False, True):
            torch.manual_seed(0)
            cfg = LMModelConfig(embed_dim=args.size, hidden_size=args.size, layers=2, dropout=0.3, head=head)
            model = build_model(cfg, units)
            task.state = None
            tokens, seconds = train_steps(model, batches, task, args.steps, warmup=5, fused=fused)
            rate = tokens / seconds
            baseline = baseline or rate
            emit(softmax="two-level" if model.head else "one", fused_adam=fused, tok_per_s=round(rate),
                 step_ms=round(1000 * seconds / args.steps, 1), speedup=round(rate / baseline, 2))  # fmt: skip


if __name__ == "__main__":
    main()
