"""Translation throughput: the whole-target decoder against step-by-step, batched beam against one at a time.

    python benchmarks/translate.py [--data-dir ../shared/corpora/multi30k] [--steps 3] [--sentences 40]

Untrained model of the issue's size (bi-GRU 512, embeddings 256, joint SentencePiece 8k trained on
20k Multi30k lines, 4,096-token batches); speed does not depend on the weights. Prints JSON lines:
training target tokens/s (fp32 and bf16 autocast, fast vs stepwise), the share of the measured matmul
rate reached, and beam-5 sentences/s batched vs one sentence at a time; the last line has `speedup`.
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

from corpora.readers.parallel import read_split  # noqa: E402
from treeseq.data.parallel import collate_pairs, token_batches  # noqa: E402
from treeseq.tasks.translator import (  # noqa: E402
    DecodeConfig, TranslatorDataConfig, TranslatorModelConfig, build_codec, build_model, decode_ids,
)  # fmt: skip


def emit(**record: object) -> None:
    print(json.dumps({"bench": "translate", **record}), flush=True)


def train_rate(model: torch.nn.Module, batches: list, stepwise: bool, dtype: torch.dtype | None) -> tuple[float, float]:
    """(target tokens/s, model GFLOP/s estimate) for forward + backward over `batches`."""
    model.train()
    tokens, start = 0, time.perf_counter()
    for batch in batches:
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            state = model.encode(batch.src_ids, batch.src_lengths)
            logits = model.stepwise_logits(state, batch.tgt_in) if stepwise else model.whole_target_logits(state, batch.tgt_in)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), batch.tgt_out.flatten(), ignore_index=0)
        loss.backward()
        tokens += batch.num_tgt_tokens
    return tokens / (time.perf_counter() - start), 0.0


def matmul_rate(dtype: torch.dtype) -> float:
    a, b = torch.randn(4096, 256, dtype=dtype), torch.randn(256, 8000, dtype=dtype)
    torch.matmul(a, b)
    start, reps = time.perf_counter(), 5
    for _ in range(reps):
        torch.matmul(a, b)
    return 2 * 4096 * 256 * 8000 * reps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "corpora" / "multi30k")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=40)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = read_split(args.data_dir, "train", "de", "en").pairs[:20000]
    codec = build_codec(pairs, TranslatorDataConfig(vocab_size=args.vocab_size))
    examples, _ = codec.encode_pairs(pairs[:4000], 100, strict=False)
    torch.manual_seed(0)
    model = build_model(TranslatorModelConfig(hidden_size=args.hidden_size), codec)
    lengths = [(len(e.src_ids), len(e.tgt_ids)) for e in examples]
    batches = [collate_pairs([examples[i] for i in b]) for b in token_batches(lengths, 4096, random.Random(0))[: args.steps]]
    # Roofline: 3x forward matmul FLOPs of the output layer + RNN per target token, a rough lower bound.
    flops_per_token = 6 * (256 * len(codec.tgt) + 3 * args.hidden_size * (256 + args.hidden_size) * 2)
    results = {}
    for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        peak = matmul_rate(torch.float32 if dtype is None else torch.bfloat16)
        for path in ("whole_target", "stepwise"):
            rate, _ = train_rate(model, batches, path == "stepwise", dtype)
            results[(precision, path)] = rate
            emit(metric="train_tgt_tokens_per_s", precision=precision, decoder=path, value=round(rate, 1),
                 share_of_matmul_rate=round(rate * flops_per_token / peak, 4), matmul_gflops=round(peak / 1e9, 1))  # fmt: skip
    model.eval()
    sources = [e.src_ids for e in examples[: args.sentences]]
    cfg = DecodeConfig(beam_size=5)
    start = time.perf_counter()
    decode_ids(model, sources, cfg, 6000)
    batched = len(sources) / (time.perf_counter() - start)
    start = time.perf_counter()
    for source in sources[: max(1, args.sentences // 4)]:
        decode_ids(model, [source], cfg, 6000)
    single = max(1, args.sentences // 4) / (time.perf_counter() - start)
    emit(metric="beam5_sentences_per_s", batched=round(batched, 2), one_at_a_time=round(single, 2))
    emit(train_fast_over_stepwise_fp32=round(results[("fp32", "whole_target")] / results[("fp32", "stepwise")], 2),
         bf16_over_fp32=round(results[("bf16", "whole_target")] / results[("fp32", "whole_target")], 2),
         speedup=round(batched / single, 2))  # fmt: skip


if __name__ == "__main__":
    main()
