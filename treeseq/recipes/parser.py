"""The span parser end to end: train on a treebank's bracketing, evaluate bracket F1, parse raw text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from treeseq.corpora.readers.ptb import read_trees
from treeseq.data.parsing import ParserVocabs
from treeseq.decoding.cky import tree_spans
from treeseq.device import resolve_device
from treeseq.metrics import bracket_scores
from treeseq.models.ensemble import SpanScoreEnsemble
from treeseq.models.parser import SpanParser
from treeseq.recipes.common import (
    Configs,
    Family,
    LoadedModel,
    RunSetup,
    Training,
    archive_entry,
    input_numbers,
    sample_limit,
)
from treeseq.results import ParseResult, Report
from treeseq.tasks.parser import (
    TRAIN_DEFAULTS,
    ParserConfig,
    ParserInference,
    ParserTask,
    build_parser,
    build_vocabs,
    encode_tree,
    tag_sentences,
)  # fmt: skip
from treeseq.tokenize import tokenize_with_offsets
from treeseq.training.engine import FitResult
from treeseq.trees import Tree

FAMILY = Family("parser", ParserConfig, train_defaults=tuple(TRAIN_DEFAULTS.items()))


def train(
    data_dir: str | Path,
    output: str | Path,
    *,
    train_file: str = "train.txt",
    dev_file: str = "dev.txt",
    **options: Any,
) -> FitResult:
    """Train the span-based constituency parser on the bracketing of a PTB-format treebank.

    Labels are ignored and trees binarized; the dev metric is unlabelled bracket F1.

    Args:
        options: the run's options (config, overrides, resume, device, progress, epoch_hook, announce:
            see recipes.common.Training.run), model settings (hidden_size, pos_tags: a spaCy pipeline whose tagger supplies
            part-of-speech inputs, dropout, ...) and training settings (epochs, lr, ...).
    """
    return ParserTraining(train_file, dev_file).run(data_dir, output, **options)


@dataclass
class ParserData:
    """Binarized treebank splits, their part-of-speech tags (empty without tags) and the vocabularies."""

    train: list[Tree]
    dev: list[Tree]
    train_tags: list
    dev_tags: list
    vocabs: ParserVocabs
    data_config: dict


@dataclass
class ParserTraining(Training):
    """The parser family's part of a training run (see recipes.common.Training)."""

    train_file: str
    dev_file: str
    family = FAMILY

    def layout_split(self) -> str | None:
        return "train" if self.train_file == "train.txt" else None

    def prepare(self, data_dir: Path, cfgs: Configs, saved: dict | None, setup: RunSetup) -> ParserData:
        model_cfg = cfgs.model
        train_trees = binary_trees(read_trees(data_dir / self.train_file))
        train_trees = sample_limit(train_trees, cfgs.train.limit, cfgs.train.seed, "trees", data_dir / self.train_file)
        dev_trees = binary_trees(read_trees(data_dir / self.dev_file))
        # One tagger run over both splits (the spaCy pipeline loads once); no tags: an empty tuple each.
        if model_cfg.pos_tags and setup.announce is not None:
            setup.announce(f"tagging {len(train_trees) + len(dev_trees):,} sentences with {model_cfg.pos_tags} (a minute or two on a CPU)")
        tags = tag_sentences(model_cfg, [t.tokens for t in train_trees + dev_trees]) or [()] * (len(train_trees) + len(dev_trees))
        train_tags, dev_tags = tags[: len(train_trees)], tags[len(train_trees) :]
        if saved is not None:
            vocabs = ParserVocabs.from_dict(saved["vocabs"])
        else:
            vocabs = build_vocabs([t.tokens for t in train_trees], model_cfg, train_tags if model_cfg.pos_tags else None)
        data_config = {"data_dir": str(data_dir), "train_file": self.train_file, "dev_file": self.dev_file}
        return ParserData(train_trees, dev_trees, train_tags, dev_tags, vocabs, data_config)

    def build_model(self, data: ParserData, cfgs: Configs, saved: dict | None, setup: RunSetup) -> SpanParser:
        return build_parser(cfgs.model, data.vocabs)

    def build_task(self, data: ParserData, cfgs: Configs, setup: RunSetup) -> ParserTask:
        train = [encode_tree(t, data.vocabs, g) for t, g in zip(data.train, data.train_tags)]
        dev = [encode_tree(t, data.vocabs, g) for t, g in zip(data.dev, data.dev_tags)]
        return ParserTask(cfgs.model, cfgs.train, data.vocabs, train, dev, data_config=data.data_config)

    def describe(self, data: ParserData, cfgs: Configs) -> str:
        return f"span parser: {len(data.train)} train / {len(data.dev)} dev trees, vocabulary {len(data.vocabs.words)}"


def binary_trees(trees: Sequence[Tree]) -> list[Tree]:
    return [t if t.is_binary() else t.binarize() for t in trees]


class ParserModel(LoadedModel[ParseResult]):
    """A loaded span parser: raw sentences (or token lists) in, unlabelled binary trees out."""

    family = "parser"
    ensemble_network = SpanScoreEnsemble
    ensemble_match = (archive_entry("config.model.pos_tags"),)

    @classmethod
    def from_archive(cls, archive: dict, device: str = "auto", precision: str = "fp32", *, max_length: int | None = None,
                     workers: int = 1, path: Path | None = None) -> ParserModel:  # fmt: skip
        return cls(ParserInference.from_archive(archive, resolve_device(device), max_length, precision, workers), path)

    @property
    def config(self) -> ParserConfig:
        return self.inference.cfg

    def predict(self, inputs: Sequence[str | Sequence[str]], source: str = "<input>",
                line_numbers: Sequence[int] | None = None) -> list[ParseResult]:  # fmt: skip
        """Parse each input: raw text (tokenized like the treebank) or a list of treebank tokens.

        Raises:
            CorpusFormatError: `source:LINE: problem` for a sentence with no tokens or over the length limit.
        """
        numbers = input_numbers(inputs, source, line_numbers)
        sentences, offsets, texts = [], [], []
        for number, item in zip(numbers, inputs):
            if isinstance(item, str):
                tokens, spans = tokenize_with_offsets(item)
                sentences.append(tokens), offsets.append(tuple(spans)), texts.append(item)
            else:
                sentences.append(list(item)), offsets.append(None), texts.append(None)
            self.inference.check(sentences[-1], f"{source}:{number}")
        trees = self.inference.parse_tokens(sentences, source)
        return [ParseResult(text, tree, spans) for text, tree, spans in zip(texts, trees, offsets)]


def evaluate(model: ParserModel, data_dir: str | Path, split: str = "dev", *, predictions: bool = False,
             limit: int | None = None) -> Report:
    """Unlabelled bracket precision, recall, F1 and exact match on a treebank split (its tokens as given)."""
    path = Path(data_dir) / f"{split}.txt"
    numbered = sample_limit(list(enumerate(binary_trees(read_trees(path)), start=1)), limit, 0, "trees", path)
    gold = [tree for _, tree in numbered]
    inference = model.inference
    for number, tree in numbered:  # the tree's own place in the file, with --limit too
        inference.check(tree.tokens, f"{path}:{number}")
    found = inference.parse_tokens([t.tokens for t in gold], str(path))
    scores = bracket_scores([tree_spans(t) for t in found], [tree_spans(t) for t in gold], [len(t.tokens) for t in gold])
    report = Report("parser", str(path), {k: v * 100 for k, v in scores.items()}, {"sentences": len(gold)})
    if predictions:
        report.predictions = [ParseResult(None, tree) for tree in found]
    return report
