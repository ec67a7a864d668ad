"""Parser inputs: token and character ids, padded batches with sentinels, gold span masks, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from treeseq.vocab import Vocab

MAX_WORD_CHARS = 16  # longer words keep their first and last 8 characters


Span = tuple[int, int]  # token span [start, end)


def span_mask(spans: Sequence[Sequence[Span]], width: int, device: torch.device | None = None) -> Tensor:
    """A (B, width, width) bool mask with True at each sentence's spans."""
    mask = torch.zeros(len(spans), width, width, dtype=torch.bool)
    rows = [(b, i, j) for b, sent in enumerate(spans) for i, j in sent]
    if rows:
        index = torch.tensor(rows)
        mask[index[:, 0], index[:, 1], index[:, 2]] = True
    return mask.to(device) if device is not None else mask


@dataclass(frozen=True)
class ParseExample:
    """One sentence: its tokens, their ids and (for training and evaluation) the gold spans."""

    tokens: tuple[str, ...]
    word_ids: tuple[int, ...]
    char_ids: tuple[tuple[int, ...], ...]
    spans: tuple[Span, ...] = ()
    tag_ids: tuple[int, ...] = ()  # part-of-speech tag ids, when the parser reads tags


@dataclass
class ParseBatch:
    """Padded sentences: position 0 is the start sentinel and length + 1 the end sentinel.

    word_ids: (B, N + 2); char_ids: (B, N + 2, W); lengths: (B,) on the CPU;
    gold: (B, N + 1, N + 1) bool, True at gold spans, or None without gold trees;
    tag_ids: (B, N + 2) with the same sentinels and padding as word_ids, or None without tags.
    """

    word_ids: Tensor
    char_ids: Tensor
    lengths: Tensor
    gold: Tensor | None = None
    tag_ids: Tensor | None = None

    def __len__(self) -> int:
        return int(self.lengths.numel())

    def to(self, device: torch.device) -> ParseBatch:
        gold = None if self.gold is None else self.gold.to(device)
        tags = None if self.tag_ids is None else self.tag_ids.to(device)
        return ParseBatch(self.word_ids.to(device), self.char_ids.to(device), self.lengths, gold, tags)

    @property
    def inputs(self) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """The model's arguments: word ids, character ids, lengths, tag ids."""
        return self.word_ids, self.char_ids, self.lengths, self.tag_ids


class ParserVocabs:
    """Words and, when the parser reads them, part-of-speech tags (each with two sentinel ids after the
    vocabulary), and characters."""

    def __init__(self, words: Vocab, chars: Vocab, tags: Vocab | None = None) -> None:
        self.words, self.chars, self.tags = words, chars, tags
        self.bos_id, self.eos_id = len(words), len(words) + 1

    @property
    def num_words(self) -> int:
        return len(self.words) + 2

    @property
    def num_tags(self) -> int:
        """Rows of the tag table (0 without tags)."""
        return len(self.tags) + 2 if self.tags is not None else 0

    def to_dict(self) -> dict:
        out = {"words": self.words.to_dict(), "chars": self.chars.to_dict()}
        if self.tags is not None:
            out["tags"] = self.tags.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ParserVocabs:
        tags = Vocab.from_dict(data["tags"]) if "tags" in data else None
        return cls(Vocab.from_dict(data["words"]), Vocab.from_dict(data["chars"]), tags)

    def encode(self, tokens: Sequence[str], spans: Sequence[Span] = (), tags: Sequence[str] = ()) -> ParseExample:
        """Ids for one sentence's tokens (and its tags, required when the vocabularies have tags)."""
        chars = tuple(
            tuple(self.chars.encode(tok if len(tok) <= MAX_WORD_CHARS else tok[:8] + tok[-8:])) for tok in tokens
        )
        tag_ids: tuple[int, ...] = ()
        if self.tags is not None:
            if len(tags) != len(tokens):
                raise ValueError(f"{len(tags)} tags for {len(tokens)} tokens")
            tag_ids = tuple(self.tags.encode(tags))
        return ParseExample(tuple(tokens), tuple(self.words.encode(tokens)), chars, tuple(spans), tag_ids)


def batch_examples(examples: Sequence[ParseExample], vocabs: ParserVocabs, with_gold: bool = True) -> ParseBatch:
    """Pad a list of sentences into one batch (sentinels added here)."""
    n = max(len(ex.tokens) for ex in examples)
    width = max((len(c) for ex in examples for c in ex.char_ids), default=1)
    width = max(1, width)
    # Padded rows as Python lists, then one tensor each: one small tensor per word was 10x slower.
    words, chars, tags = [], [], []
    no_word = [0] * width
    tag_bos = len(vocabs.tags) if vocabs.tags is not None else 0
    for ex in examples:
        pad = n - len(ex.tokens)
        words.append([vocabs.bos_id, *ex.word_ids, vocabs.eos_id] + [0] * pad)
        chars.append([no_word] + [list(c) + [0] * (width - len(c)) for c in ex.char_ids] + [no_word] * (pad + 1))
        if vocabs.tags is not None:
            tags.append([tag_bos, *ex.tag_ids, tag_bos + 1] + [0] * pad)
    word_ids = torch.tensor(words, dtype=torch.long)  # (B, N + 2)
    char_ids = torch.tensor(chars, dtype=torch.long)  # (B, N + 2, W)
    lengths = torch.tensor([len(ex.tokens) for ex in examples])
    gold = span_mask([ex.spans for ex in examples], n + 1) if with_gold else None
    tag_ids = torch.tensor(tags, dtype=torch.long) if vocabs.tags is not None else None
    return ParseBatch(word_ids, char_ids, lengths, gold, tag_ids)
