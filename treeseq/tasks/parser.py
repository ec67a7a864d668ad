"""Constituency parsing: configuration, the training task (structured hinge loss), prediction, the archive.

Training objective: the margin (structured hinge) loss of Stern et al. (2017). For each sentence,
loss-augmented decoding finds the tree maximizing score(T) + Hamming(T, gold), where the Hamming
cost counts predicted spans not in the gold tree; the loss is max(0, that - score(gold)). The decoder
runs on detached scores (it is not differentiated); the loss is a sum of span scores over the two
trees, so gradients reach exactly the spans where they differ.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from treeseq.checkpoint import make_archive
from treeseq.config import FAMILY_TRAIN_DEFAULTS, TrainConfig
from treeseq.data.batching import budget_batches
from treeseq.data.parsing import (
    ParseBatch,
    ParseExample,
    ParserVocabs,
    batch_examples,
    span_mask,
)  # fmt: skip
from treeseq.decoding.cky import cky_decode, preorder_to_tree, tree_spans
from treeseq.device import autocast, epoch_rng
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.metrics import bracket_scores
from treeseq.models.parser import SpanParser
from treeseq.trees import Tree
from treeseq.vocab import Vocab

TASK = "parser"
# Engine defaults for `train parser` (the classifier's adagrad defaults do not suit a BiLSTM).
TRAIN_DEFAULTS = FAMILY_TRAIN_DEFAULTS["parser"]


@dataclass(frozen=True)
class ParserConfig:
    """The span parser's sizes and data settings (stored in the archive)."""

    embed_dim: int = 100
    char_dim: int = 32
    char_out: int = 64  # 0: no character features
    hidden_size: int = 200  # per direction
    num_layers: int = 2
    mlp_size: int = 200
    dropout: float = 0.3
    word_dropout: float = 0.3  # probability of replacing a training word seen once by <unk>
    lowercase: bool = True  # word vectors; characters keep their case
    pos_tags: str = ""  # a spaCy pipeline whose tagger supplies part-of-speech inputs; "" = none
    tag_dim: int = 32
    min_count: int = 1
    max_length: int = 300  # longest sentence parsed by default; chart memory grows as length^2
    cell_budget: int = 32_000  # chart cells (sentences x (length + 1)^2) per dev-evaluation batch

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.word_dropout < 1.0:
            raise ConfigError("model.dropout and model.word_dropout must be in [0, 1)")
        if min(self.embed_dim, self.hidden_size, self.num_layers, self.mlp_size, self.min_count, self.max_length) < 1:
            raise ConfigError("parser sizes must be >= 1")
        if self.char_out < 0 or self.char_dim < 1 or self.tag_dim < 1:
            raise ConfigError("model.char_out must be >= 0, model.char_dim and model.tag_dim >= 1")


def build_vocabs(sentences: Sequence[Sequence[str]], cfg: ParserConfig,
                 tags: Sequence[Sequence[str]] | None = None) -> ParserVocabs:  # fmt: skip
    """Word, character (and, with `tags`, tag) vocabularies from the training sentences."""
    words = Vocab.build((w for s in sentences for w in s), cfg.min_count, lowercase=cfg.lowercase)
    chars = Vocab.build(c for s in sentences for w in s for c in w)
    return ParserVocabs(words, chars, Vocab.build(t for s in tags for t in s) if tags is not None else None)


def build_parser(cfg: ParserConfig, vocabs: ParserVocabs) -> SpanParser:
    return SpanParser(
        vocabs.num_words, len(vocabs.chars), cfg.embed_dim, cfg.char_dim, cfg.char_out,
        cfg.hidden_size, cfg.num_layers, cfg.mlp_size, cfg.dropout, vocabs.num_tags, cfg.tag_dim,
    )  # fmt: skip


def encode_tree(tree: Tree, vocabs: ParserVocabs, tags: Sequence[str] = ()) -> ParseExample:
    """A training or evaluation example: the tree's tokens (and tags) and its spans."""
    return vocabs.encode(tree.tokens, tree_spans(tree), tags)


def tag_sentences(cfg: ParserConfig, sentences: Sequence[Sequence[str]]) -> list[tuple[str, ...]] | None:
    """The configured tagger's tags for each sentence, or None when the parser reads no tags."""
    if not cfg.pos_tags:
        return None
    from treeseq.adapters.spacy_pos import SpacyPosTagger  # noqa: PLC0415

    return SpacyPosTagger(cfg.pos_tags).tag(sentences)


def hinge_loss(scores: Tensor, gold: Tensor, lengths: Sequence[int]) -> Tensor:
    """Per sentence: max over trees T of score(T) + Hamming(T, gold), minus score(gold); (B,).

    Args:
        scores: (B, N + 1, N + 1) span scores; gold: the same shape, bool, True at gold spans.
    """
    scores = scores.float()
    augmented = scores.detach() + (~gold).float()  # +1 for every span the gold tree lacks
    spans, _ = cky_decode(augmented, lengths)
    predicted = span_mask(spans, scores.shape[1], scores.device)
    difference = predicted.float() - gold.float()
    margin = (scores * difference).sum((1, 2)) + (predicted & ~gold).sum((1, 2)).float()
    return margin.clamp_min(0.0)


class ParserTask:
    """The engine's view of parser training: length-bucketed batches, hinge loss, dev bracket F1."""

    metric = "f1"
    unit = "sent"

    def __init__(
        self,
        cfg: ParserConfig,
        train_cfg: TrainConfig,
        vocabs: ParserVocabs,
        train: Sequence[ParseExample],
        dev: Sequence[ParseExample],
        data_config: dict | None = None,
    ) -> None:
        self.cfg, self.train_cfg, self.vocabs = cfg, train_cfg, vocabs
        self.train, self.dev = list(train), list(dev)
        self.data_config = data_config or {}
        counts: dict[int, int] = {}
        for ex in self.train:
            for word_id in ex.word_ids:
                counts[word_id] = counts.get(word_id, 0) + 1
        self.rare_ids = torch.tensor(sorted(w for w, c in counts.items() if c == 1), dtype=torch.long)

    def train_batches(self, epoch: int) -> list[list[ParseExample]]:
        """Sentences of similar length together (less padding), batches in a random order."""
        lengths = [len(example.tokens) for example in self.train]
        batches = budget_batches(lengths, lengths, rng=epoch_rng(self.train_cfg.seed, epoch), max_items=self.train_cfg.batch_size)
        return [[self.train[i] for i in batch] for batch in batches]

    def collate(self, examples: Sequence[ParseExample]) -> ParseBatch:
        batch = batch_examples(examples, self.vocabs)
        if self.cfg.word_dropout > 0 and self.rare_ids.numel():
            drop = torch.isin(batch.word_ids, self.rare_ids) & (torch.rand(batch.word_ids.shape) < self.cfg.word_dropout)
            batch.word_ids = batch.word_ids.masked_fill(drop, self.vocabs.words.unk_id)
        return batch

    def loss(self, model: nn.Module, batch: ParseBatch) -> tuple[Tensor, Tensor]:
        scores = model(*batch.inputs)
        assert batch.gold is not None
        losses = hinge_loss(scores, batch.gold, batch.lengths.tolist())
        return losses.sum(), torch.tensor(len(batch))

    def items(self, batch: ParseBatch) -> int:
        return len(batch)

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        spans = parse_examples(model, self.dev, self.vocabs, device, self.cfg.cell_budget)  # type: ignore[arg-type]
        return bracket_scores(spans, [list(ex.spans) for ex in self.dev], [len(ex.tokens) for ex in self.dev])

    def archive(self, model: nn.Module) -> dict:
        return make_archive(
            TASK,
            {"model": asdict(self.cfg), "train": asdict(self.train_cfg), "data": self.data_config},
            self.vocabs.to_dict(),
            model.state_dict(),
        )


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}  # inference autocast dtypes


def parse_examples(
    model: SpanParser,
    examples: Sequence[ParseExample],
    vocabs: ParserVocabs,
    device: torch.device,
    cell_budget: int,
    precision: str = "fp32",
    workers: int = 1,
) -> list[list[tuple[int, int]]]:
    """The best tree's spans for each example, in input order; batches bounded by chart cells.

    Args:
        precision: fp32, or bf16 (autocast for the BiLSTM and the span scorer; the chart stays fp32).
        workers: batches parsed at once by this many threads (PyTorch releases the GIL inside its
            operators); give each one intra-op thread (`torch.set_num_threads(1)`) to avoid oversubscription.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")

    def parse_group(group: list[int]) -> list[list[tuple[int, int]]]:
        batch = batch_examples([examples[i] for i in group], vocabs, with_gold=False).to(device)
        # no_grad and autocast are per thread, so they are set here, inside the worker.
        with torch.no_grad(), autocast(device.type, precision):
            scores = model(*batch.inputs)
        return cky_decode(scores.float(), batch.lengths.tolist())[0]

    lengths = [len(ex.tokens) for ex in examples]
    groups = budget_batches(lengths, [(n + 1) ** 2 for n in lengths], cell_budget, max_items=512)  # chart cells
    if workers > 1 and len(groups) > 1:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(parse_group, groups))
    else:
        results = [parse_group(group) for group in groups]
    out: list[list[tuple[int, int]]] = [[] for _ in examples]
    for group, spans in zip(groups, results):
        for index, sentence_spans in zip(group, spans):
            out[index] = sentence_spans
    return out


@dataclass
class ParserInference:
    """A trained parser loaded from its archive: token lists (or raw text) in, unlabelled binary trees out."""

    model: SpanParser
    cfg: ParserConfig
    vocabs: ParserVocabs
    device: torch.device
    max_length: int
    cell_budget: int = 32_000  # chart cells per batch: about 64 SST sentences; measured faster than larger batches
    precision: str = "fp32"  # or bf16: autocast at inference (docs/experiments/parsing.md: speed and F1 measured)
    workers: int = 1  # batches parsed in parallel threads (see parse_examples)
    tagger: Any = None  # a SpacyPosTagger when the parser reads part-of-speech tags

    @classmethod
    def from_archive(
        cls, archive: dict, device: torch.device, max_length: int | None = None, precision: str = "fp32", workers: int = 1
    ) -> ParserInference:
        cfg = ParserConfig(**archive["config"]["model"])
        vocabs = ParserVocabs.from_dict(archive["vocabs"])
        model = build_parser(cfg, vocabs)
        model.load_state_dict(archive["state_dict"])
        model.to(device).eval()
        if precision not in PRECISIONS or workers < 1:
            raise ConfigError(f"precision {precision!r} (expected fp32 or bf16), workers {workers} (expected >= 1)")
        tagger = None
        if cfg.pos_tags:
            from treeseq.adapters.spacy_pos import SpacyPosTagger  # noqa: PLC0415

            tagger = SpacyPosTagger(cfg.pos_tags)
        return cls(model, cfg, vocabs, device, max_length or cfg.max_length, precision=precision, workers=workers, tagger=tagger)

    def check(self, tokens: Sequence[str], where: str) -> None:
        """Raise CorpusFormatError (`where: problem`) for a sentence this parser will not parse."""
        if not tokens:
            raise CorpusFormatError(f"{where}: no tokens to parse")
        if any(not token for token in tokens):
            raise CorpusFormatError(f"{where}: an empty token")
        if len(tokens) > self.max_length:
            raise CorpusFormatError(
                f"{where}: {len(tokens)} tokens is over the parser's limit of {self.max_length} "
                "(chart memory grows with length squared); split the sentence or raise --max-length"
            )

    def encode(self, sentences: Sequence[Sequence[str]]) -> list[ParseExample]:
        """The model's inputs for each sentence (tagged first when the parser reads tags)."""
        tags = self.tagger.tag(sentences) if self.tagger is not None else [()] * len(sentences)
        return [self.vocabs.encode(tokens, (), sentence_tags) for tokens, sentence_tags in zip(sentences, tags)]

    def parse_tokens(self, sentences: Sequence[Sequence[str]], where: str = "<input>") -> list[Tree]:
        """Unlabelled binary trees over the given tokens, batched."""
        for number, tokens in enumerate(sentences, start=1):
            self.check(tokens, f"{where}:{number}")
        examples = self.encode(sentences)
        spans = parse_examples(self.model, examples, self.vocabs, self.device, self.cell_budget, self.precision, self.workers)
        return [preorder_to_tree(tokens, s) for tokens, s in zip(sentences, spans)]
