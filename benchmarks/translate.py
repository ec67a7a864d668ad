"""Translation throughput: the whole-target decoder against step-by-step, batched beam against one at a time.

    python benchmarks/translate.py [--data-dir ../shared/corpora/multi30k] [--steps 8] [--sentences 0 (all)]
                                   [--model runs/de-en.pt] [--precision fp32|bf16]

Training: an untrained model of the issue's size (bi-GRU 512, embeddings 256, joint SentencePiece 8k
trained on 20k Multi30k lines, 4,096-token batches); training speed does not depend on the weights.
Decoding: beam 5 over the val sentences (all, or the first `--sentences`) as `treeseq translate` decodes
a file (one continuous batch, the default budget of source tokens), against the first `--single` of them
decoded one sentence at a time, with the trained model given by `--model` when the file exists
(hypotheses end where a real model ends them), else with the untrained one (every hypothesis runs to
its length budget). Prints JSON lines: training target tokens/s (fp32 and bf16
autocast, whole-target vs stepwise decoder), the share of the measured matmul rate reached, the output
layer's product rate at 5 and 565 rows (the BLAS vs the packed weights decoding uses), and beam-5
sentences/s batched vs one sentence at a time, in interleaved rounds; the last line has `speedup`
(batched over one at a time, total throughputs over the rounds).
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

from treeseq.checkpoint import load_archive  # noqa: E402
from treeseq.corpora.readers.parallel import read_split  # noqa: E402
from treeseq.data.parallel import collate_pairs, pair_batches  # noqa: E402
from treeseq.nn.packed import PackedLinear  # noqa: E402
from treeseq.tasks.translator import (  # noqa: E402
    DecodeConfig,
    TranslatorDataConfig,
    TranslatorInference,
    TranslatorModelConfig,
    build_codec,
    build_model,
    decode_ids,
)  # fmt: skip


def emit(**record: object) -> None:
    print(json.dumps({"bench": "translate", **record}), flush=True)


def train_rate(model: torch.nn.Module, batches: list, stepwise: bool, dtype: torch.dtype | None) -> tuple[float, float]:
    """(target tokens/s, model GFLOP/s estimate) for forward + backward over `batches` (the first one untimed)."""
    model.train()
    tokens, start = 0, time.perf_counter()
    for index, batch in enumerate(batches):
        if index == 1:
            tokens, start = 0, time.perf_counter()
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


def product_rates(vocab: int, embed: int = 256) -> None:
    """The output layer's product (rows, 256) x (256, V): F.linear (the BLAS) vs the packed oneDNN copy decoding uses."""
    torch.manual_seed(0)
    weight, bias = torch.randn(vocab, embed), torch.randn(vocab)
    packed = PackedLinear(weight, bias)
    for rows in (5, 565):
        x = torch.randn(rows, embed)
        rates = {}
        for name, fn in (("linear", lambda x=x: torch.nn.functional.linear(x, weight, bias)), ("packed", lambda x=x: packed(x))):
            fn()
            reps, start = 50, time.perf_counter()
            for _ in range(reps):
                fn()
            rates[name] = round(2 * rows * embed * vocab * reps / (time.perf_counter() - start) / 1e9, 1)
        emit(metric="output_layer_gflops", rows=rows, packed_available=packed.packed, **rates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "corpora" / "multi30k")
    parser.add_argument("--steps", type=int, default=8, help="training batches timed per setting (plus one warm-up)")
    parser.add_argument("--sentences", type=int, default=0, help="val sentences decoded batched (0: all)")
    parser.add_argument("--single", type=int, default=50, help="of those, decoded one at a time")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved batched / one-at-a-time rounds")
    parser.add_argument("--model", type=Path, default=ROOT / "runs" / "de-en.pt", help="trained archive for decoding")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="decoding precision")
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
    batches = [collate_pairs([examples[i] for i in b]) for b in pair_batches(lengths, 4096, random.Random(0))[: args.steps + 1]]
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
    if args.model.is_file():
        inference = TranslatorInference.from_archive(load_archive(args.model, task="translator"), torch.device("cpu"))
        model, codec, source = inference.model, inference.codec, str(args.model)
    else:
        source = "untrained"
    model.eval()
    product_rates(len(codec.tgt))
    val = read_split(args.data_dir, "val", "de", "en").pairs[: args.sentences or None]
    sources = [tuple(ids) for ids in codec.src.encode([p.src for p in val])]
    cfg, budget = DecodeConfig(beam_size=5), TranslatorDataConfig().eval_tokens  # translate's default budget
    decode_ids(model, sources[:10], cfg, budget, precision=args.precision)  # warm-ups
    decode_ids(model, sources[:1], cfg, budget, precision=args.precision)
    single_sources = sources[: max(1, args.single)]
    # Interleaved rounds (this shared VM's speed drifts), throughput over all rounds.
    batched_seconds = single_seconds = 0.0
    round_ratios = []
    for _ in range(max(1, args.rounds)):
        start = time.perf_counter()
        decode_ids(model, sources, cfg, budget, precision=args.precision)
        batched_round = time.perf_counter() - start
        start = time.perf_counter()
        for one in single_sources:
            decode_ids(model, [one], cfg, budget, precision=args.precision)
        single_round = time.perf_counter() - start
        batched_seconds, single_seconds = batched_seconds + batched_round, single_seconds + single_round
        round_ratios.append(round((len(sources) / batched_round) / (len(single_sources) / single_round), 2))
    rounds = max(1, args.rounds)
    batched = rounds * len(sources) / batched_seconds
    single = rounds * len(single_sources) / single_seconds
    emit(metric="beam5_sentences_per_s", model=source, precision=args.precision, sentences=len(sources), rounds=rounds,
         batched=round(batched, 2), one_at_a_time=round(single, 2), round_ratios=round_ratios)  # fmt: skip
    emit(train_fast_over_stepwise_fp32=round(results[("fp32", "whole_target")] / results[("fp32", "stepwise")], 2),
         bf16_over_fp32=round(results[("bf16", "whole_target")] / results[("fp32", "whole_target")], 2),
         speedup=round(batched / single, 2))  # fmt: skip


if __name__ == "__main__":
    main()
