"""Language-model speed: truncated BPTT over batched streams against one sentence at a time, the share
of the machine's matmul rate at the model's shapes, and generation speed.

    python benchmarks/lm.py [--data-dir ../shared/corpora/multi30k-en] [--model runs/lm/lstm.pt] [--steps 20]

1. Training throughput in tokens/s (forward, backward, clipping and an Adam step, as the engine does)
   with truncated BPTT over `batch_size` parallel streams, against training on one sentence at a
   time (each its own batch, the state reset), same model, same run.
2. The matmul floor: every matrix product of one training step (input and recurrent products of each
   layer, the projection, the output layer; forward and the two products of backward) timed alone at
   its shape with torch.mm; `matmul_share` is that floor over the measured step time, i.e. the share
   of the machine's measured matmul rate the training step reaches.
3. Generation in tokens/s: one sample at a time and 16 samples as a batch (greedy-free sampling,
   temperature 1).

Without --model it builds an untrained model of the default configuration over the training text's
vocabulary (speed does not depend on the weights). Prints JSON lines; the last carries the headline
ratio (batched streams / one sentence at a time) in `speedup`.
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

from treeseq.checkpoint import load_archive  # noqa: E402
from treeseq.config import TrainConfig  # noqa: E402
from treeseq.data.lm import StreamBatch, Units, token_stream  # noqa: E402
from treeseq.decoding.sampling import Sampling, continue_prompt  # noqa: E402
from treeseq.tasks.lm import (  # noqa: E402
    LMDataConfig,
    LMInference,
    LMModelConfig,
    LMTask,
    build_model,
    find_split,
    read_text,
    segment_loss,
)

DEFAULT_DATA = ROOT.parent / "shared" / "corpora" / "multi30k-en"
GATES = {"lstm": 4, "gru": 3, "rnn": 1, "irnn": 1}


def emit(**record: object) -> None:
    print(json.dumps({"bench": "lm", **record}), flush=True)


def train_steps(model: torch.nn.Module, batches: list, task: LMTask | None, steps: int, warmup: int = 2,
                fused: bool = False) -> tuple[int, float]:  # fmt: skip
    """Tokens and seconds of `steps` optimizer steps after `warmup` untimed ones (`fused`: torch's fused Adam)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused or None)
    model.train()
    tokens, start = 0, 0.0
    for index, batch in enumerate(batches[: warmup + steps]):
        if index == warmup:
            tokens, start = 0, time.perf_counter()
        if task is not None:
            nll, count = task.loss(model, batch)
        else:
            nll, count, _ = segment_loss(model, batch, None)
        optimizer.zero_grad()
        (nll / count).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
        tokens += int(count)
    return tokens, time.perf_counter() - start


def sentence_batches(stream_lines: list[list[int]], eos: int) -> list[StreamBatch]:
    """Each sentence its own batch of one, from a line-start <eos> to its final <eos>, the state reset."""
    out = []
    for ids in stream_lines:
        row = torch.tensor([[eos, *ids, eos]])
        out.append(StreamBatch(row[:, :-1], row[:, 1:], (0,), True))
    return out


def mm_seconds(m: int, k: int, n: int, repeats: int = 5) -> float:
    """Best time of one (m, k) @ (k, n) product."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return best


def matmul_floor(cfg: LMModelConfig, classes: int, rows: int, steps: int) -> tuple[float, float]:
    """Seconds of every matrix product of one training step at its shape (forward + 2 for backward),
    and their floating-point operations."""
    gates, n = GATES[cfg.rnn] * cfg.hidden_size, rows * steps
    products = []  # (count, m, k, n)
    for level in range(cfg.layers):
        size = cfg.embed_dim if level == 0 else cfg.hidden_size
        products += [(1, n, size, gates), (steps, rows, cfg.hidden_size, gates)]
    out_dim = cfg.embed_dim if cfg.tie else cfg.hidden_size
    if cfg.tie and cfg.hidden_size != cfg.embed_dim:
        products.append((1, n, cfg.hidden_size, cfg.embed_dim))
    products.append((1, n, out_dim, classes))
    seconds = sum(3 * count * mm_seconds(m, k, c) for count, m, k, c in products)
    flops = sum(3 * count * 2 * m * k * c for count, m, k, c in products)
    return seconds, flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else None)
    parser.add_argument("--model", type=Path, default=None, help="a trained language model archive (default: untrained, default shapes)")
    parser.add_argument("--steps", type=int, default=20, help="timed BPTT steps")
    parser.add_argument("--sentences", type=int, default=300, help="timed one-sentence steps")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model is not None:
        inference = LMInference.from_archive(load_archive(args.model, task="lm"), torch.device("cpu"))
        cfg, units, data_cfg, model = inference.cfg, inference.units, inference.data_cfg, inference.model
        lines = read_text(find_split(args.data_dir, "train")) if args.data_dir else ["a b c"] * 2000
    else:
        cfg, data_cfg = LMModelConfig(), LMDataConfig()
        lines = read_text(find_split(args.data_dir, "train")) if args.data_dir else [" ".join(["the cat sat"] * 4)] * 2000
        units = Units.build(cfg.unit, lines, vocab_size=cfg.vocab_size)
        model = build_model(cfg, units)
    train_cfg = TrainConfig(batch_size=32)
    encoded = units.encode(lines)
    stream = token_stream(encoded, units.eos_id)
    task = LMTask(cfg, train_cfg, LMDataConfig(bptt=data_cfg.bptt, vary_bptt=False), units, stream, stream[:10])
    batches = [task.collate(b) for b in task.train_batches(0)[: args.steps + 2]]
    emit(setup=True, rnn=cfg.rnn, layers=cfg.layers, hidden=cfg.hidden_size, embed=cfg.embed_dim, classes=units.classes,
         streams=train_cfg.batch_size, bptt=data_cfg.bptt, threads=args.threads)  # fmt: skip
    tokens, seconds = train_steps(model, batches, task, args.steps)
    batched = tokens / seconds
    floor, flops = matmul_floor(cfg, units.classes, train_cfg.batch_size, data_cfg.bptt)
    step = seconds / args.steps
    emit(mode="tbptt", tokens=tokens, seconds=round(seconds, 2), tok_per_s=round(batched), step_ms=round(1000 * step, 1),
         matmul_floor_ms=round(1000 * floor, 1), matmul_share=round(floor / step, 3),
         model_gflop_per_s=round(flops / step / 1e9, 1), machine_mm_gflop_per_s=round(flops / floor / 1e9, 1))  # fmt: skip
    singles = sentence_batches([ids for ids in encoded[: args.sentences + 2] if ids], units.eos_id)
    tokens, seconds = train_steps(model, singles, None, len(singles) - 2)
    single = tokens / seconds
    emit(mode="one_sentence", tokens=tokens, seconds=round(seconds, 2), tok_per_s=round(single))
    model.eval()
    for samples in (1, 16):
        generator = torch.Generator().manual_seed(1)
        start = time.perf_counter()
        found = continue_prompt(model, [units.eos_id], samples, 50, units.eos_id, Sampling(), generator)
        elapsed = time.perf_counter() - start
        made = sum(len(c.logprobs) for c in found)
        emit(mode="generate", samples=samples, tokens=made, tok_per_s=round(made / elapsed))
    emit(headline="tbptt_vs_one_sentence", speedup=round(batched / single, 2))


if __name__ == "__main__":
    main()
