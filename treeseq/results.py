"""What `predict` returns: one small typed record per input, for every model family.

Each result's `to_dict()` is exactly the record that the command's `--format jsonl` prints for that
input. Character offsets are [start, end) into the input text; results made from token lists or
bracketed trees carry no offsets (None). Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from treeseq.trees import Tree

Offsets = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class TreeNode:
    """One node of a labelled tree: the tokens it covers, its class and the class probabilities."""

    span: tuple[int, int]  # token span [start, end)
    text: str  # its tokens in treebank form, joined by spaces
    label: str  # the predicted class name
    class_id: int
    prob: float  # probability of the predicted class
    probs: tuple[float, ...]  # every class's probability, in the model's class order
    start: int | None = None  # character span in the input text, when the input was text
    end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "span": list(self.span), "text": self.text, "label": self.label, "class": self.class_id,
            "prob": round(self.prob, 4), "probs": [round(p, 4) for p in self.probs],
        }  # fmt: skip
        if self.start is not None:
            record["start"], record["end"] = self.start, self.end
        return record


@dataclass(frozen=True)
class TreeResult:
    """A tree classifier's output for one sentence: every node labelled, the root first.

    `tokens` are the treebank forms the model reads (`-LRB-`, `ca`, `n't`); `words` are the same
    tokens as they appear in the input (`(`, `ca`, `n't`).
    """

    text: str | None  # the input sentence; None for a bracketed tree given as input
    tree: Tree  # the tree the model labelled (binarized where the model needs binary trees)
    classes: tuple[str, ...]
    nodes: tuple[TreeNode, ...]  # pre-order: the root first
    words: tuple[str, ...]
    offsets: Offsets | None = None

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.tree.tokens

    @property
    def label(self) -> str:
        """The sentence's class (the root's)."""
        return self.nodes[0].label

    @property
    def prob(self) -> float:
        return self.nodes[0].prob

    def by_node(self) -> tuple[list[int], list[float]]:
        """The predicted class id and its probability indexed by the tree's node numbers (post-order)."""
        predicted, best = [0] * len(self.tree), [0.0] * len(self.tree)
        for (node, _), item in zip(self.tree.preorder(), self.nodes):
            predicted[node], best[node] = item.class_id, item.prob
        return predicted, best

    def brackets(self) -> str:
        """The tree in bracket notation with class ids as labels, e.g. `(3 (2 The) (4 film))`."""
        return self.tree.to_brackets([str(c) for c in self.by_node()[0]])

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {}
        if self.text is not None:
            record["text"] = self.text
        record.update({"tokens": list(self.tokens), "words": list(self.words), "label": self.label,
                       "prob": round(self.prob, 4), "classes": list(self.classes), "tree": self.brackets(),
                       "nodes": [n.to_dict() for n in self.nodes]})  # fmt: skip
        if self.offsets is not None:
            record["offsets"] = [list(o) for o in self.offsets]
        return record

    def render(self, path: str | Path, dpi: int = 110) -> Path:
        """Draw the labelled tree to `path` (.svg, or .png with matplotlib at `dpi`); returns the path."""
        from treeseq.render_svg import render_file  # noqa: PLC0415 (matplotlib only when a picture is drawn)

        render_file(self.tree, self.classes, *self.by_node(), path, dpi)
        return Path(path)


@dataclass(frozen=True)
class ClassResult:
    """A sentence classifier's output for one sentence: its class and every class's probability."""

    text: str | None  # the input sentence; None when tokens were given
    tokens: tuple[str, ...]  # the tokens the model read (treebank forms for SST models)
    label: str
    probability: float  # of the predicted class
    classes: tuple[str, ...]
    probabilities: tuple[float, ...]  # every class's, in the model's class order
    offsets: Offsets | None = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {} if self.text is None else {"text": self.text}
        record.update({"tokens": list(self.tokens), "label": self.label, "prob": round(self.probability, 4),
                       "probs": {c: round(p, 4) for c, p in zip(self.classes, self.probabilities)}})  # fmt: skip
        if self.offsets is not None:
            record["offsets"] = [list(o) for o in self.offsets]
        return record


@dataclass(frozen=True)
class ParseResult:
    """An unlabelled binary constituency tree for one sentence."""

    text: str | None
    tree: Tree
    offsets: Offsets | None = None

    @property
    def tokens(self) -> tuple[str, ...]:
        return self.tree.tokens

    def spans(self) -> list[tuple[int, int]]:
        """The tree's constituents of two or more tokens, sorted, as token spans [start, end)."""
        return sorted({s for s in self.tree.spans() if s[1] - s[0] > 1})

    def brackets(self) -> str:
        return self.tree.to_brackets(["X"] * len(self.tree))

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {} if self.text is None else {"text": self.text}
        record.update({"tokens": list(self.tokens), "tree": self.brackets(), "spans": [list(s) for s in self.spans()]})
        if self.text is not None and self.offsets is not None:
            record["words"] = [self.text[a:b] for a, b in self.offsets]
            record["offsets"] = [list(o) for o in self.offsets]
        return record


@dataclass(frozen=True)
class Slot:
    """A chunk of a slot-filling or chunking model's tags: its type and where it is in the input."""

    type: str
    text: str
    start: int
    end: int
    tokens: tuple[int, int] = (0, 0)  # token span [start, end)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class TagResult:
    """A tagger's output for one sentence: a tag per token; for NLU models the intent and the slots."""

    text: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    tag_probs: tuple[float, ...]
    offsets: Offsets
    kind: str  # pos, slots or nlu
    intent: str | None = None
    intent_prob: float | None = None
    slots: tuple[Slot, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"text": self.text, "tokens": list(self.tokens), "tags": list(self.tags)}
        if self.kind == "nlu":
            record["intent"], record["intent_prob"] = self.intent, round(self.intent_prob or 0.0, 4)
        if self.kind != "pos":
            record["slots"] = [s.to_dict() for s in self.slots]
        return record


@dataclass(frozen=True)
class TranslationHypothesis:
    """One output of the search: raw text, its length-normalised score and its log-probability."""

    text: str
    score: float
    log_prob: float
    pieces: tuple[str, ...]  # target subwords, ending with </s>
    attention: tuple[tuple[float, ...], ...] | None = None  # (target pieces, source pieces), on request


@dataclass(frozen=True)
class TranslationResult:
    """The n best translations of one source sentence, best first (each record's `rank` counts from 1)."""

    source: str
    hypotheses: tuple[TranslationHypothesis, ...]
    source_pieces: tuple[str, ...]

    @property
    def text(self) -> str:
        """The best translation."""
        return self.hypotheses[0].text

    @property
    def texts(self) -> list[str]:
        return [h.text for h in self.hypotheses]

    def to_dict(self) -> dict[str, Any]:
        items = []
        with_attention = self.hypotheses[0].attention is not None
        for rank, hyp in enumerate(self.hypotheses, start=1):
            item: dict[str, Any] = {"rank": rank, "text": hyp.text, "score": round(hyp.score, 5), "log_prob": round(hyp.log_prob, 5)}
            if hyp.attention is not None:
                item["attention"] = [[round(v, 4) for v in row] for row in hyp.attention]
            items.append(item)
        record: dict[str, Any] = {"source": self.source, "translations": items}
        if with_attention:
            record["source_pieces"], record["target_pieces"] = list(self.source_pieces), list(self.hypotheses[0].pieces)
        return record


@dataclass(frozen=True)
class ScoreResult:
    """A language model's score of one line: the log-probability (nats) of its tokens and the final
    <eos>, and the perplexity per predicted token."""

    text: str
    tokens: tuple[str, ...]  # the units the model read (words, characters or subword pieces)
    token_logprobs: tuple[float, ...]  # one per token, then the <eos>

    @property
    def logprob(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def perplexity(self) -> float:
        import math  # noqa: PLC0415

        return math.exp(-self.logprob / max(1, len(self.token_logprobs)))

    def to_dict(self, tokens: bool = False) -> dict[str, Any]:
        """`tokens`: the units the model read, as every family's record has them; `scored`: how many
        log-probabilities the perplexity is over (the units and the line's end). With `tokens=True`
        also `token_logprobs`, one per unit and the last for the line's end."""
        record: dict[str, Any] = {"text": self.text, "tokens": list(self.tokens), "logprob": round(self.logprob, 4),
                                  "ppl": round(self.perplexity, 4), "scored": len(self.token_logprobs)}  # fmt: skip
        if tokens:
            record["token_logprobs"] = [round(v, 4) for v in self.token_logprobs]
        return record


@dataclass(frozen=True)
class Generation:
    """One sample of a language model: the prompt, what it added, and the whole text."""

    prompt: str
    continuation: str
    text: str  # the prompt and the continuation together
    tokens: tuple[str, ...]  # the generated units
    logprob: float  # of the generated units (and the <eos>, when it ended) under the unfiltered model
    ended: bool  # stopped at <eos> rather than at the length limit
    sample: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"sample": self.sample, "prompt": self.prompt, "continuation": self.continuation, "text": self.text,
                "tokens": list(self.tokens), "logprob": round(self.logprob, 4), "ended": self.ended}  # fmt: skip


def chunk_slots(text: str, offsets: Offsets, spans: Sequence[Any]) -> tuple[Slot, ...]:
    """Slots from chunk spans (objects with label, start, end over tokens), located in `text` by offsets."""
    out = []
    for span in spans:
        start, end = offsets[span.start][0], offsets[span.end - 1][1]
        out.append(Slot(span.label, text[start:end], start, end, (span.start, span.end)))
    return tuple(out)


@dataclass(frozen=True)
class Table:
    """A table of an evaluation report (a confusion matrix, scores by type)."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns), "rows": [list(r) for r in self.rows]}


UNSCALED_METRICS = frozenset({"ppl", "bpc", "nll"})  # report metrics that are not percentages


@dataclass
class Report:
    """What `treeseq.evaluate` returns: metrics in percent, facts about the run, tables, predictions.

    Attributes:
        metrics: every score on one scale, percent (accuracy 95.28, F1 97.43, BLEU 39.71); a language
            model's perplexity and bits per character (names in UNSCALED_METRICS) as they are.
        info: what was evaluated and how: the data file, counts, settings, signatures, seconds.
        tables: named tables (a confusion matrix, per-type chunk scores).
        predictions: one result per evaluated sentence, in data order, when asked for.
    """

    family: str
    data: str
    metrics: dict[str, float]
    info: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    predictions: list[Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record that `treeseq evaluate --format jsonl` prints."""
        record: dict[str, Any] = {"family": self.family, "data": self.data, **self.info}
        record.update({k: None if v != v else round(v, 4) for k, v in self.metrics.items()})  # NaN (nothing to score): null
        if self.tables:
            record["tables"] = {name: table.to_dict() for name, table in self.tables.items()}
        return record
