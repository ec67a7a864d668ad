"""Sentence classification data: labelled texts as read, their ids, and padded batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from treeseq.data.batching import length_mask
from treeseq.text import check_label
from treeseq.vocab import Vocab


@dataclass(frozen=True)
class LabelledText:
    """One example as read: its tokens (None when the corpus gives raw text, tokenized later), the raw
    text (None when the corpus gives tokens), its label as written in the corpus and `file:line`."""

    tokens: tuple[str, ...] | None
    label: str | None
    where: str = ""
    text: str | None = None
    phrase: bool = False  # a treebank phrase added as an example (not a whole sentence)

    def __post_init__(self) -> None:
        if self.label is not None:
            check_label(self.label, self.where)


@dataclass(frozen=True)
class ClassExample:
    """A sentence as ids, with its class (-1: unknown to the model, never trained on, always wrong)."""

    word_ids: tuple[int, ...]
    label_id: int = -1

    def __len__(self) -> int:
        return len(self.word_ids)


def encode(tokens: tuple[str, ...] | list[str], vocab: Vocab, label_id: int = -1) -> ClassExample:
    """An example's ids (and its class, -1 for none)."""
    return ClassExample(tuple(vocab.encode(tokens)), label_id)


@dataclass
class ClassBatch:
    """Padded word ids (B, T) with padding at the end, lengths (B,) and classes (B,), -1 for none."""

    word_ids: Tensor
    lengths: Tensor
    label_ids: Tensor

    def to(self, device: torch.device) -> ClassBatch:
        return ClassBatch(self.word_ids.to(device, non_blocking=True), self.lengths.to(device), self.label_ids.to(device))

    @property
    def mask(self) -> Tensor:
        """(B, T) bool, True on real tokens."""
        return length_mask(self.lengths, self.word_ids.shape[1], self.word_ids.device)

    def __len__(self) -> int:
        return len(self.lengths)


def collate(examples: list[ClassExample] | tuple[ClassExample, ...]) -> ClassBatch:
    """Pad a list of examples (each at least one token long)."""
    width = max((len(e) for e in examples), default=0)
    word_ids = torch.zeros(len(examples), width, dtype=torch.long)
    for row, example in enumerate(examples):
        word_ids[row, : len(example)] = torch.tensor(example.word_ids, dtype=torch.long)
    lengths = torch.tensor([len(e) for e in examples], dtype=torch.long)
    labels = torch.tensor([e.label_id for e in examples], dtype=torch.long)
    return ClassBatch(word_ids, lengths, labels)
