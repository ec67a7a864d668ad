"""Sequence tagging: POS tags, chunk tags (slots, NER) and joint intent + slots (NLU).

The kind of task comes from the training data: sentences with intents make an `nlu` task, chunk tags
(every tag `O` or `B-/I-/E-/S-TYPE`) a `slots` task, anything else (UPOS, XPOS) a `pos` task. Chunk
tags are converted to the model's scheme (`model.scheme`) for training and decoding; evaluation reads
gold and predicted chunks with conlleval's rules, so the scheme does not change the figures.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import torch
from torch import Tensor, nn

from treeseq.checkpoint import make_archive
from treeseq.config import FAMILY_TRAIN_DEFAULTS, TrainConfig, choice
from treeseq.data.batching import budget_batches, pooled_batches
from treeseq.data.tagging import (
    Encoder,
    TaggedSentence,
    TaggingBatch,
    TaggingExample,
    collate,
)  # fmt: skip
from treeseq.device import autocast, check_inference_precision, epoch_rng
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.metrics import ChunkReport, conlleval
from treeseq.models.tagger import OUTPUTS, BiRNNTagger
from treeseq.nn.char_encoder import CHAR_KINDS
from treeseq.nn.rnn import RNNS
from treeseq.tags import SCHEMES, allowed_transitions, convert, looks_like_chunks
from treeseq.vocab import Vocab

TASK = "tagger"
KINDS = ("pos", "slots", "nlu")
METRICS = {"pos": "acc", "slots": "slot_f1", "nlu": "nlu_mean"}
# The engine's defaults suit tree models; taggers start from these (a TOML file or --set still wins).
TRAIN_DEFAULTS = FAMILY_TRAIN_DEFAULTS["tagger"]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaggerModelConfig:
    """The tagger's architecture and label settings (stored in the archive)."""

    word_dim: int = 100
    char_kind: str = "cnn"
    char_dim: int = 32
    char_out: int = 64
    rnn: str = "lstm"
    hidden_size: int = 200  # per direction
    layers: int = 2
    output: str = "auto"  # softmax, crf, or auto: crf for chunk tags, softmax for POS
    scheme: str = "bio"  # chunk tags are trained and decoded in this scheme
    dropout: float = 0.33
    word_dropout: float = 0.05
    lowercase: bool = True  # word vocabulary; the character features keep the case
    min_count: int = 1
    intent_weight: float = 1.0
    sparse_embeddings: bool = False

    def __post_init__(self) -> None:
        choice(self, "char_kind", CHAR_KINDS)
        choice(self, "rnn", RNNS)
        choice(self, "output", (*OUTPUTS, "auto"))
        choice(self, "scheme", SCHEMES)
        if not (0.0 <= self.dropout < 1.0 and 0.0 <= self.word_dropout < 1.0):
            raise ConfigError("model.dropout and model.word_dropout must be in [0, 1)")
        if min(self.word_dim, self.char_dim, self.char_out, self.hidden_size, self.layers, self.min_count) < 1:
            raise ConfigError("model sizes, layers and min_count must be >= 1")

    def resolved(self, kind: str) -> TaggerModelConfig:
        """The config with `output=auto` decided for a task kind."""
        if self.output != "auto":
            return self
        return replace(self, output="softmax" if kind == "pos" else "crf")


@dataclass(frozen=True)
class TaggerDataConfig:
    """Which columns hold tokens and tags (stored in the archive)."""

    column: str = "upos"  # CoNLL-U: upos or xpos
    token_column: int = 0  # CoNLL column files
    tag_column: int = -1
    eval_tokens: int = 6000  # padded tokens per prediction batch

    def __post_init__(self) -> None:
        choice(self, "column", ("upos", "xpos"))
        if self.eval_tokens < 1:
            raise ConfigError("data.eval_tokens must be >= 1")


def task_kind(sentences: Sequence[TaggedSentence]) -> str:
    """pos, slots or nlu, from the training sentences (see the module docstring)."""
    with_intent = sum(s.intent is not None for s in sentences)
    if with_intent and with_intent != len(sentences):
        missing = next(s for s in sentences if s.intent is None)
        raise CorpusFormatError(f"{missing.where}: a sentence without an intent among sentences with intents")
    if with_intent:
        return "nlu"
    return "slots" if looks_like_chunks(t for s in sentences for t in s.tags or ()) else "pos"


def training_tags(sentence: TaggedSentence, kind: str, scheme: str) -> tuple[str, ...]:
    """Gold tags as the model learns them: chunk tags converted (and repaired) to `scheme`."""
    tags = sentence.tags or ()
    return tags if kind == "pos" else tuple(convert(tags, scheme))


def build_encoder(sentences: Sequence[TaggedSentence], cfg: TaggerModelConfig, kind: str) -> Encoder:
    """Vocabularies of words, characters, tags and intents from the training sentences."""
    words = Vocab.build((t for s in sentences for t in s.tokens), cfg.min_count, lowercase=cfg.lowercase)
    chars = Vocab.build(c for s in sentences for t in s.tokens for c in t)
    tags = sorted({t for s in sentences for t in training_tags(s, kind, cfg.scheme)})
    intents = sorted({s.intent for s in sentences if s.intent is not None}) if kind == "nlu" else []
    return Encoder(words, chars, tags, intents)


def check_labels(sentences: Sequence[TaggedSentence], encoder: Encoder, kind: str) -> None:
    """POS tags form a closed set: a gold tag the model cannot predict is an input error.

    Chunk tags and intents are open sets: unseen ones (ATIS's valid split has one of each) are scored
    as errors and logged, not rejected.

    Raises:
        CorpusFormatError: `file:line:` of the first sentence with an unknown POS tag, or data none of
            whose tags the model knows (a folder that is not a tagging corpus of this model's kind).
    """
    unseen = 0
    if sentences and not any(tag in encoder.tag_index for s in sentences for tag in s.tags or ()):
        first = next(iter(sentences[0].tags or ()), None)
        raise CorpusFormatError(f"{sentences[0].where}: none of the data's tags (e.g. {first!r}) is one the model "
                                "predicts; is this a tagging corpus of this model's kind?")  # fmt: skip
    for sentence in sentences:
        for index, tag in enumerate(sentence.tags or ()):
            if tag not in encoder.tag_index and kind == "pos":
                raise CorpusFormatError(
                    f"{sentence.where}: token {index + 1} ({sentence.tokens[index]!r}) has tag {tag!r}, "
                    "which does not occur in the training data"
                )
        unseen += sentence.intent is not None and sentence.intent not in encoder.intent_index
    if unseen:
        logger.warning("%d sentence(s) have an intent the model has not seen; they count as wrong", unseen)


def encode_sentences(sentences: Sequence[TaggedSentence], encoder: Encoder, kind: str, scheme: str) -> list[TaggingExample]:
    """Training examples: chunk tags converted to the model's scheme first."""
    return [encoder.encode(replace(s, tags=training_tags(s, kind, scheme))) for s in sentences]


def build_model(cfg: TaggerModelConfig, encoder: Encoder, kind: str) -> BiRNNTagger:
    """The network for a resolved config (output is softmax or crf) and its vocabularies."""
    constraints = allowed_transitions(encoder.tags, cfg.scheme) if kind != "pos" else None
    return BiRNNTagger(
        len(encoder.words), len(encoder.chars), len(encoder.tags), len(encoder.intents),
        word_dim=cfg.word_dim, char_dim=cfg.char_dim, char_out=cfg.char_out, char_kind=cfg.char_kind,
        rnn=cfg.rnn, hidden_size=cfg.hidden_size, layers=cfg.layers, output=cfg.output,
        constraints=constraints, dropout=cfg.dropout, word_dropout=cfg.word_dropout,
        sparse_embeddings=cfg.sparse_embeddings,
    )  # fmt: skip


def tagging_loss(crf: nn.Module | None, scores: Tensor, intent_logits: Tensor | None, batch: TaggingBatch,
                 intent_weight: float = 1.0) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The training loss: (summed loss, number of tokens); tag loss summed over tokens (softmax) or sentences (CRF).

    The intent loss is scaled by the mean sentence length, so after the engine divides by the token
    count it weighs like a per-sentence mean beside the per-token tag loss.
    """
    tokens = batch.mask.sum()
    if crf is not None:
        labelled = ((batch.tag_ids >= 0) | ~batch.mask).all(dim=1)  # unknown tags: no loss for the sentence
        total = crf.neg_log_likelihood(scores, batch.tag_ids.clamp_min(0), batch.mask)
        total = (total * labelled.float()).sum()
    else:
        total = nn.functional.cross_entropy(scores.flatten(0, 1).float(), batch.tag_ids.flatten(),
                                            ignore_index=-1, reduction="sum")  # fmt: skip
    if intent_logits is not None:
        intent = nn.functional.cross_entropy(intent_logits.float(), batch.intent_ids, ignore_index=-1, reduction="sum")
        total = total + intent_weight * intent * tokens.float() / max(1, len(batch.lengths))
    return total, tokens


@dataclass
class Prediction:
    """Tags of one sentence (with per-token probabilities) and, for NLU models, the intent."""

    tags: list[str]
    tag_probs: list[float]
    intent: str | None = None
    intent_prob: float | None = None


@torch.no_grad()
def predict_examples(
    model: BiRNNTagger, encoder: Encoder, examples: Sequence[TaggingExample], max_tokens: int = 6000,
    precision: str = "fp32",
) -> list[Prediction]:
    """Predictions in input order; batches are sorted by length and hold about `max_tokens` padded tokens.

    With precision bf16 the network runs under bfloat16 autocast (faster on CPUs with bf16 units);
    probabilities, the CRF and Viterbi stay in fp32.
    """
    device = next(model.parameters()).device
    out: list[Prediction | None] = [None] * len(examples)
    lengths = [len(e) for e in examples]
    for indices in budget_batches(lengths, lengths, max_tokens, max_items=1024):
        batch = collate([examples[i] for i in indices], encoder).to(device)
        with autocast(device.type, precision):
            tags, tag_probs, intents = model.predict(batch)
        tag_rows, prob_rows = tags.cpu().tolist(), tag_probs.cpu().tolist()
        if intents is not None:
            intent_prob, intent_ids = (t.cpu().tolist() for t in intents.max(dim=-1))
        for row, index in enumerate(indices):
            length = len(examples[index])
            prediction = Prediction([encoder.tags[t] for t in tag_rows[row][:length]], prob_rows[row][:length])
            if intents is not None:
                prediction.intent, prediction.intent_prob = encoder.intents[intent_ids[row]], intent_prob[row]
            out[index] = prediction
    return out  # type: ignore[return-value]


@dataclass
class TaggingReport:
    """Evaluation figures: the metrics dict, and conlleval's per-type counts for chunk tasks."""

    metrics: dict[str, float]
    chunks: ChunkReport | None
    sentences: int
    tokens: int


def score(sentences: Sequence[TaggedSentence], predictions: Sequence[Prediction], kind: str) -> TaggingReport:
    """Token accuracy; for chunk tasks conlleval P/R/F1 (both sides read as BIO); for NLU intent and frame accuracy."""
    gold = [list(s.tags or ()) for s in sentences]
    pred = [p.tags for p in predictions]
    tokens = sum(map(len, gold))
    if kind == "pos":
        correct = sum(g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
        return TaggingReport({"acc": correct / max(1, tokens)}, None, len(gold), tokens)
    gold, pred = [convert(g, "bio") for g in gold], [convert(p, "bio") for p in pred]
    chunks = conlleval(gold, pred)
    metrics = {"acc": chunks.accuracy, "slot_p": chunks.overall.precision, "slot_r": chunks.overall.recall,
               "slot_f1": chunks.overall.f1}  # fmt: skip
    if kind == "nlu":
        intent_ok = [s.intent == p.intent for s, p in zip(sentences, predictions)]
        frames = [ok and g == p for ok, g, p in zip(intent_ok, gold, pred)]
        metrics["intent_acc"] = sum(intent_ok) / max(1, len(intent_ok))
        metrics["frame_acc"] = sum(frames) / max(1, len(frames))
        metrics["nlu_mean"] = (metrics["slot_f1"] + metrics["intent_acc"]) / 2
    return TaggingReport(metrics, chunks, len(gold), tokens)


class TaggerTask:
    """The engine's view of tagging."""

    unit = "tok"

    def __init__(
        self,
        kind: str,
        cfg: TaggerModelConfig,
        train_cfg: TrainConfig,
        encoder: Encoder,
        train: Sequence[TaggingExample],
        dev: Sequence[TaggedSentence],
        data_cfg: TaggerDataConfig = TaggerDataConfig(),
        data_info: dict | None = None,
    ) -> None:
        self.kind, self.cfg, self.train_cfg, self.encoder = kind, cfg, train_cfg, encoder
        self.metric = METRICS[kind]
        self.train, self.dev = list(train), list(dev)
        self.data_cfg, self.data_info = data_cfg, data_info or {}
        self._dev_examples = [encoder.encode(s, with_labels=False) for s in self.dev]

    def train_batches(self, epoch: int) -> list[list[TaggingExample]]:
        rng = epoch_rng(self.train_cfg.seed, epoch)
        batches = pooled_batches(len(self.train), self.train_cfg.batch_size, rng, key=[len(e) for e in self.train].__getitem__)
        return [[self.train[i] for i in batch] for batch in batches]

    def collate(self, examples: Sequence[TaggingExample]) -> TaggingBatch:
        return collate(examples, self.encoder)

    def loss(self, model: nn.Module, batch: TaggingBatch) -> tuple[Tensor, Tensor]:
        scores, intent_logits = model(batch)  # through the (DDP-wrapped) forward
        return tagging_loss(getattr(model, "module", model).crf, scores, intent_logits, batch, self.cfg.intent_weight)

    def items(self, batch: TaggingBatch) -> int:
        return batch.num_tokens

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        predictions = predict_examples(model, self.encoder, self._dev_examples, self.data_cfg.eval_tokens)  # type: ignore[arg-type]
        return score(self.dev, predictions, self.kind).metrics

    def archive(self, model: nn.Module) -> dict:
        return tagger_archive(model, self.kind, self.cfg, self.train_cfg, self.data_cfg, self.encoder, self.data_info)


def tagger_archive(model: nn.Module, kind: str, cfg: TaggerModelConfig, train_cfg: TrainConfig,
                   data_cfg: TaggerDataConfig, encoder: Encoder, data_info: dict) -> dict:  # fmt: skip
    """The model archive: configs, vocabularies, tag and intent names, weights."""
    return make_archive(
        TASK,
        {"model": asdict(cfg), "train": asdict(train_cfg), "data": asdict(data_cfg), "data_info": data_info},
        {"words": encoder.words.to_dict(), "chars": encoder.chars.to_dict()},
        model.state_dict(),
        kind=kind, tags=list(encoder.tags), intents=list(encoder.intents),
    )  # fmt: skip


@dataclass
class TaggerInference:
    """A trained tagger loaded from its archive."""

    model: BiRNNTagger
    cfg: TaggerModelConfig
    data_cfg: TaggerDataConfig
    encoder: Encoder
    kind: str
    precision: str = "fp32"  # or bf16: inference under bfloat16 autocast

    @classmethod
    def from_archive(cls, archive: dict, device: torch.device, precision: str = "fp32") -> TaggerInference:
        cfg = TaggerModelConfig(**archive["config"]["model"])
        data_cfg = TaggerDataConfig(**archive["config"]["data"])
        vocabs = archive["vocabs"]
        encoder = Encoder(Vocab.from_dict(vocabs["words"]), Vocab.from_dict(vocabs["chars"]), archive["tags"], archive["intents"])
        model = build_model(replace(cfg, sparse_embeddings=False), encoder, archive["kind"])
        model.load_state_dict(archive["state_dict"])
        model.to(device).eval()
        check_inference_precision(precision)
        return cls(model, cfg, data_cfg, encoder, archive["kind"], precision)

    def predict(self, sentences: Sequence[TaggedSentence]) -> list[Prediction]:
        """Tags (and intents) for sentences; their own tags, if any, are ignored."""
        examples = [self.encoder.encode(s, with_labels=False) for s in sentences]
        return predict_examples(self.model, self.encoder, examples, self.data_cfg.eval_tokens, self.precision)

    def evaluate(self, sentences: Sequence[TaggedSentence]) -> TaggingReport:
        """Score the model on gold sentences (see `score`)."""
        check_labels(sentences, self.encoder, self.kind)
        return score(sentences, self.predict(sentences), self.kind)
