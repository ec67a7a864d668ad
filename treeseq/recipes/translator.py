"""Translators end to end: train on a parallel corpus, evaluate BLEU/chrF, translate raw text."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from treeseq.corpora.readers.parallel import read_split
from treeseq.errors import CorpusFormatError
from treeseq.models.ensemble import Seq2SeqEnsemble
from treeseq.models.seq2seq import Seq2Seq
from treeseq.options import FAMILIES
from treeseq.recipes.common import (
    Configs,
    Family,
    LoadedModel,
    RunSetup,
    Training,
    archive_entry,
    check_length,
    input_numbers,
    sample_limit,
)
from treeseq.results import Report, TranslationHypothesis, TranslationResult
from treeseq.tasks.translator import (
    TRAIN_DEFAULTS,
    Codec,
    DecodeConfig,
    Translation,
    TranslatorDataConfig,
    TranslatorInference,
    TranslatorModelConfig,
    TranslatorTask,
    build_codec,
    build_model,
)  # fmt: skip
from treeseq.training.engine import FitResult

MAX_SUBWORDS = 1000  # longest source decoded by default (subwords)
DEFAULTS = FAMILIES["translator"].defaults("predict")  # beam, n_best, alpha, max_len_ratio, attention
FAMILY = Family(
    "translator", TranslatorModelConfig, TranslatorDataConfig, tuple(TRAIN_DEFAULTS.items()),
)  # fmt: skip


def train(
    data_dir: str | Path,
    output: str | Path,
    **options: Any,
) -> FitResult:
    """Train a translator: bi-GRU/LSTM encoder, attentional decoder, SentencePiece subwords in the archive.

    `data_dir` holds train.SRC/train.TGT and val.SRC/val.TGT (plain or .gz, line-aligned), or
    train.tsv/val.tsv (source TAB target).

    Args:
        options: the run's options (config, overrides, resume, device, progress, epoch_hook, announce:
            see recipes.common.Training.run), model settings (rnn, attention, hidden_size, embed_dim, ...), data settings (src, tgt,
            vocab_size, strict, ...) and training settings (epochs, batch_size: padded target tokens a batch, lr, ...).
    """
    return TranslatorTraining().run(data_dir, output, **options)


@dataclass
class TranslatorData:
    """The parallel splits, the subword models and the encoded training pairs."""

    data_dir: Path
    train: Any
    dev: Any
    codec: Codec
    examples: list


class TranslatorTraining(Training):
    """The translator family's part of a training run (see recipes.common.Training)."""

    family = FAMILY

    def prepare(self, data_dir: Path, cfgs: Configs, saved: dict | None, setup: RunSetup) -> TranslatorData:
        data_cfg = cfgs.data
        train_data = read_split(data_dir, "train", data_cfg.src, data_cfg.tgt, data_cfg.strict)
        train_data = replace(train_data, pairs=sample_limit(train_data.pairs, cfgs.train.limit, cfgs.train.seed, "sentence pairs", train_data.source))
        dev_data = read_split(data_dir, "val", data_cfg.src, data_cfg.tgt, data_cfg.strict)
        if saved is None and setup.announce is not None:
            setup.announce(f"training SentencePiece ({data_cfg.subword_type}, {data_cfg.vocab_size:,} pieces) on {len(train_data.pairs):,} pairs")
        codec = Codec.from_entry(saved["subwords"]) if saved else build_codec(train_data.pairs, data_cfg)
        examples, _ = codec.encode_pairs(train_data.pairs, data_cfg.max_len, data_cfg.strict)
        if not examples or not dev_data.pairs:
            empty = train_data.source if not examples else dev_data.source
            raise CorpusFormatError(f"{empty}: no usable sentence pairs (empty, or all longer than data.max_len={data_cfg.max_len})")
        return TranslatorData(data_dir, train_data, dev_data, codec, examples)

    def build_model(self, data: TranslatorData, cfgs: Configs, saved: dict | None, setup: RunSetup) -> Seq2Seq:
        return build_model(cfgs.model, data.codec)

    def build_task(self, data: TranslatorData, cfgs: Configs, setup: RunSetup) -> TranslatorTask:
        info = {"data_dir": str(data.data_dir), "train": data.train.source, "dev": data.dev.source}
        return TranslatorTask(cfgs.model, cfgs.data, cfgs.train, data.codec, data.examples, data.dev.pairs, info)

    def describe(self, data: TranslatorData, cfgs: Configs) -> str:
        model_cfg, data_cfg, codec = cfgs.model, cfgs.data, data.codec
        return (f"translator {data_cfg.src}->{data_cfg.tgt} ({model_cfg.rnn}, {model_cfg.attention} attention): "
                f"{len(data.examples)} train / {len(data.dev.pairs)} dev pairs, subwords {len(codec.src)}/{len(codec.tgt)}")


class TranslatorModel(LoadedModel[TranslationResult]):
    """A loaded translator: raw text in, raw text out (beam search by default)."""

    family = "translator"
    ensemble_network = Seq2SeqEnsemble
    ensemble_match = (archive_entry("subwords"), archive_entry("config.data.src"), archive_entry("config.data.tgt"))

    max_length = MAX_SUBWORDS

    inference_class = TranslatorInference

    @property
    def config(self) -> TranslatorModelConfig:
        return self.inference.model_cfg

    @property
    def languages(self) -> tuple[str, str]:
        return self.inference.data_cfg.src, self.inference.data_cfg.tgt

    def predict(self, inputs: Sequence[str], beam: int = DEFAULTS["beam"], n_best: int = DEFAULTS["n_best"],
                alpha: float = DEFAULTS["alpha"], max_len_ratio: float = DEFAULTS["max_len_ratio"],
                attention: bool = DEFAULTS["attention"], *, source: str = "<input>",
                line_numbers: Sequence[int] | None = None) -> list[TranslationResult]:  # fmt: skip
        """The n best translations of each sentence.

        Args:
            beam: beam size (1: greedy search).
            alpha: length penalty exponent (GNMT; 0: none).
            max_len_ratio: output budget, this ratio times the source subwords plus 10.
            attention: keep each hypothesis's attention matrix (target pieces x source pieces).
            source, line_numbers: name the inputs in errors (`source:LINE`).

        Raises:
            CorpusFormatError: a sentence of more than `max_length` subwords (default 1,000).
        """
        cfg = DecodeConfig(beam_size=beam, alpha=alpha, max_len_ratio=max_len_ratio, n_best=n_best)
        numbers = input_numbers(inputs, source, line_numbers)
        # A subword covers at least one byte, so only lines longer in bytes than the limit need encoding here.
        long = [(n, text) for n, text in zip(numbers, inputs) if len(text.encode("utf-8")) > self.max_length]
        for (number, _), pieces in zip(long, self.inference.codec.src.encode([text for _, text in long])):
            if len(pieces) > self.max_length:
                check_length(len(pieces), self.max_length, f"{source}:{number}", "subwords", "translator")
        return [_result(t) for t in self.inference.translate(list(inputs), cfg, attention)]

    def cost(self, inputs: Sequence[str], beam: int = DEFAULTS["beam"], n_best: int = DEFAULTS["n_best"],
             alpha: float = DEFAULTS["alpha"], max_len_ratio: float = DEFAULTS["max_len_ratio"],
             attention: bool = DEFAULTS["attention"], **_: Any) -> int:  # fmt: skip
        """The worst case of `predict` with these options: every beam hypothesis decodes the whole output
        budget (max_len_ratio x S + 10 steps) and attends over all S source subwords at each step
        (the attention kept in memory, and answered with `attention`), summed over the sentences."""
        sizes = [len(pieces) for pieces in self.inference.codec.src.encode(list(inputs))] if inputs else []
        return sum(beam * (math.ceil(max_len_ratio * size) + 10) * max(size, 1) for size in sizes)

    def score(self, sources: Sequence[str], references: Sequence[str]) -> list[float]:
        """Each reference's log-probability given its source (forced decoding)."""
        if len(sources) != len(references):
            raise CorpusFormatError(f"{len(references)} references for {len(sources)} sources")
        return self.inference.score(list(sources), list(references))


def _result(found: Translation) -> TranslationResult:
    hypotheses = []
    for text, hyp, pieces in zip(found.texts, found.hypotheses, found.target_pieces):
        attention = None if hyp.attention is None else tuple(tuple(row) for row in hyp.attention.tolist())
        hypotheses.append(TranslationHypothesis(text, hyp.score, hyp.log_prob, tuple(pieces), attention))
    return TranslationResult(found.source, tuple(hypotheses), tuple(found.source_pieces))


def evaluate(model: TranslatorModel, data_dir: str | Path, split: str = "val", *, beam: int = DEFAULTS["beam"],
             predictions: bool = False, limit: int | None = None) -> Report:  # fmt: skip
    """sacrebleu BLEU (cased and lowercased) and chrF with their signatures, on NAME.SRC/NAME.TGT."""
    inference = model.inference
    data = read_split(Path(data_dir), split, inference.data_cfg.src, inference.data_cfg.tgt)
    data = replace(data, pairs=sample_limit(data.pairs, limit, 0, "sentence pairs", data.source))
    start = time.perf_counter()
    with torch.no_grad():
        scores, outputs = inference.evaluate(data.pairs, DecodeConfig(beam_size=beam))
    seconds = time.perf_counter() - start
    metrics = {k: float(v) for k, v in scores.items() if not isinstance(v, str)}
    signatures = {k: v for k, v in scores.items() if isinstance(v, str)}
    info = {"sentences": len(data.pairs), "beam": beam, "precision": inference.precision, "seconds": round(seconds, 2),
            **signatures}  # fmt: skip
    report = Report("translator", data.source, metrics, info)
    if predictions:
        report.predictions = outputs
    return report
