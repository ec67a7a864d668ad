"""Tagging throughput: batched against one sentence at a time, and the CRF against plain Python.

    python benchmarks/tagger.py [--model runs/ewt.pt] [--data-dir ../shared/corpora/ud-english-ewt]

1. Batched tagging of the EWT dev set in words/s, *including* reading the CoNLL-U file and writing
   the tagged CoNLL-U text, against tagging one sentence at a time (same model, same run).
2. The CRF's vectorized forward algorithm and Viterbi against a plain Python reference (ATIS-sized
   tag set), which must agree.

Without --model it builds an untrained tagger of the default configuration over the EWT training
vocabulary (speed does not depend on the weights). Prints JSON lines; the last carries the headline
ratio (batched / one at a time) in `speedup`. Runs in under 2 minutes with the defaults (about 15 s).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from treeseq.checkpoint import load_archive  # noqa: E402
from treeseq.corpora.readers.conllu import UPOS, read_conllu, write_conllu  # noqa: E402
from treeseq.corpora.readers.tagging import conllu_sentences, find_split, read_split  # noqa: E402
from treeseq.nn.crf import CRF  # noqa: E402
from treeseq.tasks.tagger import (  # noqa: E402
    TaggerDataConfig,
    TaggerInference,
    TaggerModelConfig,
    build_encoder,
    build_model,
)  # fmt: skip

DEFAULT_DATA = ROOT.parent / "shared" / "corpora" / "ud-english-ewt"


def emit(**record: object) -> None:
    print(json.dumps({"bench": "tagger", **record}), flush=True)


def load_predictor(model: Path | None, data_dir: Path) -> TaggerInference:
    if model is not None:
        return TaggerInference.from_archive(load_archive(model, task="tagger"), torch.device("cpu"))
    cfg = TaggerModelConfig().resolved("pos")
    encoder = build_encoder(read_split(data_dir, "train").sentences, cfg, "pos")
    network = build_model(cfg, encoder, "pos").eval()
    return TaggerInference(network, cfg, TaggerDataConfig(), encoder, "pos")


def tag_file(inference: TaggerInference, path: Path, out: io.StringIO) -> tuple[int, float]:
    """Read, tag and write a CoNLL-U file as `treeseq tag --format conllu` does: (words, UPOS accuracy)."""
    sentences = read_conllu(path)
    predictions = inference.predict(conllu_sentences(sentences, "upos", str(path)))
    out.write(write_conllu(s.with_column(UPOS, p.tags) for s, p in zip(sentences, predictions)))
    pairs = [(g, t) for s, p in zip(sentences, predictions) for g, t in zip(s.column(UPOS), p.tags)]
    return len(pairs), sum(g == t for g, t in pairs) / max(1, len(pairs))


def time_batched(inference: TaggerInference, path: Path, precision: str, repeats: int = 2) -> dict:
    """Best of `repeats` timed passes (after a warm-up) of read + tag + write."""
    inference.precision = precision
    tag_file(inference, path, io.StringIO())
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        words, accuracy = tag_file(inference, path, io.StringIO())
        best = min(best, time.perf_counter() - start)
    inference.precision = "fp32"
    return {"words": words, "words_per_s": round(words / best), "seconds": round(best, 3), "upos_acc": round(accuracy, 4)}


def one_at_a_time(inference: TaggerInference, path: Path, limit: int) -> tuple[int, float]:
    """Words and seconds for reading, tagging and writing the first `limit` sentences one by one."""
    start = time.perf_counter()
    sentences = read_conllu(path)[:limit]
    tagged = conllu_sentences(sentences, "upos", str(path))
    out, words = io.StringIO(), 0
    for conllu, sentence in zip(sentences, tagged):
        prediction = inference.predict([sentence])[0]
        out.write(write_conllu([conllu.with_column(UPOS, prediction.tags)]))
        words += len(sentence.tokens)
    return words, time.perf_counter() - start


def python_log_partition(emissions: list[list[float]], start: list[float], trans: list[list[float]], end: list[float]) -> float:
    alpha = [s + e for s, e in zip(start, emissions[0])]
    size = len(start)
    for row in emissions[1:]:
        alpha = [_logsumexp([alpha[i] + trans[i][j] for i in range(size)]) + row[j] for j in range(size)]
    return _logsumexp([a + e for a, e in zip(alpha, end)])


def python_viterbi(emissions: list[list[float]], start: list[float], trans: list[list[float]], end: list[float]) -> list[int]:
    score = [s + e for s, e in zip(start, emissions[0])]
    size, back = len(start), []
    for row in emissions[1:]:
        best = [max(range(size), key=lambda i, j=j: score[i] + trans[i][j]) for j in range(size)]
        score = [score[best[j]] + trans[best[j]][j] + row[j] for j in range(size)]
        back.append(best)
    last = max(range(size), key=lambda j: score[j] + end[j])
    path = [last]
    for best in reversed(back):
        path.append(best[path[-1]])
    return path[::-1]


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def bench_crf(num_tags: int, batch: int, length: int, reference_sentences: int) -> dict:
    torch.manual_seed(0)
    crf = CRF(num_tags)
    with torch.no_grad():
        for param in crf.parameters():
            param.normal_()
    emissions = torch.randn(batch, length, num_tags)
    mask = torch.ones(batch, length, dtype=torch.bool)
    with torch.no_grad():
        crf.viterbi(emissions, mask)  # warm-up
    start = time.perf_counter()
    with torch.no_grad():
        log_z = crf.log_partition(emissions, mask)
        paths, _ = crf.viterbi(emissions, mask)
    vectorized = (time.perf_counter() - start) / batch
    params = [p.tolist() for p in (crf.start, crf.transitions, crf.end)]
    start = time.perf_counter()
    for row in range(reference_sentences):
        ref_z = python_log_partition(emissions[row].tolist(), params[0], params[1], params[2])
        ref_path = python_viterbi(emissions[row].tolist(), params[0], params[1], params[2])
        assert abs(ref_z - float(log_z[row])) < 1e-2 * max(1.0, abs(ref_z)) and ref_path == paths[row].tolist()
    reference = (time.perf_counter() - start) / reference_sentences
    return {"tags": num_tags, "length": length, "batch": batch, "vectorized_sent_per_s": round(1 / vectorized, 1),
            "python_sent_per_s": round(1 / reference, 2), "crf_speedup": round(reference / vectorized, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a trained tagger archive (default: untrained, same shapes)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.is_dir() else ROOT / "corpora/samples/pos")
    parser.add_argument("--single-sentences", type=int, default=400)
    # One thread by default: on a shared 2-core machine a second OpenMP thread waits on a busy core and
    # makes small per-step kernels several times slower; pass --threads 2 on an idle machine.
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    inference = load_predictor(args.model, args.data_dir)
    _, dev = find_split(args.data_dir, "dev")
    model = str(args.model or "untrained default config")
    fp32 = time_batched(inference, dev, "fp32")
    emit(mode="batched", precision="fp32", data=str(dev), threads=args.threads, model=model,
         includes="read + tag + write CoNLL-U", **fp32)  # fmt: skip
    from treeseq.device import autocast_dtype  # noqa: PLC0415

    bf16 = time_batched(inference, dev, "bf16") if autocast_dtype("cpu", "bf16") is not None else {"words_per_s": None}
    emit(mode="batched", precision="bf16", threads=args.threads,
         **(bf16 if bf16["words_per_s"] is not None else {"skipped": "this CPU has no bf16 units"}))  # fmt: skip
    single_words, seconds = one_at_a_time(inference, dev, args.single_sentences)
    single = single_words / seconds
    emit(mode="one-sentence-at-a-time", precision="fp32", sentences=args.single_sentences, words=single_words,
         words_per_s=round(single))  # fmt: skip
    emit(bench_crf_forward_viterbi=bench_crf(num_tags=121, batch=64, length=20, reference_sentences=3))
    emit(metric="batched vs one-at-a-time tagging words/s (fp32)", batched_words_per_s=fp32["words_per_s"],
         batched_bf16_words_per_s=bf16["words_per_s"], single_words_per_s=round(single),
         speedup=round(fp32["words_per_s"] / single, 1))  # fmt: skip

if __name__ == "__main__":
    main()
