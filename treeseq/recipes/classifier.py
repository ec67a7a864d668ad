"""Sentence classifiers end to end: train on SST trees, an ATIS/SNIPS folder, TSV or JSONL, evaluate,
and classify raw text or token lists."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from treeseq.corpora.readers.classification import Split, find_split, read_split
from treeseq.data.classification import encode
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.metrics import class_scores
from treeseq.models.classifier import SequenceClassifier
from treeseq.models.ensemble import ClassProbEnsemble
from treeseq.recipes.common import (
    Configs,
    Family,
    LoadedModel,
    RunSetup,
    Training,
    archive_entry,
    check_length,
    init_vectors,
    input_numbers,
    sample_limit,
)  # fmt: skip
from treeseq.results import ClassResult, Report, Table
from treeseq.tasks.classifier import (
    DEFAULT_TOKENIZER,
    TRAIN_DEFAULTS,
    ClassifierDataConfig,
    ClassifierInference,
    ClassifierModelConfig,
    ClassifierTask,
    Labels,
    build_model,
    item_tokens,
    score,
    tokenize_texts,
    warn_unseen,
)  # fmt: skip
from treeseq.training.engine import FitResult
from treeseq.vocab import Vocab

FAMILY = Family("classifier", ClassifierModelConfig, ClassifierDataConfig, tuple(TRAIN_DEFAULTS.items()))
MAX_TOKENS = 1000  # longest sentence classified by default


def _labelled(split: Split, labels: Labels, tokenizer: str) -> tuple[list[tuple[str, ...]], list[str], list[Any]]:
    """Tokens, class names and the items kept (SST binary drops neutral sentences)."""
    kept = [(item, name) for item in split.items if (name := labels.name(item.label)) is not None]
    if not kept:
        why = " (labels binary drops sentences whose root is neutral)" if labels.fmt == "sst" and split.items else ""
        raise CorpusFormatError(f"{split.path}: no examples to train or evaluate on{why}")
    items = [item for item, _ in kept]
    return item_tokens(items, tokenizer), [name for _, name in kept], items


def train(
    data_dir: str | Path,
    output: str | Path,
    *,
    vectors: str | Path | None = None,
    spacy_vectors: str | None = None,
    **options: Any,
) -> FitResult:
    """Train a sentence classifier: embeddings, a recurrent encoder (last states, mean, max or attention
    pooling, TextRNN or RCNN) and a linear softmax.

    `data_dir` holds SST-style trees (train.txt, dev.txt: the root's label), an ATIS/SNIPS folder
    (train/, valid/ with seq.in and label: the intent), train.tsv/dev.tsv (`label<TAB>text`) or
    train.jsonl/dev.jsonl (`{"text": ..., "label": ...}`).

    Args:
        options: the run's options (config, overrides, resume, device, progress, epoch_hook, announce:
            see recipes.common.Training.run), model settings (encoder, rnn, layers, embed_dim, hidden_size, bidirectional, dropout,
            labels, lowercase, min_count, proj_size), data settings (phrases, tokenizer) and training
            settings (epochs, lr, ...).
    """
    return ClassifierTraining(vectors, spacy_vectors).run(data_dir, output, **options)


@dataclass
class ClassifierData:
    """The encoded splits, the corpus layout, the resolved data settings, the classes and the vocabulary."""

    fmt: str
    data_cfg: ClassifierDataConfig
    classes: tuple[str, ...]
    vocab: Vocab
    train: list
    dev: list
    dev_names: list[str]
    extras: dict


def limited_split(split: Split, limit: int | None, seed: int) -> Split:
    """The split with a random sample of `limit` of its sentences (in their order, drawn with `seed`);
    with treebank phrases, the phrases read from the kept sentences' lines stay with them."""
    sentences = [item for item in split.items if not item.phrase]
    kept = sample_limit(sentences, limit, seed, "sentences", split.path)
    if len(kept) == len(sentences):
        return split
    lines = {item.where for item in kept}
    return replace(split, items=[item for item in split.items if item.where in lines])


@dataclass
class ClassifierTraining(Training):
    """The sentence classifier family's part of a training run (see recipes.common.Training)."""

    vectors: str | Path | None
    spacy_vectors: str | None
    family = FAMILY

    def prepare(self, data_dir: Path, cfgs: Configs, saved: dict | None, setup: RunSetup) -> ClassifierData:
        model_cfg = cfgs.model
        fmt, dev_fmt = find_split(data_dir, "train")[0], find_split(data_dir, "dev")[0]
        if dev_fmt != fmt:
            raise CorpusFormatError(f"{data_dir}: the train and dev splits are in different layouts ({fmt}, {dev_fmt})")
        if cfgs.data.phrases and fmt != "sst":
            raise ConfigError(f"phrases: only treebanks have labelled phrases; this is a {fmt} corpus")
        data_cfg = cfgs.data if cfgs.data.tokenizer != "auto" else replace(cfgs.data, tokenizer=DEFAULT_TOKENIZER[fmt])
        labels = Labels(fmt, model_cfg.labels)
        train_split = read_split(data_dir, "train", check_label=labels.check, phrases=data_cfg.phrases)
        train_split = limited_split(train_split, cfgs.train.limit, cfgs.train.seed)
        dev_split = read_split(data_dir, "dev", check_label=labels.check)
        train_tokens, train_names, train_items = _labelled(train_split, labels, data_cfg.tokenizer)
        dev_tokens, dev_names, _ = _labelled(dev_split, labels, data_cfg.tokenizer)
        classes = tuple(saved["classes"]) if saved else labels.classes(train_names)
        if len(classes) < 2:
            raise CorpusFormatError(f"{train_split.path}: one label only ({classes[0]!r}); a classifier needs two or more")
        if saved is not None:
            vocab = Vocab.from_dict(saved["vocabs"]["words"])
        else:
            # from whole sentences: with phrases every word would be counted once per phrase holding it
            sentences = [t for t, item in zip(train_tokens, train_items) if not item.phrase]
            vocab = Vocab.build((w for s in sentences for w in s), model_cfg.min_count, lowercase=model_cfg.lowercase)
        warn_unseen(dev_names, classes, str(dev_split.path))
        index = {name: i for i, name in enumerate(classes)}
        train_examples = [encode(t, vocab, index[n]) for t, n in zip(train_tokens, train_names)]
        dev_examples = [encode(t, vocab, index.get(n, -1)) for t, n in zip(dev_tokens, dev_names)]
        extras = {"corpus": fmt, "tokenizer": data_cfg.tokenizer,
                  "data_info": {"data_dir": str(data_dir), "train": str(train_split.path), "dev": str(dev_split.path),
                                "train_examples": len(train_examples)}}  # fmt: skip
        return ClassifierData(fmt, data_cfg, classes, vocab, train_examples, dev_examples, dev_names, extras)

    def build_model(self, data: ClassifierData, cfgs: Configs, saved: dict | None, setup: RunSetup) -> SequenceClassifier:
        model = build_model(cfgs.model, len(data.vocab), len(data.classes))
        if saved is None and (self.vectors or self.spacy_vectors):
            init_vectors(model.embedding, data.vocab, self.vectors, self.spacy_vectors)
        return model

    def build_task(self, data: ClassifierData, cfgs: Configs, setup: RunSetup) -> ClassifierTask:
        return ClassifierTask(cfgs.model, data.data_cfg, cfgs.train, data.vocab, data.classes, data.train, data.dev,
                              data.dev_names, data.extras)  # fmt: skip

    def describe(self, data: ClassifierData, cfgs: Configs) -> str:
        model_cfg = cfgs.model
        direction = "bi" if model_cfg.bidirectional else "uni"
        return (f"{data.fmt} classifier ({direction}-{model_cfg.rnn} x{model_cfg.layers}, encoder {model_cfg.encoder}): "
                f"{len(data.train)} train / {len(data.dev)} dev sentences, {len(data.classes)} classes, "
                f"vocabulary {len(data.vocab)}")  # fmt: skip


class ClassifierModel(LoadedModel[ClassResult]):
    """A loaded sentence classifier: sentences (raw text or token lists) in, one class each out."""

    family = "classifier"
    ensemble_network = ClassProbEnsemble
    ensemble_match = (archive_entry("classes"), archive_entry("corpus"), archive_entry("tokenizer"), archive_entry("config.model.labels"))

    max_length = MAX_TOKENS

    inference_class = ClassifierInference

    @property
    def labels(self) -> tuple[str, ...]:
        return self.inference.classes

    @property
    def config(self) -> ClassifierModelConfig:
        return self.inference.cfg

    @property
    def tokenizer(self) -> str:
        """How raw text is cut, as the training data was: treebank, blank (spaCy) or whitespace."""
        return self.inference.tokenizer

    def predict(self, inputs: Sequence[str | Sequence[str]], *, source: str = "<input>",
                line_numbers: Sequence[int] | None = None) -> list[ClassResult]:  # fmt: skip
        """Classify each input: raw text (cut as the training data was, see `tokenizer`) or a list of
        tokens (used as given).

        Raises:
            CorpusFormatError: `source:LINE: problem` for an input with no tokens or more than
                `max_length` (default 1,000).
        """
        numbers = input_numbers(inputs, source, line_numbers)
        texts = [item for item in inputs if isinstance(item, str)]
        cut = iter(tokenize_texts(texts, self.tokenizer))
        rows: list[tuple[str | None, tuple[str, ...], Any]] = []
        for number, item in zip(numbers, inputs):
            if isinstance(item, str):
                tokens, offsets = next(cut)
                rows.append((item, tuple(tokens), tuple(offsets)))
            else:
                rows.append((None, tuple(item), None))
            check_length(len(rows[-1][1]), self.max_length, f"{source}:{number}", "tokens", "classifier")
        probs = self.inference.probs([tokens for _, tokens, _ in rows]) if rows else torch.zeros(0, len(self.labels))
        return [self._result(text, tokens, offsets, p) for (text, tokens, offsets), p in zip(rows, probs.tolist())]

    def _result(self, text: str | None, tokens: tuple[str, ...], offsets: Any, probs: list[float]) -> ClassResult:
        best = max(range(len(probs)), key=probs.__getitem__)
        return ClassResult(text, tokens, self.labels[best], probs[best], self.labels, tuple(probs), offsets)


def evaluate(model: ClassifierModel, data_dir: str | Path, split: str = "dev", *, predictions: bool = False,
             limit: int | None = None) -> Report:
    """Accuracy and macro-F1 (and, for 5-class SST models, binary accuracy), the confusion matrix and
    scores by class. SST is scored on whole sentences (roots)."""
    inference = model.inference
    fmt, _ = find_split(data_dir, split)
    if (fmt == "sst") != (inference.format == "sst"):
        raise ConfigError(f"this model was trained on a {inference.format} corpus; {data_dir} holds a {fmt} {split} split")
    labels = Labels(fmt, inference.cfg.labels)
    loaded = limited_split(read_split(data_dir, split, check_label=labels.check), limit, 0)
    tokens, gold, items = _labelled(loaded, labels, inference.tokenizer)
    warn_unseen(gold, inference.classes, str(loaded.path))
    probs = inference.probs(tokens)
    scored = score(gold, probs, inference.classes)
    names = scored.classes
    confusion = Table("confusion (rows: gold, columns: predicted)", ("gold \\ pred", *names),
                      tuple((name, *row) for name, row in zip(names, scored.confusion)))  # fmt: skip
    by_class = Table("scores by class", ("class", "precision", "recall", "F1", "gold"),
                     tuple((n, p * 100, r * 100, f * 100, g) for n, p, r, f, g in class_scores(scored.confusion, names)))  # fmt: skip
    report = Report("classifier", str(loaded.path), {k: v * 100 for k, v in scored.metrics.items()},
                    {"sentences": scored.sentences, "unseen_labels": scored.unseen, "classes": list(inference.classes)},
                    {"confusion": confusion, "by_class": by_class})  # fmt: skip
    if predictions:
        report.predictions = [model._result(item.text, t, None, p) for item, t, p in zip(items, tokens, probs.tolist())]
    return report
