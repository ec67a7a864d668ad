"""Language models end to end: train on plain text with truncated BPTT, measure perplexity, score
lines, generate text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from treeseq.data.lm import Units, to_classes, token_stream
from treeseq.decoding.sampling import Sampling, sample_steps
from treeseq.models.ensemble import LMEnsemble
from treeseq.models.lm import RNNLanguageModel
from treeseq.options import FAMILIES
from treeseq.recipes.common import (
    Configs,
    Family,
    LoadedModel,
    RunSetup,
    Training,
    check_length,
    input_numbers,
    sample_limit,
)
from treeseq.results import Generation, Report, ScoreResult
from treeseq.tasks.lm import (
    MODEL_TRAIN_DEFAULTS,
    TRAIN_DEFAULTS,
    LMDataConfig,
    LMInference,
    LMModelConfig,
    LMTask,
    build_model,
    check_stream,
    find_split,
    read_text,
)  # fmt: skip
from treeseq.text import check_unicode
from treeseq.training.engine import FitResult

FAMILY = Family("lm", LMModelConfig, LMDataConfig, tuple(TRAIN_DEFAULTS.items()))
MAX_TOKENS = 10000  # the longest line scored by default (units)
OPTIONS = FAMILIES["lm"]  # loading, scoring and generating options (treeseq.options)


def train(
    data_dir: str | Path,
    output: str | Path,
    *,
    train_file: str = "train",
    dev_file: str = "dev",
    **options: Any,
) -> FitResult:
    """Train an RNN language model with truncated backpropagation through time.

    `data_dir` holds train.txt and dev.txt (plain or .gz; one sentence or paragraph a line; other
    names with `train_file` and `dev_file`, e.g. train.en and val.en). The
    training text is one stream of units, each line ended by <eos>, cut into `batch_size` parallel
    rows and read in segments of `bptt` steps, the state carried from segment to segment.

    Args:
        options: the run's options (config, overrides, resume, device, progress, epoch_hook, announce:
            see recipes.common.Training.run), model settings (unit: word, char or subword; rnn, layers, embed_dim, hidden_size,
            dropout, weight_drop, embed_dropout, activation_reg, temporal_reg, tie, head: the first level
            of a two-level softmax, 2000 unless given, 0 for one softmax; unigram_bias: the output
            biases start at the training text's log unigram distribution, true unless given;
            vocab_size, min_count, lowercase, tokenized), data settings (bptt, vary_bptt, eval_bptt,
            eval_streams, shuffle_lines) and training settings (epochs, batch_size: parallel streams,
            lr, clip_norm, fused, ema, ...).
    """
    return LMTraining(train_file, dev_file).run(data_dir, output, **options)


@dataclass
class LMData:
    """The units, the training and dev streams, the encoded training lines and where they came from."""

    units: Units
    train_stream: torch.Tensor
    dev_stream: torch.Tensor
    encoded: list
    info: dict


@dataclass
class LMTraining(Training):
    """The language model family's part of a training run (see recipes.common.Training)."""

    train_file: str
    dev_file: str
    family = FAMILY

    def model_defaults(self, saved: dict | None) -> dict[str, Any]:
        return MODEL_TRAIN_DEFAULTS

    def layout_split(self) -> str | None:
        return self.train_file

    def prepare(self, data_dir: Path, cfgs: Configs, saved: dict | None, setup: RunSetup) -> LMData:
        model_cfg, train_cfg, data_cfg = cfgs.model, cfgs.train, cfgs.data
        train_path, dev_path = find_split(data_dir, self.train_file), find_split(data_dir, self.dev_file)
        train_lines = sample_limit(read_text(train_path), cfgs.train.limit, cfgs.train.seed, "lines", train_path)
        dev_lines = read_text(dev_path)
        if saved is None and setup.announce is not None and model_cfg.unit == "subword":
            setup.announce(f"training SentencePiece ({model_cfg.vocab_size:,} pieces) on {len(train_lines):,} lines")
        units = Units.from_dict(saved["vocabs"]["units"]) if saved else Units.build(
            model_cfg.unit, train_lines, vocab_size=model_cfg.vocab_size, min_count=model_cfg.min_count,
            lowercase=model_cfg.lowercase, tokenized=model_cfg.tokenized)  # fmt: skip
        encoded = units.encode(train_lines)
        train_stream = token_stream(encoded, units.eos_id)
        dev_stream = token_stream(units.encode(dev_lines), units.eos_id)
        check_stream(train_stream, train_cfg.batch_size, data_cfg.bptt, train_path, len(train_lines))
        check_stream(dev_stream, data_cfg.eval_streams, 1, dev_path, len(dev_lines))
        info = {"data_dir": str(data_dir), "train": str(train_path), "dev": str(dev_path), "train_tokens": train_stream.numel(),
                "dev_tokens": dev_stream.numel()}  # fmt: skip
        return LMData(units, train_stream, dev_stream, encoded, info)

    def build_model(self, data: LMData, cfgs: Configs, saved: dict | None, setup: RunSetup) -> RNNLanguageModel:
        model = build_model(cfgs.model, data.units)
        if cfgs.model.unigram_bias and saved is None:
            model.init_output_bias(torch.bincount(to_classes(data.train_stream[1:]), minlength=data.units.size - 1))
        return model

    def build_task(self, data: LMData, cfgs: Configs, setup: RunSetup) -> LMTask:
        return LMTask(cfgs.model, cfgs.train, cfgs.data, data.units, data.train_stream, data.dev_stream, data.info,
                      lines=data.encoded if cfgs.data.shuffle_lines else None)  # fmt: skip

    def describe(self, data: LMData, cfgs: Configs) -> str:
        model_cfg = cfgs.model
        return (f"{model_cfg.unit} language model ({model_cfg.rnn} x{model_cfg.layers}, {model_cfg.hidden_size} units): "
                f"{data.train_stream.numel():,} train / {data.dev_stream.numel():,} dev tokens, vocabulary {data.units.size:,}, "
                f"{cfgs.train.batch_size} streams x bptt {cfgs.data.bptt}")  # fmt: skip


class LanguageModel(LoadedModel[ScoreResult]):
    """A loaded language model: `predict` (or `score`) scores lines, `generate` continues a prompt."""

    family = "lm"
    ensemble_network = LMEnsemble
    max_length = MAX_TOKENS

    inference_class = LMInference

    @property
    def config(self) -> LMModelConfig:
        return self.inference.cfg

    @property
    def units(self) -> Units:
        return self.inference.units

    def predict(self, inputs: Sequence[str], *, source: str = "<input>", line_numbers: Sequence[int] | None = None) -> list[ScoreResult]:
        """Each line's log-probability and perplexity, the line read on its own from a fresh state.

        Raises:
            CorpusFormatError: `source:LINE: problem` for a line with no units or more than `max_length`.
        """
        lines = list(inputs)
        numbers = input_numbers(lines, source, line_numbers)
        encoded = self.units.encode(lines)
        for number, ids in zip(numbers, encoded):
            check_length(len(ids), self.max_length, f"{source}:{number}", "tokens", "language model")
        scores = self.inference.score(encoded) if lines else []
        return [ScoreResult(line, tuple(self.units.pieces(s.ids)), tuple(s.token_logprobs)) for line, s in zip(lines, scores)]

    score = predict

    def generate(self, prompt: str = "", *, samples: int = 1, max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int = 0, top_p: float = 1.0, seed: int | None = None,
                 on_text: Callable[[str], None] | None = None) -> list[Generation]:  # fmt: skip
        """Continue a prompt (or start a line): `samples` samples, each up to `max_tokens` units or <eos>.

        temperature 0 is greedy (every sample the same); top_k and top_p filter the distribution
        before sampling. The same seed gives the same samples. `on_text`, when given, is called with
        each piece of text the first sample adds, as soon as it is generated (to stream it), so that
        the pieces joined are that sample's text after the prompt.

        Raises:
            ConfigError: an option out of its bounds (see treeseq.options: samples, max_tokens at most
                treeseq.options.MAX_GENERATED, a seed within 64 bits, temperature, top_k, top_p).
            CorpusFormatError: a prompt that is not valid Unicode or over `max_length`.
        """
        OPTIONS.check("generate", {"prompt": prompt, "samples": samples, "max_tokens": max_tokens, "temperature": temperature,
                                   "top_k": top_k, "top_p": top_p, "seed": seed})  # the family's declaration (treeseq.options)
        check_unicode(prompt, "prompt")
        sampling = Sampling(temperature, top_k, top_p)
        units = self.units
        prompt_ids = units.encode([prompt])[0] if prompt.strip() else []
        if prompt_ids:  # an empty prompt starts a new line
            check_length(len(prompt_ids), self.max_length, "prompt", "tokens", "language model")
        generator = torch.Generator(device=self.inference.device)
        if seed is None:
            generator.seed()  # a fresh seed for this generator alone; the global random state stays as it is
        else:
            generator.manual_seed(seed)
        found: list[Any] = []
        shown, count = "", 0
        for found in sample_steps(self.inference.model, [units.eos_id, *prompt_ids], samples, max_tokens, units.eos_id,
                                  sampling, generator):  # fmt: skip
            if on_text is not None and len(found[0].ids) > count:
                count = len(found[0].ids)
                shown = _stream(on_text, shown, _added_text(units, prompt, prompt_ids, found[0].ids))
        out = []
        for index, sample in enumerate(found):
            added = _added_text(units, prompt, prompt_ids, sample.ids)
            out.append(Generation(prompt, added.strip(), prompt + added, tuple(units.pieces(sample.ids)),
                                  sum(sample.logprobs), sample.ended, index))  # fmt: skip
        return out

    def generate_cost(self, prompt: str = "", *, samples: int = 1, max_tokens: int = 50, **_: Any) -> int:
        """The worst case of `generate` with these options, in the units `cost` counts: the prompt's
        units, read once, and every sample running the whole `max_tokens` steps."""
        return len(self.units.encode([prompt])[0] if prompt.strip() else []) + samples * max_tokens


def _stream(on_text: Callable[[str], None], shown: str, text: str) -> str:
    """Pass on what `text` adds to what was shown already; returns what is shown now."""
    if text.startswith(shown) and len(text) > len(shown):
        on_text(text[len(shown) :])
        return text
    return shown


def _added_text(units: Units, prompt: str, prompt_ids: list[int], ids: list[int]) -> str:
    """The text that generated ids add after the prompt as the user wrote it (unknown words in the prompt stay as written)."""
    if not ids:
        return ""
    if units.unit == "char":
        return units.decode(ids)
    if units.unit == "subword":  # decoded after the prompt's pieces, so that word boundaries come out right
        before, after = units.decode(prompt_ids), units.decode(prompt_ids + ids)
        added = after[len(before):] if after.startswith(before) else " " + units.decode(ids)
        return added if prompt_ids else added.lstrip()
    return (" " if prompt.strip() and not prompt[-1].isspace() else "") + units.decode(ids)


def evaluate(model: LanguageModel, data_dir: str | Path, split: str = "dev", *, predictions: bool = False,
             limit: int | None = None) -> Report:
    """Perplexity (and bits per character) of a split read as one stream with the state carried, as
    training measures dev; `predictions` adds every line's own score."""
    path = find_split(Path(data_dir), split)
    numbered = sample_limit(list(enumerate(read_text(path), start=1)), limit, 0, "lines", path)
    lines = [line for _, line in numbered]
    encoded = model.units.encode(lines)
    metrics, tokens = model.inference.stream_metrics(encoded, sum(len(line) + 1 for line in lines))  # + 1: the line end
    unknown = 0 if model.units.unit == "subword" else sum(i == 1 for ids in encoded for i in ids)
    info = {"lines": len(lines), "tokens": tokens, "unit": model.units.unit, "unknown": unknown}
    report = Report("lm", str(path), {k: v for k, v in metrics.items() if k != "nll"}, info)
    report.info["nll_per_token"] = round(metrics["nll"], 5)
    if predictions:
        report.predictions = model.predict(lines, source=str(path), line_numbers=[n for n, _ in numbered])
    return report



def kneser_ney_baseline(model: LanguageModel, data_dir: str | Path, split: str = "dev", order: int = 5, *,
                        modified: bool = True, discount: float | None = None, train_file: str = "train") -> Report:  # fmt: skip
    """An interpolated (modified) Kneser-Ney n-gram model trained on the same units of train.txt as
    `model` (its vocabulary, its <unk>) and measured on the same tokens of `split`: every unit and
    every line's <eos>, exactly the tokens `evaluate` predicts. `discount` fixes one discount at every
    order instead of estimating modified ones (see treeseq.ngram)."""
    import time  # noqa: PLC0415

    from treeseq.ngram import KneserNey  # noqa: PLC0415

    data_dir = Path(data_dir)
    units = model.units

    def sentences(path: Path) -> list[list[str]]:
        return [units.pieces(ids) for ids in units.encode(read_text(path)) if ids]

    start = time.perf_counter()
    counted = KneserNey(order, modified=modified, discount=discount, eos="<eos>", unk=units.pieces([1])[0])
    counted.fit(sentences(find_split(data_dir, train_file)))
    path = find_split(data_dir, split)
    scored = sentences(path)
    ppl = counted.perplexity(scored)
    tokens = sum(len(s) + 1 for s in scored)
    metrics = {"ppl": ppl}
    if units.unit == "char":
        import math  # noqa: PLC0415

        metrics["bpc"] = math.log2(ppl)
    info = {"lines": len(scored), "tokens": tokens, "unit": units.unit, "order": order,
            "discounts": f"fixed {discount}" if discount else "modified" if modified else "single",
            "seconds": round(time.perf_counter() - start, 2)}  # fmt: skip
    return Report("ngram", str(path), metrics, info)
