"""Tree classification: label schemes, encoding, training task, evaluation and prediction."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Sequence

import torch
from torch import Tensor, nn

from treeseq.adapters.spacy_trees import SpacyTrees, transfer_labels
from treeseq.checkpoint import make_archive
from treeseq.config import TrainConfig, choice
from treeseq.data.batching import pooled_batches
from treeseq.data.trees import TreeBatch, TreeExample, batch_trees
from treeseq.device import autocast, autocast_dtype, check_inference_precision, epoch_rng
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.metrics import accuracy, confusion_matrix
from treeseq.models.tree import MODEL_KINDS, TreeClassifier
from treeseq.tasks.parser import ParserInference
from treeseq.tokenize import detokenize, tokenize
from treeseq.trees import Tree
from treeseq.vocab import Vocab

TASK = "tree"
SST_CLASSES = ("very negative", "negative", "neutral", "positive", "very positive")
BINARY_CLASSES = ("negative", "positive")


@dataclass(frozen=True)
class TreeModelConfig:
    """The tree classifier and its data settings (stored in the archive)."""

    kind: str = "binary-lstm"
    embed_dim: int = 300
    hidden_size: int = 150
    dropout: float = 0.5
    word_dropout: float = 0.0  # training: the chance of reading a word as <unk>
    labels: str = "fine"  # fine: the treebank's classes 0..num_classes-1; binary: SST 0-1 vs 3-4, neutral dropped
    num_classes: int = 5
    lowercase: bool = False
    min_count: int = 1
    sparse_embeddings: bool = True
    binarize: bool = True  # binarize non-binary trees for the binary-arity cells
    # random: batches of shuffled trees; height: shuffled pools of 50 batches sorted by tree height,
    # so a batch's trees share their number of levels (fewer sequential steps per sentence).
    batching: str = "height"

    def __post_init__(self) -> None:
        choice(self, "kind", MODEL_KINDS)
        choice(self, "labels", ("fine", "binary"))
        choice(self, "batching", ("random", "height"))
        if self.kind in ("rnn", "rntn") and self.embed_dim != self.hidden_size:
            raise ConfigError(
                f"model.kind={self.kind} uses word vectors as leaf states: embed_dim ({self.embed_dim}) "
                f"must equal hidden_size ({self.hidden_size})"
            )
        if self.labels == "binary" and self.num_classes != 5:
            raise ConfigError("model.labels=binary collapses the 5 SST classes: num_classes must be 5")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.word_dropout < 1.0:
            raise ConfigError(f"model.dropout and model.word_dropout must be in [0, 1), got {self.dropout}, {self.word_dropout}")
        if min(self.embed_dim, self.hidden_size, self.num_classes - 1, self.min_count) < 1:
            raise ConfigError("model sizes must be >= 1 and num_classes >= 2")


class LabelScheme:
    """Maps treebank labels (strings) to class ids; -1 means no label and no loss."""

    def __init__(self, cfg: TreeModelConfig) -> None:
        self.kind, self.num_raw = cfg.labels, cfg.num_classes
        if cfg.labels == "binary":
            self.classes: tuple[str, ...] = BINARY_CLASSES
        elif cfg.num_classes == 5:
            self.classes = SST_CLASSES
        else:
            self.classes = tuple(str(i) for i in range(cfg.num_classes))

    def check(self, label: str | None) -> str | None:
        """A problem with a raw label, for the readers' `file:line: problem` errors."""
        if label is None:
            return None
        if not re.fullmatch(r"-?[0-9]+", label):  # ASCII digits: "²".isdigit() is true, int("²") fails
            return f"label {label!r} is not an integer"
        if not 0 <= int(label) < self.num_raw:
            return f"label {label} is out of range 0..{self.num_raw - 1}"
        return None

    def class_id(self, label: str | None) -> int:
        if label is None:
            return -1
        value = int(label)
        if self.kind == "binary":
            return -1 if value == self.num_raw // 2 else int(value > self.num_raw // 2)
        return value

    def keeps(self, tree: Tree) -> bool:
        """Binary training and evaluation drop sentences whose root is neutral (or unlabelled)."""
        return self.kind != "binary" or self.class_id(tree.labels[tree.root]) >= 0


def prepare_trees(trees: Sequence[Tree], cfg: TreeModelConfig) -> list[Tree]:
    """Binarize where the model needs binary trees (and the config allows it)."""
    if TreeClassifier.arity_of(cfg.kind) != 2:
        return list(trees)
    out = []
    for index, tree in enumerate(trees):
        if not tree.is_binary():
            if not cfg.binarize or tree.kind != "constituency":
                raise ConfigError(f"tree {index + 1} is not binary and model.kind={cfg.kind} needs binary trees")
            tree = tree.binarize()
        out.append(tree)
    return out


def encode(tree: Tree, vocab: Vocab, scheme: LabelScheme, with_labels: bool = True) -> TreeExample:
    """Word ids and class ids; without labels (prediction input) every node gets -1."""
    labels = tuple(scheme.class_id(lab) for lab in tree.labels) if with_labels else (-1,) * len(tree)
    return TreeExample(tree, tuple(vocab.encode(tree.tokens)), labels)


def build_model(cfg: TreeModelConfig, vocab_size: int, sparse: bool | None = None, fused: bool = True) -> TreeClassifier:
    """The classifier for a config; `fused` (fp32 only): the binary Tree-LSTM's own forward and backward."""
    return TreeClassifier(
        cfg.kind,
        vocab_size,
        cfg.embed_dim,
        cfg.hidden_size,
        len(LabelScheme(cfg).classes),
        dropout=cfg.dropout,
        sparse_embeddings=cfg.sparse_embeddings if sparse is None else sparse,
        fused=fused,
        word_dropout=cfg.word_dropout,
        unk_id=Vocab.unk_id,
    )


@dataclass
class TreeReport:
    """Evaluation of a tree classifier: metrics plus the root confusion matrix."""

    metrics: dict[str, float]
    confusion: list[list[int]]
    classes: tuple[str, ...]
    sentences: int


def evaluate_batches(model: TreeClassifier, batches: Sequence[TreeBatch], scheme: LabelScheme) -> TreeReport:
    """Root and all-phrase accuracy; for 5-class SST models also binary accuracy, neutral removed."""
    probs, gold, is_root = [], [], []
    for batch in batches:
        probs.append(torch.softmax(model(batch).float(), dim=-1))
        gold.append(batch.labels)
        root_mask = torch.zeros_like(batch.labels, dtype=torch.bool)
        root_mask[batch.roots] = True
        is_root.append(root_mask)
    prob, label, root = torch.cat(probs), torch.cat(gold), torch.cat(is_root)
    labelled = label >= 0
    pred = prob.argmax(-1)
    metrics = {
        "root_acc": accuracy(pred[root & labelled], label[root & labelled]),
        "phrase_acc": accuracy(pred[labelled], label[labelled]),
    }
    if scheme.kind == "fine" and len(scheme.classes) == 5:
        # Binary from the fine model: negative (0, 1) against positive (3, 4); neutral gold dropped.
        polar = labelled & (label != 2)
        binary_pred = (prob[:, 3:].sum(-1) > prob[:, :2].sum(-1)).long()
        binary_gold = (label > 2).long()
        metrics["root_binary_acc"] = accuracy(binary_pred[root & polar], binary_gold[root & polar])
        metrics["phrase_binary_acc"] = accuracy(binary_pred[polar], binary_gold[polar])
    roots = root & labelled
    confusion = confusion_matrix(pred[roots], label[roots], len(scheme.classes))
    return TreeReport(metrics, confusion, scheme.classes, int(root.sum()))


class TreeTask:
    """The engine's view of tree classification."""

    metric = "root_acc"
    unit = "sent"

    def __init__(
        self,
        cfg: TreeModelConfig,
        train_cfg: TrainConfig,
        vocab: Vocab,
        train: Sequence[TreeExample],
        dev: Sequence[TreeExample],
        data_config: dict | None = None,
        parser: dict | None = None,
    ) -> None:
        self.cfg, self.train_cfg, self.vocab = cfg, train_cfg, vocab
        self.parser = parser  # a parser archive carried inside this model's archive
        self.scheme = LabelScheme(cfg)
        self.train, self.dev = list(train), list(dev)
        self.data_config = data_config or {}
        self._dev_batches = [batch_trees(self.dev[i : i + 256]) for i in range(0, len(self.dev), 256)]

    def train_batches(self, epoch: int) -> list[list[TreeExample]]:
        heights = [example.heights[-1] for example in self.train]
        key = heights.__getitem__ if self.cfg.batching == "height" else None
        batches = pooled_batches(len(self.train), self.train_cfg.batch_size, epoch_rng(self.train_cfg.seed, epoch), key)
        return [[self.train[i] for i in batch] for batch in batches]

    def collate(self, examples: Sequence[TreeExample]) -> TreeBatch:
        return batch_trees(examples)

    def loss(self, model: nn.Module, batch: TreeBatch) -> tuple[Tensor, Tensor]:
        logits = model(batch)
        labelled = batch.labels >= 0
        loss = nn.functional.cross_entropy(logits.float(), batch.labels, ignore_index=-1, reduction="sum")
        return loss, labelled.sum()

    def items(self, batch: TreeBatch) -> int:
        return len(batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        return evaluate_batches(model, [b.to(device) for b in self._dev_batches], self.scheme).metrics  # type: ignore[arg-type]

    def archive(self, model: nn.Module) -> dict:
        return make_archive(
            TASK,
            {"model": asdict(self.cfg), "train": asdict(self.train_cfg), "data": self.data_config},
            {"words": self.vocab.to_dict()},
            model.state_dict(),
            classes=list(self.scheme.classes),
            **({"parser": self.parser} if self.parser is not None else {}),
        )


@dataclass
class TreeInference:
    """A trained tree classifier loaded from its archive."""

    model: TreeClassifier
    cfg: TreeModelConfig
    vocab: Vocab
    scheme: LabelScheme
    device: torch.device
    parser: ParserInference | None = None  # the archive's own constituency parser, for raw text
    spacy: SpacyTrees | None = None  # the spaCy route, when the model was trained on spaCy trees
    precision: str = "fp32"  # or bf16: autocast for the classifier (and the parser) at inference
    max_length: int = 300  # longest raw sentence parsed (the spaCy route; the parser keeps its own)

    @classmethod
    def from_archive(
        cls, archive: dict, device: torch.device, max_length: int | None = None, spacy_model: str | None = None,
        precision: str = "fp32", workers: int = 1,
    ) -> TreeInference:  # fmt: skip
        """Load the classifier and, when the archive carries one, its parser (or its spaCy pipeline).

        Args:
            max_length: the longest sentence the parser takes (default: the parser's own setting).
            spacy_model: parse raw text with this spaCy pipeline instead of the archive's choice.
            precision: fp32 or bf16 (autocast) for the classifier and the parser.
            workers: parser batches run at once in this many threads.
        """
        check_inference_precision(precision)
        cfg = TreeModelConfig(**archive["config"]["model"])
        vocab = Vocab.from_dict(archive["vocabs"]["words"])
        model = build_model(cfg, len(vocab), sparse=False, fused=autocast_dtype(device.type, precision) is None)
        model.load_state_dict(archive["state_dict"])
        model.to(device).eval()
        parser = None
        if "parser" in archive:
            parser = ParserInference.from_archive(archive["parser"], device, max_length, precision, workers)
        spacy_name = spacy_model or archive["config"].get("data", {}).get("spacy_model")
        spacy = SpacyTrees(spacy_name) if spacy_name else None
        return cls(model, cfg, vocab, LabelScheme(cfg), device, parser, spacy, precision, max_length or 300)

    def trees_from_text(self, lines: Sequence[str], source: str = "<input>") -> list[Tree]:
        """Tokenize raw sentences (one per item) and parse them into trees the model can label."""
        return self.trees_from_tokens([tokenize(line) for line in lines], source)

    def check_sentence(self, tokens: Sequence[str], where: str) -> None:
        """Raise CorpusFormatError (`where: problem`) for a sentence that cannot be parsed."""
        if not tokens:
            raise CorpusFormatError(f"{where}: no tokens to parse")
        if self.parser is not None and self.spacy is None:
            self.parser.check(tokens, where)
        elif len(tokens) > self.max_length:
            raise CorpusFormatError(f"{where}: {len(tokens)} tokens is over the limit of {self.max_length}; "
                                    "split the sentence or raise --max-length")  # fmt: skip

    def trees_from_tokens(self, sentences: Sequence[Sequence[str]], source: str = "<input>") -> list[Tree]:
        """Parse treebank-tokenized sentences into trees the model can label.

        Raises:
            ConfigError: the archive has no parser and no spaCy pipeline was named.
            CorpusFormatError: `source:line: problem` for a sentence with no tokens or over the length limit.
        """
        if self.spacy is not None:
            for number, tokens in enumerate(sentences, start=1):
                if not tokens:
                    raise CorpusFormatError(f"{source}:{number}: no tokens to parse")
            return self.spacy.parse_tokens([list(tokens) for tokens in sentences])
        if self.parser is None:
            raise ConfigError(
                "this model carries no parser for raw text: give bracketed trees (--trees), retrain with "
                "`train tree --parser FILE`, or use --spacy-model NAME"
            )
        return self.parser.parse_tokens(sentences, source)

    @torch.no_grad()
    def evaluate_parsed(self, gold: Sequence[Tree]) -> TreeReport:
        """Evaluate on trees predicted from raw text: each gold tree's tokens are detokenized, re-tokenized
        and parsed; gold labels move to predicted nodes covering the same text (the root always gets
        the gold sentence label), so root accuracy is exact and phrase accuracy counts matched spans only.
        """
        kept = [t for t in gold if self.scheme.keeps(t)]
        predicted = self.trees_from_text([detokenize(t.tokens) for t in kept], "<gold text>")
        relabelled = [transfer_labels(g, p) for g, p in zip(kept, predicted)]
        report = evaluate_batches(self.model, self.batches(self.encode(relabelled)), self.scheme)
        matched = sum(sum(lab is not None for lab in t.labels) for t in relabelled)
        report.metrics["matched_labels"] = matched / max(1, sum(sum(lab is not None for lab in t.labels) for t in kept))
        return report

    def encode(self, trees: Sequence[Tree], with_labels: bool = True) -> list[TreeExample]:
        return [encode(t, self.vocab, self.scheme, with_labels) for t in prepare_trees(trees, self.cfg)]

    def batches(self, examples: Sequence[TreeExample], batch_size: int = 256) -> list[TreeBatch]:
        return [batch_trees(examples[i : i + batch_size]).to(self.device) for i in range(0, len(examples), batch_size)]

    @torch.no_grad()
    def evaluate(self, trees: Sequence[Tree]) -> TreeReport:
        if self.spacy is not None:  # a model trained on spaCy trees is evaluated on them
            trees = self.spacy.labelled(trees)
        kept = [t for t in prepare_trees(trees, self.cfg) if self.scheme.keeps(t)]
        return evaluate_batches(self.model, self.batches(self.encode(kept)), self.scheme)

    @torch.no_grad()
    def predict(self, trees: Sequence[Tree], batch_size: int = 256) -> list[tuple[Tree, Tensor]]:
        """Per tree (binarized if the model needs it): the tree and its node class probabilities (n, C)."""
        prepared = prepare_trees(trees, self.cfg)
        out: list[tuple[Tree, Tensor]] = []
        for start in range(0, len(prepared), batch_size):
            chunk = prepared[start : start + batch_size]
            batch = batch_trees(self.encode(chunk, with_labels=False)).to(self.device)
            with autocast(self.device.type, self.precision):
                logits = self.model(batch)
            probs = torch.softmax(logits.float(), dim=-1)[batch.order].cpu()
            offset = 0
            for tree in chunk:
                out.append((tree, probs[offset : offset + len(tree)]))
                offset += len(tree)
        return out
