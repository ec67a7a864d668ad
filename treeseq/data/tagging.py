"""Tagging data: sentence records, their encoding into ids, length-bucketed batches and padding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from treeseq.data.batching import length_mask
from treeseq.text import check_label
from treeseq.vocab import Vocab

MAX_WORD_CHARS = 24  # longer words (URLs, e-mail addresses) keep their first characters only


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence as read: tokens, optional tags (one per token) and an optional intent."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...] | None = None
    intent: str | None = None
    where: str = ""  # `file:line` of the sentence, for error messages
    offsets: tuple[tuple[int, int], ...] | None = None  # character offsets in the raw text, when known

    def __post_init__(self) -> None:
        if self.intent is not None:
            check_label(self.intent, self.where, "intent")
        for tag in self.tags or ():
            check_label(tag, self.where, "tag")


@dataclass(frozen=True)
class TaggingExample:
    """A sentence as ids: words, tags (-1: none) and intent (-1: none)."""

    tokens: tuple[str, ...]
    word_ids: tuple[int, ...]
    tag_ids: tuple[int, ...]
    intent_id: int = -1

    def __len__(self) -> int:
        return len(self.tokens)


class Encoder:
    """The vocabularies of a tagger: words, characters, tags and intents (possibly empty)."""

    def __init__(self, words: Vocab, chars: Vocab, tags: Sequence[str], intents: Sequence[str]) -> None:
        self.words, self.chars = words, chars
        self.tags, self.intents = list(tags), list(intents)
        self.tag_index = {t: i for i, t in enumerate(self.tags)}
        self.intent_index = {t: i for i, t in enumerate(self.intents)}
        self._char_cache: dict[str, tuple[int, ...]] = {}

    def encode(self, sentence: TaggedSentence, with_labels: bool = True) -> TaggingExample:
        """Ids for one sentence; labels unknown to the model become -1 (no loss, always counted wrong)."""
        tokens = sentence.tokens
        if with_labels and sentence.tags is not None:
            tag_ids = tuple(self.tag_index.get(t, -1) for t in sentence.tags)
        else:
            tag_ids = (-1,) * len(tokens)
        intent = self.intent_index.get(sentence.intent, -1) if with_labels and sentence.intent is not None else -1
        return TaggingExample(tokens, tuple(self.words.encode(tokens)), tag_ids, intent)

    def char_ids(self, token: str) -> tuple[int, ...]:
        cached = self._char_cache.get(token)
        if cached is None:
            get, unk = self.chars.stoi.get, self.chars.unk_id
            cached = tuple(get(c, unk) for c in token[:MAX_WORD_CHARS]) or (unk,)
            self._char_cache[token] = cached
        return cached


@dataclass
class TaggingBatch:
    """Padded tensors for a batch of sentences (batch-first; masks are True on real tokens)."""

    word_ids: Tensor  # (B, T)
    mask: Tensor  # (B, T) bool
    lengths: Tensor  # (B,) on the CPU, for packing
    char_ids: Tensor  # (U, L): characters of the batch's distinct words
    char_lengths: Tensor  # (U,)
    char_index: Tensor  # (B, T): row of char_ids for each token
    tag_ids: Tensor  # (B, T), -1 on padding and unknown tags
    intent_ids: Tensor  # (B,), -1 when none

    def to(self, device: torch.device) -> TaggingBatch:
        moved = {k: v if k == "lengths" else v.to(device, non_blocking=True) for k, v in vars(self).items()}
        return TaggingBatch(**moved)

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def pad(rows: Sequence[Sequence[int]], value: int = 0) -> Tensor:
    """A (len(rows), longest) long tensor with `value` after each row's end."""
    width = max((len(r) for r in rows), default=0)
    return torch.tensor([list(r) + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def collate(examples: Sequence[TaggingExample], encoder: Encoder) -> TaggingBatch:
    """Pad a list of examples; characters are encoded once per distinct word of the batch."""
    distinct: dict[str, int] = {}
    char_rows: list[tuple[int, ...]] = []
    index_rows = []
    for example in examples:
        row = []
        for token in example.tokens:
            slot = distinct.get(token)
            if slot is None:
                slot = distinct[token] = len(char_rows)
                char_rows.append(encoder.char_ids(token))
            row.append(slot)
        index_rows.append(row)
    lengths = torch.tensor([len(e) for e in examples], dtype=torch.long)
    word_ids = pad([e.word_ids for e in examples])
    mask = length_mask(lengths, word_ids.shape[1])
    return TaggingBatch(
        word_ids=word_ids,
        mask=mask,
        lengths=lengths,
        char_ids=pad(char_rows),
        char_lengths=torch.tensor([len(r) for r in char_rows], dtype=torch.long),
        char_index=pad(index_rows),
        tag_ids=pad([e.tag_ids for e in examples], value=-1),
        intent_ids=torch.tensor([e.intent_id for e in examples], dtype=torch.long),
    )
