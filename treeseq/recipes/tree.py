"""Tree classifiers end to end: train on a treebank, evaluate, and label raw text or trees."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from treeseq.checkpoint import load_archive
from treeseq.corpora.readers.ptb import parse_tree_line, read_trees
from treeseq.device import autocast_dtype, resolve_device
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.metrics import class_scores
from treeseq.models.ensemble import ClassProbEnsemble
from treeseq.models.tree import TreeClassifier
from treeseq.recipes.common import (
    Announce, Family, Predictor, archive_entry, init_vectors, input_numbers, parameter_count, resolve_configs, run_fit,
)  # fmt: skip
from treeseq.results import Report, Table, TreeNode, TreeResult
from treeseq.tasks.tree import LabelScheme, TreeModelConfig, TreePredictor, TreeTask, build_model, encode, prepare_trees
from treeseq.tokenize import detokenize, raw_form, tokenize_with_offsets
from treeseq.training.engine import FitResult, paths_for
from treeseq.training.distributed import init_distributed
from treeseq.trees import Tree
from treeseq.vocab import Vocab

FAMILY = Family("tree", TreeModelConfig, renames=(("model_kind", ("model", "kind")),))


def train(
    data_dir: str | Path,
    output: str | Path,
    *,
    config: str | Path | None = None,
    overrides: Sequence[str] | None = None,
    resume: bool = False,
    device: str = "auto",
    vectors: str | Path | None = None,
    spacy_vectors: str | None = None,
    parser: str | Path | None = None,
    spacy_model: str | None = None,
    train_file: str = "train.txt",
    dev_file: str = "dev.txt",
    progress: bool = True,
    epoch_hook: Callable[[Any, dict], None] | None = None,
    announce: Announce | None = None,
    **options: Any,
) -> FitResult:
    """Train a recursive tree classifier on bracketed trees (SST format: a label on every node).

    Args:
        data_dir: folder holding `train_file` and `dev_file`.
        output: where the best archive goes; `<stem>.last.pt` and `<stem>.metrics.jsonl` go beside it.
        parser: a parser archive to carry inside the model, so raw text can be classified.
        spacy_model: train on this spaCy pipeline's dependency trees (child-sum Tree-LSTM).
        options: model settings (model_kind, labels, embed_dim, hidden_size, dropout, lowercase,
            num_classes, ...) and training settings (epochs, seed, batch_size, optimizer, lr, ...).
    """
    data_dir, output = Path(data_dir), Path(output)
    dist_info, torch_device = init_distributed(device)
    saved = load_archive(paths_for(output)[0], task="tree") if resume else None
    if saved is not None:
        spacy_model = spacy_model or saved["config"].get("data", {}).get("spacy_model")
    cfgs = resolve_configs(FAMILY, config, overrides, options, saved,
                           model_defaults={"kind": "childsum-lstm"} if spacy_model else None)  # fmt: skip
    model_cfg, train_cfg = cfgs.model, cfgs.train
    scheme = LabelScheme(model_cfg)
    parser_archive = _parser_archive(parser) if parser else (saved.get("parser") if saved else None)
    train_trees, dev_trees = read_trees(data_dir / train_file, scheme.check), read_trees(data_dir / dev_file, scheme.check)
    if spacy_model:  # one pipeline for both splits
        train_trees, dev_trees = _spacy_trees(spacy_model, model_cfg, train_trees, dev_trees)
    train_trees, dev_trees = ([t for t in prepare_trees(trees, model_cfg) if scheme.keeps(t)] for trees in (train_trees, dev_trees))
    for trees, name in ((train_trees, train_file), (dev_trees, dev_file)):
        if not trees:
            why = " (labels binary drops sentences whose root is neutral)" if model_cfg.labels == "binary" else ""
            raise CorpusFormatError(f"{data_dir / name}: no usable trees to train or evaluate on{why}")
    if saved is not None:
        vocab = Vocab.from_dict(saved["vocabs"]["words"])
    else:
        vocab = Vocab.build((w for t in train_trees for w in t.tokens), model_cfg.min_count, lowercase=model_cfg.lowercase)
    torch.manual_seed(train_cfg.seed)
    model = build_model(model_cfg, len(vocab), sparse=model_cfg.sparse_embeddings and not dist_info.enabled,
                        fused=autocast_dtype(torch_device.type, train_cfg.precision) is None)  # fmt: skip
    if saved is None and (vectors or spacy_vectors):
        init_vectors(model.embedding, vocab, vectors, spacy_vectors)
    data_config = {"data_dir": str(data_dir), "train_file": train_file, "dev_file": dev_file,
                   **({"spacy_model": spacy_model} if spacy_model else {})}  # fmt: skip
    task = TreeTask(model_cfg, train_cfg, vocab, [encode(t, vocab, scheme) for t in train_trees],
                    [encode(t, vocab, scheme) for t in dev_trees], data_config=data_config, parser=parser_archive)  # fmt: skip
    if announce is not None and dist_info.is_main:
        announce(f"{model_cfg.kind}, labels {model_cfg.labels}: {len(train_trees)} train / {len(dev_trees)} dev trees, "
                 f"vocabulary {len(vocab)}, {parameter_count(model):,} parameters, {torch_device}, {train_cfg.precision}")  # fmt: skip
    return run_fit(task, model, train_cfg, output, torch_device, dist_info, resume=resume, progress=progress,
                   epoch_hook=epoch_hook)


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


class TreeModel(Predictor[TreeResult]):
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
        parsers = [m.predictor.parser for m in members if m.predictor.parser is not None]
        distinct = [p for i, p in enumerate(parsers) if not any(_same_weights(p.model, q.model) for q in parsers[:i])]
        if len(distinct) > 1:
            from treeseq.recipes.parser import ParserModel  # noqa: PLC0415

            if any(p.vocabs.to_dict() != distinct[0].vocabs.to_dict() or p.cfg.pos_tags != distinct[0].cfg.pos_tags
                   for p in distinct[1:]):  # fmt: skip
                raise ConfigError("the members carry parsers with different vocabularies or tag sets; they cannot parse as one")

            joined = ParserModel.ensemble([ParserModel(p) for p in distinct])
            out.predictor = replace(out.predictor, parser=joined.predictor)
        return out

    @classmethod
    def from_archive(cls, archive: dict, device: str = "auto", precision: str = "fp32", *, max_length: int | None = None,
                     spacy_model: str | None = None, workers: int = 1, path: Path | None = None) -> TreeModel:  # fmt: skip
        predictor = TreePredictor.from_archive(archive, resolve_device(device), max_length, spacy_model, precision, workers)
        return cls(predictor, path)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.predictor.scheme.classes

    @property
    def config(self) -> TreeModelConfig:
        return self.predictor.cfg

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
            self.predictor.check_sentence(tokens, f"{source}:{numbers[index]}")
            texts.append(item)
            words.append(tuple(item[a:b] for a, b in spans))
            offsets.append(tuple(spans))
            trees.append(None)
            raw[index] = tokens
        if raw:
            for index, tree in zip(raw, self.predictor.trees_from_tokens(list(raw.values()), source)):
                trees[index] = tree
        labelled = self.predictor.predict(trees, batch_size)  # type: ignore[arg-type]
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
             predictions: bool = False) -> Report:  # fmt: skip
    """Root and all-phrase accuracy (fine, and binary for 5-class models) and the root confusion matrix.

    Args:
        parse: re-parse each sentence from its raw text with the model's parser and score against the
            gold labels (phrases: matched spans only).
        predictions: also return the labelled trees of the evaluated sentences.
    """
    predictor = model.predictor
    path = Path(data_dir) / f"{split}.txt"
    gold = read_trees(path, predictor.scheme.check)
    with torch.no_grad():
        report = predictor.evaluate_parsed(gold) if parse else predictor.evaluate(gold)
    classes = report.classes
    confusion = Table("root confusion (rows: gold, columns: predicted)", ("gold \\ pred", *classes),
                      tuple((name, *row) for name, row in zip(classes, report.confusion)))  # fmt: skip
    by_class = Table("root scores by class", ("class", "precision", "recall", "F1", "gold"),
                     tuple((n, p * 100, r * 100, f * 100, g) for n, p, r, f, g in class_scores(report.confusion, classes)))  # fmt: skip
    out = Report("tree", str(path), {k: v * 100 for k, v in report.metrics.items()},
                 {"sentences": report.sentences, "classes": list(classes), "confusion": report.confusion},
                 {"confusion": confusion, "by_class": by_class})  # fmt: skip
    if predictions:
        kept = [t for t in gold if predictor.scheme.keeps(t)]
        out.predictions = model.predict([detokenize(t.tokens) for t in kept] if parse else kept)
    return out
