"""Sentence classification: configs, class names, tokenization of raw text, the training task,
scoring and the inference over tensors.

Classes come from the corpus: SST's five sentiment classes (or two with `labels=binary`, neutral
sentences dropped, as the tree models do), else the distinct labels of the training split, sorted.
A dev label the model has never seen (ATIS's valid split has one intent that train lacks) counts as
wrong and is logged, never trained on.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from treeseq.checkpoint import make_archive
from treeseq.config import FAMILY_TRAIN_DEFAULTS, TrainConfig, choice
from treeseq.data.batching import budget_batches, pooled_batches
from treeseq.data.classification import ClassBatch, ClassExample, LabelledText, collate, encode
from treeseq.device import autocast, check_inference_precision, epoch_rng
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.metrics import class_scores
from treeseq.models.classifier import ENCODERS, SequenceClassifier
from treeseq.nn.rnn import RNNS
from treeseq.tasks.tree import SST_CLASSES, LabelScheme, TreeModelConfig
from treeseq.tokenize import blank_tokens, tokenize_with_offsets, whitespace_tokens
from treeseq.vocab import Vocab

TASK = "classifier"
TRAIN_DEFAULTS = FAMILY_TRAIN_DEFAULTS["classifier"]
TOKENIZERS = ("treebank", "blank", "whitespace")
# How raw text is cut when the corpus does not say (`data.tokenizer=auto`): like the corpus itself.
DEFAULT_TOKENIZER = {"sst": "treebank", "atis": "whitespace", "tsv": "blank", "jsonl": "blank"}
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierModelConfig:
    """The classifier's architecture and label settings (stored in the archive)."""

    encoder: str = "last"
    rnn: str = "lstm"
    embed_dim: int = 100
    hidden_size: int = 150  # per direction
    layers: int = 1
    bidirectional: bool = True
    proj_size: int = 0  # rcnn's projection and attention's hidden size; 0: 2 * hidden_size
    dropout: float = 0.5
    labels: str = "fine"  # SST: fine (5 classes) or binary (neutral dropped); other corpora: fine only
    lowercase: bool = False
    min_count: int = 1

    def __post_init__(self) -> None:
        choice(self, "encoder", ENCODERS)
        choice(self, "rnn", RNNS)
        choice(self, "labels", ("fine", "binary"))
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if min(self.embed_dim, self.hidden_size, self.layers, self.min_count) < 1 or self.proj_size < 0:
            raise ConfigError("model sizes, layers and min_count must be >= 1 (proj_size >= 0)")
        if self.encoder == "rcnn" and not self.bidirectional:
            raise ConfigError("encoder rcnn reads each word's left and right contexts: it cannot be unidirectional")


@dataclass(frozen=True)
class ClassifierDataConfig:
    """How the corpus is read and raw text is cut (stored in the archive)."""

    tokenizer: str = "auto"  # treebank (SST), blank (spaCy's blank English), whitespace; auto: by the corpus
    phrases: bool = False  # SST: every labelled phrase is a training example too
    eval_tokens: int = 8000  # padded tokens per prediction batch

    def __post_init__(self) -> None:
        choice(self, "tokenizer", ("auto", *TOKENIZERS))
        if self.eval_tokens < 1:
            raise ConfigError("data.eval_tokens must be >= 1")


class Labels:
    """Corpus labels -> class names: SST's through the tree models' LabelScheme, others as written."""

    def __init__(self, fmt: str, kind: str) -> None:
        if kind == "binary" and fmt != "sst":
            raise ConfigError(f"labels binary collapses SST's five classes; this is a {fmt} corpus (use labels fine)")
        self.fmt = fmt
        self.scheme = LabelScheme(TreeModelConfig(labels=kind)) if fmt == "sst" else None

    def check(self, label: str | None) -> str | None:
        """A problem with a treebank label (for the reader's `file:line: problem`)."""
        return self.scheme.check(label) if self.scheme is not None else None

    def name(self, label: str | None) -> str | None:
        """The class name of a corpus label; None: no class (SST binary: a neutral sentence)."""
        if self.scheme is None:
            return label
        class_id = self.scheme.class_id(label)
        return self.scheme.classes[class_id] if class_id >= 0 else None

    def classes(self, names: Sequence[str]) -> tuple[str, ...]:
        """The model's classes: SST's, or the training labels sorted."""
        return self.scheme.classes if self.scheme is not None else tuple(sorted(set(names)))


def tokenize_texts(texts: Sequence[str], tokenizer: str) -> list[tuple[list[str], list[tuple[int, int]]]]:
    """Tokens and character offsets [start, end) of raw texts, cut as the model's training data was."""
    if tokenizer == "treebank":
        return [tokenize_with_offsets(text) for text in texts]
    if tokenizer == "whitespace":
        return [whitespace_tokens(text) for text in texts]
    return blank_tokens(list(texts))


def item_tokens(items: Sequence[LabelledText], tokenizer: str) -> list[tuple[str, ...]]:
    """The tokens of examples as read: given, or cut from their text.

    Raises:
        CorpusFormatError: `file:line:` of an example whose text has no tokens.
    """
    raw = [i for i, item in enumerate(items) if item.tokens is None]
    cut = tokenize_texts([items[i].text or "" for i in raw], tokenizer)
    tokens = [item.tokens for item in items]
    for index, (found, _) in zip(raw, cut):
        if not found:
            raise CorpusFormatError(f"{items[index].where}: the text has no tokens")
        tokens[index] = tuple(found)
    return tokens  # type: ignore[return-value]


def build_model(cfg: ClassifierModelConfig, vocab_size: int, num_classes: int) -> SequenceClassifier:
    return SequenceClassifier(
        vocab_size, num_classes, embed_dim=cfg.embed_dim, rnn=cfg.rnn, hidden_size=cfg.hidden_size, layers=cfg.layers,
        bidirectional=cfg.bidirectional, encoder=cfg.encoder, proj_size=cfg.proj_size, dropout=cfg.dropout,
    )  # fmt: skip


@torch.no_grad()
def predict_probs(model: SequenceClassifier, examples: Sequence[ClassExample], max_tokens: int = 8000,
                  precision: str = "fp32") -> Tensor:  # fmt: skip
    """Class probabilities (N, C), float32 on the CPU, in input order; batches sorted by length."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.zeros(len(examples), model.num_classes)
    lengths = [len(e) for e in examples]
    for indices in budget_batches(lengths, lengths, max_tokens, max_items=512):
        batch = collate([examples[i] for i in indices]).to(device)
        with autocast(device.type, precision):
            logits = model(batch)
        out[torch.tensor(indices)] = torch.softmax(logits.float(), dim=-1).cpu()
    model.train(was_training)
    return out


@dataclass
class ClassScores:
    """Scores of one split: metrics as fractions, the confusion matrix over `classes` (the model's
    classes, then gold labels it has never seen), counts."""

    metrics: dict[str, float]
    classes: list[str]
    confusion: list[list[int]]
    sentences: int
    unseen: int


def score(gold: Sequence[str], probs: Tensor, classes: Sequence[str]) -> ClassScores:
    """Accuracy, macro-F1 (over the classes in gold or predictions) and, for 5-class SST models,
    binary accuracy: negative (0, 1) against positive (3, 4) by summed probability, neutral gold dropped."""
    predicted = [classes[i] for i in probs.argmax(-1).tolist()] if len(gold) else []
    names = list(classes) + sorted({g for g in gold if g not in classes})
    index = {name: i for i, name in enumerate(names)}
    confusion = [[0] * len(names) for _ in names]
    for g, p in zip(gold, predicted):
        confusion[index[g]][index[p]] += 1
    present = [i for i in range(len(names)) if sum(confusion[i]) or sum(row[i] for row in confusion)]
    f1s = [row[3] for i, row in enumerate(class_scores(confusion, names)) if i in present]
    metrics = {"acc": sum(g == p for g, p in zip(gold, predicted)) / len(gold) if gold else float("nan"),
               "macro_f1": sum(f1s) / len(f1s) if f1s else float("nan")}  # fmt: skip
    if tuple(classes) == SST_CLASSES:
        polar = [i for i, g in enumerate(gold) if g != SST_CLASSES[2]]
        positive = probs[:, 3:].sum(-1) > probs[:, :2].sum(-1)
        hits = sum(bool(positive[i]) == (SST_CLASSES.index(gold[i]) > 2) for i in polar)
        metrics["binary_acc"] = hits / len(polar) if polar else float("nan")
    unseen = sum(g not in classes for g in gold)
    return ClassScores(metrics, names, confusion, len(gold), unseen)


def warn_unseen(gold: Sequence[str], classes: Sequence[str], source: str) -> None:
    unseen = sorted({g for g in gold if g not in classes})
    if unseen:
        count = sum(g in unseen for g in gold)
        logger.warning("%s: %d sentence(s) have a label the model has not seen (%s); they count as wrong",
                       source, count, ", ".join(unseen))  # fmt: skip


class ClassifierTask:
    """The engine's view of sentence classification; the dev metric is accuracy."""

    metric = "acc"
    unit = "sent"

    def __init__(self, cfg: ClassifierModelConfig, data_cfg: ClassifierDataConfig, train_cfg: TrainConfig, vocab: Vocab,
                 classes: Sequence[str], train: Sequence[ClassExample], dev: Sequence[ClassExample],
                 dev_gold: Sequence[str], extras: dict[str, Any]) -> None:  # fmt: skip
        self.cfg, self.data_cfg, self.train_cfg, self.vocab = cfg, data_cfg, train_cfg, vocab
        self.classes = tuple(classes)
        self.train, self.dev, self.dev_gold = list(train), list(dev), list(dev_gold)
        self.extras = extras  # corpus (its layout), tokenizer and data facts for the archive

    def train_batches(self, epoch: int) -> list[list[ClassExample]]:
        rng = epoch_rng(self.train_cfg.seed, epoch)
        batches = pooled_batches(len(self.train), self.train_cfg.batch_size, rng, key=[len(e) for e in self.train].__getitem__)
        return [[self.train[i] for i in batch] for batch in batches]

    def collate(self, examples: Sequence[ClassExample]) -> ClassBatch:
        return collate(list(examples))

    def loss(self, model: nn.Module, batch: ClassBatch) -> tuple[Tensor, Tensor]:
        logits = model(batch)
        loss = nn.functional.cross_entropy(logits.float(), batch.label_ids, ignore_index=-1, reduction="sum")
        return loss, (batch.label_ids >= 0).sum()

    def items(self, batch: ClassBatch) -> int:
        return len(batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        probs = predict_probs(model, self.dev, self.data_cfg.eval_tokens)  # type: ignore[arg-type]
        return score(self.dev_gold, probs, self.classes).metrics

    def archive(self, model: nn.Module) -> dict:
        return make_archive(
            TASK,
            {"model": asdict(self.cfg), "train": asdict(self.train_cfg), "data": asdict(self.data_cfg)},
            {"words": self.vocab.to_dict()},
            model.state_dict(),
            classes=list(self.classes),
            **self.extras,
        )  # fmt: skip


@dataclass
class ClassifierInference:
    """A trained classifier loaded from its archive."""

    model: SequenceClassifier
    cfg: ClassifierModelConfig
    data_cfg: ClassifierDataConfig
    vocab: Vocab
    classes: tuple[str, ...]
    format: str  # the training corpus's layout: sst, atis, tsv or jsonl
    tokenizer: str  # how raw text is cut: treebank, blank or whitespace
    precision: str = "fp32"

    @classmethod
    def from_archive(cls, archive: dict, device: torch.device, precision: str = "fp32") -> ClassifierInference:
        check_inference_precision(precision)
        cfg = ClassifierModelConfig(**archive["config"]["model"])
        data_cfg = ClassifierDataConfig(**archive["config"]["data"])
        vocab = Vocab.from_dict(archive["vocabs"]["words"])
        classes = tuple(archive["classes"])
        model = build_model(cfg, len(vocab), len(classes))
        model.load_state_dict(archive["state_dict"])
        model.to(device).eval()
        return cls(model, cfg, data_cfg, vocab, classes, archive["corpus"], archive["tokenizer"], precision)

    def probs(self, sentences: Sequence[Sequence[str]]) -> Tensor:
        """Class probabilities (N, C) of tokenized sentences (each at least one token)."""
        examples = [encode(tokens, self.vocab) for tokens in sentences]
        return predict_probs(self.model, examples, self.data_cfg.eval_tokens, self.precision)
