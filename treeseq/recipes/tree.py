"""Tree classifiers end to end: train on a treebank, evaluate, and label raw text or trees."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch

from treeseq.checkpoint import load_archive
from treeseq.corpora.readers.ptb import parse_tree_line, read_trees
from treeseq.device import autocast_dtype, resolve_device
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.metrics import class_scores
from treeseq.models.ensemble import ClassProbEnsemble
from treeseq.models.tree import TreeClassifier
from treeseq.recipes.common import (
    Configs,
    Family,
    LoadedModel,
    RunSetup,
    Training,
    archive_entry,
    init_vectors,
    input_numbers,
    sample_limit,
)
from treeseq.results import Report, Table, TreeNode, TreeResult
from treeseq.tasks.tree import LabelScheme, TreeInference, TreeModelConfig, TreeTask, build_model, encode, prepare_trees
from treeseq.tokenize import detokenize, raw_form, tokenize_with_offsets
from treeseq.training.engine import FitResult
from treeseq.trees import Tree
from treeseq.vocab import Vocab

FAMILY = Family("tree", TreeModelConfig, renames=(("model_kind", ("model", "kind")),))


def train(
    data_dir: str | Path,
    output: str | Path,
    *,
    vectors: str | Path | None = None,
    spacy_vectors: str | None = None,
    parser: str | Path | None = None,
    spacy_model: str | None = None,
    train_file: str = "train.txt",
    dev_file: str = "dev.txt",
    **options: Any,
) -> FitResult:
    """Train a recursive tree classifier on bracketed trees (SST format: a label on every node).

    Args:
        data_dir: folder holding `train_file` and `dev_file`.
        output: where the best archive goes; `<stem>.last.pt` and `<stem>.metrics.jsonl` go beside it.
        parser: a parser archive to carry inside the model, so raw text can be classified.
        spacy_model: train on this spaCy pipeline's dependency trees (child-sum Tree-LSTM).
        options: the run's options (config, overrides, resume, device, progress, epoch_hook, announce:
            see recipes.common.Training.run), model settings (model_kind, labels, embed_dim, hidden_size, dropout, lowercase,
            num_classes, ...) and training settings (epochs, seed, batch_size, optimizer, lr, ...).
    """
    training = TreeTraining(vectors, spacy_vectors, parser, spacy_model, train_file, dev_file)
    return training.run(data_dir, output, **options)


@dataclass
class TreeData:
    """Prepared treebank splits, their label scheme and vocabulary, and the parser to carry."""

    train: list[Tree]
    dev: list[Tree]
    scheme: LabelScheme
    vocab: Vocab
    parser: dict | None
    data_config: dict


@dataclass
class TreeTraining(Training):
    """The tree family's part of a training run (see recipes.common.Training)."""

    vectors: str | Path | None
    spacy_vectors: str | None
    parser: str | Path | None
    spacy_model: str | None
    train_file: str
    dev_file: str
    family = FAMILY

    def model_defaults(self, saved: dict | None) -> dict[str, Any] | None:
        if saved is not None:
            self.spacy_model = self.spacy_model or saved["config"].get("data", {}).get("spacy_model")
        return {"kind": "childsum-lstm"} if self.spacy_model else None

    def layout_split(self) -> str | None:
        return "train" if self.train_file == "train.txt" else None

    def prepare(self, data_dir: Path, cfgs: Configs, saved: dict | None, setup: RunSetup) -> TreeData:
        model_cfg, scheme = cfgs.model, LabelScheme(cfgs.model)
        parser_archive = _parser_archive(self.parser) if self.parser else (saved.get("parser") if saved else None)
        train_trees = read_trees(data_dir / self.train_file, scheme.check)
        dev_trees = read_trees(data_dir / self.dev_file, scheme.check)
        if self.spacy_model:  # one pipeline for both splits
            train_trees, dev_trees = _spacy_trees(self.spacy_model, model_cfg, train_trees, dev_trees)
        train_trees, dev_trees = ([t for t in prepare_trees(trees, model_cfg) if scheme.keeps(t)] for trees in (train_trees, dev_trees))
        train_trees = sample_limit(train_trees, cfgs.train.limit, cfgs.train.seed, "trees", data_dir / self.train_file)
        for trees, name in ((train_trees, self.train_file), (dev_trees, self.dev_file)):
            if not trees:
                why = " (labels binary drops sentences whose root is neutral)" if model_cfg.labels == "binary" else ""
                raise CorpusFormatError(f"{data_dir / name}: no usable trees to train or evaluate on{why}")
        if saved is not None:
            vocab = Vocab.from_dict(saved["vocabs"]["words"])
        else:
            vocab = Vocab.build((w for t in train_trees for w in t.tokens), model_cfg.min_count, lowercase=model_cfg.lowercase)
        data_config = {"data_dir": str(data_dir), "train_file": self.train_file, "dev_file": self.dev_file,
                       **({"spacy_model": self.spacy_model} if self.spacy_model else {})}  # fmt: skip
        return TreeData(train_trees, dev_trees, scheme, vocab, parser_archive, data_config)

    def build_model(self, data: TreeData, cfgs: Configs, saved: dict | None, setup: RunSetup) -> TreeClassifier:
        model = build_model(cfgs.model, len(data.vocab), sparse=cfgs.model.sparse_embeddings and not setup.dist_info.enabled,
                            fused=autocast_dtype(setup.device.type, cfgs.train.precision) is None)  # fmt: skip
        if saved is None and (self.vectors or self.spacy_vectors):
            init_vectors(model.embedding, data.vocab, self.vectors, self.spacy_vectors)
        return model

    def build_task(self, data: TreeData, cfgs: Configs, setup: RunSetup) -> TreeTask:
        encoded = ([encode(t, data.vocab, data.scheme) for t in trees] for trees in (data.train, data.dev))
        return TreeTask(cfgs.model, cfgs.train, data.vocab, *encoded, data_config=data.data_config, parser=data.parser)

    def describe(self, data: TreeData, cfgs: Configs) -> str:
        return (f"{cfgs.model.kind}, labels {cfgs.model.labels}: {len(data.train)} train / {len(data.dev)} dev trees, "
                f"vocabulary {len(data.vocab)}")  # fmt: skip


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    first, second = a.state_dict(), b.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def _parser_archive(path: str | Path) -> dict:
    """A trained parser's archive, without its training state, to nest inside the classifier's archive."""
    archive = load_archive(path, task="parser")
    if "members" in archive:
        raise ConfigError(f"{path}: a parser ensemble; a tree model carries one parser archive (give one member)")
    archive.pop("training", None)
    return archive


def _spacy_trees(name: str, cfg: TreeModelConfig, *splits: list) -> tuple[list, ...]:
    """The splits as spaCy dependency trees carrying the treebank's labels (child-sum models only)."""
    from treeseq.adapters.spacy_trees import SpacyTrees  # noqa: PLC0415 (spaCy pipelines load slowly)

    if cfg.kind != "childsum-lstm":
        raise ConfigError(f"--spacy-model gives dependency trees: use --model-kind childsum-lstm, not {cfg.kind}")
    spacy = SpacyTrees(name)
    return tuple(spacy.labelled(trees) for trees in splits)


class TreeModel(LoadedModel[TreeResult]):
    """A loaded tree classifier: raw sentences (parsed first) or `Tree`s in, labelled trees out."""

    family = "tree"
    ensemble_network = ClassProbEnsemble
    ensemble_match = (
        archive_entry("classes"), archive_entry("config.model.labels"), archive_entry("config.model.binarize"),
        ("tree arity", lambda a: TreeClassifier.arity_of(a["config"]["model"]["kind"])),
        ("parser for raw text", lambda a: "parser" in a), archive_entry("config.data.spacy_model"),
    )  # fmt: skip

    @classmethod
    def ensemble(cls, members: Sequence[TreeModel], path: Path | None = None) -> TreeModel:
        """The members' ensemble; the parsers they carry (when they differ) parse raw text as an ensemble too."""
        out = super().ensemble(members, path)
        parsers = [m.inference.parser for m in members if m.inference.parser is not None]
        distinct = [p for i, p in enumerate(parsers) if not any(_same_weights(p.model, q.model) for q in parsers[:i])]
        if len(distinct) > 1:
            from treeseq.recipes.parser import ParserModel  # noqa: PLC0415

            if any(p.vocabs.to_dict() != distinct[0].vocabs.to_dict() or p.cfg.pos_tags != distinct[0].cfg.pos_tags
                   for p in distinct[1:]):  # fmt: skip
                raise ConfigError("the members carry parsers with different vocabularies or tag sets; they cannot parse as one")

            joined = ParserModel.ensemble([ParserModel(p) for p in distinct])
            out.inference = replace(out.inference, parser=joined.inference)
        return out

    @classmethod
    def from_archive(cls, archive: dict, device: str = "auto", precision: str = "fp32", *, max_length: int | None = None,
                     spacy_model: str | None = None, workers: int = 1, path: Path | None = None) -> TreeModel:  # fmt: skip
        inference = TreeInference.from_archive(archive, resolve_device(device), max_length, spacy_model, precision, workers)
        return cls(inference, path)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.inference.scheme.classes

    @property
    def config(self) -> TreeModelConfig:
        return self.inference.cfg

    def predict(self, inputs: Sequence[str | Tree], batch_size: int = 256, source: str = "<input>",
                line_numbers: Sequence[int] | None = None, brackets: bool = False) -> list[TreeResult]:  # fmt: skip
        """Label every node of each input: a raw sentence (tokenized like the treebank, then parsed) or a Tree.

        Args:
            source, line_numbers: name the inputs in errors (`source:LINE`); by default LINE counts from 1.
            brackets: strings are bracketed trees (`(X (X The) (X film))`, labels ignored), not raw text.

        Raises:
            CorpusFormatError: `source:LINE: problem` for a sentence that cannot be parsed (no tokens,
                over the parser's length limit).
            ConfigError: raw text for a model that carries no parser.
        """
        numbers = input_numbers(inputs, source, line_numbers)
        texts: list[str | None] = []
        words: list[tuple[str, ...]] = []
        offsets: list[Any] = []
        trees: list[Tree | None] = []
        raw: dict[int, list[str]] = {}
        for index, item in enumerate(inputs):
            if brackets and isinstance(item, str):
                item = parse_tree_line(item, f"{source}:{numbers[index]}")
            if isinstance(item, Tree):
                texts.append(None)
                words.append(tuple(raw_form(t) for t in item.tokens))
                offsets.append(None)
                trees.append(item)
                continue
            tokens, spans = tokenize_with_offsets(item)
            self.inference.check_sentence(tokens, f"{source}:{numbers[index]}")
            texts.append(item)
            words.append(tuple(item[a:b] for a, b in spans))
            offsets.append(tuple(spans))
            trees.append(None)
            raw[index] = tokens
        if raw:
            for index, tree in zip(raw, self.inference.trees_from_tokens(list(raw.values()), source)):
                trees[index] = tree
        labelled = self.inference.predict(trees, batch_size)  # type: ignore[arg-type]
        return [self._result(text, tree, probs, w, o)
                for text, (tree, probs), w, o in zip(texts, labelled, words, offsets)]  # fmt: skip

    def _result(self, text: str | None, tree: Tree, probs: torch.Tensor, words: tuple[str, ...], offsets: Any) -> TreeResult:
        classes = self.labels
        spans = tree.spans()
        best_prob, best = (t.tolist() for t in probs.max(-1))
        rows = probs.tolist()
        nodes = []
        for node, _ in tree.preorder():
            i, j = spans[node]
            start, end = (offsets[i][0], offsets[j - 1][1]) if offsets else (None, None)
            nodes.append(TreeNode((i, j), " ".join(tree.tokens[i:j]), classes[best[node]], best[node], best_prob[node],
                                  tuple(rows[node]), start, end))  # fmt: skip
        return TreeResult(text, tree, classes, tuple(nodes), words, offsets)


def evaluate(model: TreeModel, data_dir: str | Path, split: str = "dev", *, parse: bool = False,
             predictions: bool = False, limit: int | None = None) -> Report:  # fmt: skip
    """Root and all-phrase accuracy (fine, and binary for 5-class models) and the root confusion matrix.

    Args:
        parse: re-parse each sentence from its raw text with the model's parser and score against the
            gold labels (phrases: matched spans only).
        predictions: also return the labelled trees of the evaluated sentences.
    """
    inference = model.inference
    path = Path(data_dir) / f"{split}.txt"
    gold = sample_limit(read_trees(path, inference.scheme.check), limit, 0, "trees", path)
    with torch.no_grad():
        report = inference.evaluate_parsed(gold) if parse else inference.evaluate(gold)
    classes = report.classes
    confusion = Table("root confusion (rows: gold, columns: predicted)", ("gold \\ pred", *classes),
                      tuple((name, *row) for name, row in zip(classes, report.confusion)))  # fmt: skip
    by_class = Table("root scores by class", ("class", "precision", "recall", "F1", "gold"),
                     tuple((n, p * 100, r * 100, f * 100, g) for n, p, r, f, g in class_scores(report.confusion, classes)))  # fmt: skip
    out = Report("tree", str(path), {k: v * 100 for k, v in report.metrics.items()},
                 {"sentences": report.sentences, "classes": list(classes), "confusion": report.confusion},
                 {"confusion": confusion, "by_class": by_class})  # fmt: skip
    if predictions:
        kept = [t for t in gold if inference.scheme.keeps(t)]
        out.predictions = model.predict([detokenize(t.tokens) for t in kept] if parse else kept)
    return out
