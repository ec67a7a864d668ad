"""Language-model data: text units (words, characters or subwords), one token stream, parallel streams
and the segments of truncated backpropagation through time.

A corpus is read as one stream: an end-of-line token (`<eos>`) to start, then every line's units
followed by `<eos>`, blank lines skipped; every unit and every `<eos>` after the first is predicted. Training cuts the stream into B equal parallel rows (the remainder is dropped) and walks
them in segments of `bptt` steps; each segment's targets are its inputs shifted by one, and the state
at the end of one segment starts the next.

The output layer predicts every id but padding: class c is id c + 1 (`to_classes`), so a model that is
uniform over its classes has a perplexity equal to `units.classes`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import torch
from torch import Tensor

from treeseq.errors import ConfigError
from treeseq.vocab import PAD, UNK, Vocab

UNITS = ("word", "char", "subword")
EOS = "<eos>"
EOS_ID = 2  # words and characters: <pad> 0, <unk> 1, <eos> 2 (subwords: SentencePiece's eos, 3)


class Units:
    """How a language model cuts text: words (a capped vocabulary with <unk>), characters (every
    character of the training text) or SentencePiece subwords (the model inside the archive).

    Attributes:
        unit: word, char or subword.
        eos_id: the end-of-line token's id.
        size: the number of ids (padding included).
    """

    def __init__(self, unit: str, vocab: Vocab | None = None, subwords: Any = None, tokenized: bool = False) -> None:
        if unit not in UNITS:
            raise ConfigError(f"unit {unit!r}: expected one of {', '.join(UNITS)}")
        self.unit, self.vocab, self.subwords, self.tokenized = unit, vocab, subwords, tokenized
        if unit == "subword":
            from treeseq.subwords import EOS_ID as SUBWORD_EOS  # noqa: PLC0415

            self.eos_id, self.size = SUBWORD_EOS, len(subwords)
        else:
            assert vocab is not None and vocab.itos[EOS_ID] == EOS
            self.eos_id, self.size = EOS_ID, len(vocab)

    @property
    def classes(self) -> int:
        """Outputs of the model: every id but padding."""
        return self.size - 1

    @classmethod
    def build(cls, unit: str, lines: Sequence[str], *, vocab_size: int = 10000, min_count: int = 1,
              lowercase: bool = False, tokenized: bool = False) -> Units:  # fmt: skip
        """Units learnt from the training lines (the subword model is trained on them)."""
        if unit == "subword":
            from treeseq.subwords import Subwords, train_subwords  # noqa: PLC0415

            return cls(unit, subwords=Subwords(train_subwords(lines, vocab_size)))
        tokens = (t for pieces in split_units(unit, lines, tokenized) for t in pieces)
        counted = Vocab.build(tokens, min_count, None if unit == "char" else vocab_size, lowercase=lowercase)
        return cls(unit, Vocab([PAD, UNK, EOS, *(w for w in counted.itos[2:] if w != EOS)], lowercase), tokenized=tokenized)

    def encode(self, lines: Sequence[str]) -> list[list[int]]:
        """The ids of each line, without <eos>; a literal "<eos>" in the text is an unknown word, not the marker."""
        if self.unit == "subword":
            return self.subwords.encode(list(lines))
        vocab = self.vocab
        assert vocab is not None
        get, unk = vocab.stoi.get, vocab.unk_id
        return [[unk if t == EOS else get(vocab.norm(t), unk) for t in pieces] for pieces in split_units(self.unit, lines, self.tokenized)]

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """The string of each id (a subword piece, a word, a character)."""
        if self.unit == "subword":
            return self.subwords.pieces(list(ids))
        assert self.vocab is not None
        return self.vocab.decode(ids)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ids: words joined by spaces, characters as they are, subwords detokenized; <eos> dropped."""
        kept = [i for i in ids if i != self.eos_id]
        if self.unit == "subword":
            return str(self.subwords.decode([kept])[0])
        return ("" if self.unit == "char" else " ").join(self.pieces(kept))

    def to_dict(self) -> dict[str, Any]:
        if self.unit == "subword":
            return {"unit": self.unit, "subwords": self.subwords.model_bytes}
        assert self.vocab is not None
        return {"unit": self.unit, "vocab": self.vocab.to_dict(), "tokenized": self.tokenized}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Units:
        if data["unit"] == "subword":
            from treeseq.subwords import Subwords  # noqa: PLC0415

            return cls("subword", subwords=Subwords(data["subwords"]))
        return cls(data["unit"], Vocab.from_dict(data["vocab"]), tokenized=bool(data.get("tokenized", False)))


def split_units(unit: str, lines: Sequence[str], tokenized: bool = False) -> list[list[str]]:
    """The word or character strings of each line (words: spaCy's blank English tokenizer, or
    whitespace when `tokenized`)."""
    if unit == "char":
        return [list(line) for line in lines]
    if tokenized:
        return [line.split() for line in lines]
    from treeseq.tokenize import blank_tokens  # noqa: PLC0415

    return [tokens for tokens, _ in blank_tokens(list(lines))]


def token_stream(encoded: Iterable[Sequence[int]], eos_id: int) -> Tensor:
    """One 1-D stream: an <eos> to start, then each line's ids followed by <eos> (lines without ids are
    skipped), so the first line is predicted from the same line-start context as every other one."""
    ids: list[int] = [eos_id]
    for line in encoded:
        if line:
            ids.extend(line)
            ids.append(eos_id)
    return torch.tensor(ids, dtype=torch.long)


def batchify(stream: Tensor, rows: int) -> Tensor:
    """The stream cut into `rows` equal parallel rows (B, L), read row by row; the remainder is dropped."""
    length = stream.numel() // rows
    return stream[: rows * length].view(rows, length)


def to_classes(ids: Tensor) -> Tensor:
    """Output-layer classes of token ids (padding is no class)."""
    return ids - 1


@dataclass(frozen=True)
class Segment:
    """Steps [start, start + length) of one parallel row: inputs there, targets one step later."""

    row: int
    start: int
    length: int


def segment_lengths(total: int, bptt: int, rng: random.Random | None = None) -> list[int]:
    """Lengths of the segments covering `total` steps: `bptt` each, or with `rng` varied per segment as
    Merity et al. (2018) do: bptt (p = 0.95) or bptt / 2 as the mean of a normal with deviation 5,
    at least 5 and at most bptt + 20 steps (the last segment takes what is left)."""
    out, done = [], 0
    while done < total:
        length = bptt
        if rng is not None:
            mean = bptt if rng.random() < 0.95 else bptt / 2
            length = max(5, min(bptt + 20, int(rng.gauss(mean, 5))))
        length = min(length, total - done)
        out.append(length)
        done += length
    return out


def segments(rows: int, steps: int, bptt: int, rng: random.Random | None = None) -> list[list[Segment]]:
    """Batches of truncated BPTT over a (rows, steps + 1) stream: one Segment per row in each batch,
    consecutive in time, so the state of one batch starts the next."""
    batches, start = [], 0
    for length in segment_lengths(steps, bptt, rng):
        batches.append([Segment(row, start, length) for row in range(rows)])
        start += length
    return batches


@dataclass
class StreamBatch:
    """One segment of every row in a batch: inputs and targets (B, T), and whether the rows start afresh."""

    inputs: Tensor
    targets: Tensor
    rows: tuple[int, ...]
    fresh: bool  # the segment starts the rows' streams: no state to carry in

    def to(self, device: torch.device) -> StreamBatch:
        return StreamBatch(self.inputs.to(device), self.targets.to(device), self.rows, self.fresh)

    @property
    def num_tokens(self) -> int:
        return self.targets.numel()


def collate_segments(data: Tensor, batch: Sequence[Segment]) -> StreamBatch:
    """Inputs and targets of one batch of segments (all of the same start and length) of `data` (B, L)."""
    first = batch[0]
    rows = torch.tensor([s.row for s in batch], dtype=torch.long)
    window = data[rows, first.start : first.start + first.length + 1]
    return StreamBatch(window[:, :-1], window[:, 1:], tuple(s.row for s in batch), first.start == 0)
