"""Parallel text: sentence pairs, their subword encoding and token-budget batches over length buckets."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from treeseq.data.batching import budget_batches
from treeseq.subwords import BOS_ID, EOS_ID, PAD_ID


@dataclass(frozen=True)
class SentencePair:
    """One aligned pair of raw sentences and where it came from (`file:line`)."""

    src: str
    tgt: str
    where: str = ""


@dataclass(frozen=True)
class PairExample:
    """A pair as subword ids (no bos/eos)."""

    src_ids: tuple[int, ...]
    tgt_ids: tuple[int, ...]


@dataclass
class Seq2SeqBatch:
    """Padded tensors of a batch; targets are split into decoder input (bos + y) and output (y + eos)."""

    src_ids: Tensor  # (B, S)
    src_lengths: Tensor  # (B,) on the CPU, as packing wants
    tgt_in: Tensor  # (B, T)
    tgt_out: Tensor  # (B, T), PAD_ID after eos

    def to(self, device: torch.device) -> Seq2SeqBatch:
        return Seq2SeqBatch(self.src_ids.to(device), self.src_lengths, self.tgt_in.to(device), self.tgt_out.to(device))

    @property
    def num_tgt_tokens(self) -> int:
        return int((self.tgt_out != PAD_ID).sum())


def pad_ids(rows: Sequence[Sequence[int]], min_len: int = 1) -> Tensor:
    """A (B, max len) long tensor, PAD_ID-padded."""
    width = max([min_len, *map(len, rows)])
    out = torch.full((len(rows), width), PAD_ID, dtype=torch.long)
    for index, row in enumerate(rows):
        out[index, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out


def collate_pairs(examples: Sequence[PairExample]) -> Seq2SeqBatch:
    """Pad a list of examples; empty source sentences get no positions but a length of at least 1."""
    src = pad_ids([e.src_ids or (EOS_ID,) for e in examples])
    lengths = torch.tensor([max(1, len(e.src_ids)) for e in examples], dtype=torch.long)
    tgt_in = pad_ids([(BOS_ID, *e.tgt_ids) for e in examples])
    tgt_out = pad_ids([(*e.tgt_ids, EOS_ID) for e in examples])
    return Seq2SeqBatch(src, lengths, tgt_in, tgt_out)


def collate_sources(sources: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """(src_ids (B, S), src_lengths (B,)) for decoding."""
    rows = [tuple(s) or (EOS_ID,) for s in sources]
    return pad_ids(rows), torch.tensor([len(r) for r in rows], dtype=torch.long)


def pair_batches(lengths: Sequence[tuple[int, int]], max_tokens: int, rng: random.Random | None = None) -> list[list[int]]:
    """Indices of (source, target) lengths sorted by (target, source) length, each batch's padded size
    (rows x longest side + 1) within `max_tokens` (see treeseq.data.batching.budget_batches)."""
    return budget_batches([(tgt, src) for src, tgt in lengths], [max(pair) + 1 for pair in lengths], max_tokens, rng=rng)
