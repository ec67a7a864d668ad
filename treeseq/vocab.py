"""Vocabularies: built once from counts, then frozen; fixed special ids; stored as plain lists."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

PAD, UNK = "<pad>", "<unk>"


class Vocab:
    """A frozen string <-> id map. Id 0 is padding and id 1 the unknown token."""

    def __init__(self, itos: Sequence[str], lowercase: bool = False) -> None:
        if list(itos[:2]) != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}")
        self.itos = list(itos)
        self.lowercase = lowercase
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary lists each entry once")

    pad_id, unk_id = 0, 1

    @classmethod
    def build(
        cls, tokens: Iterable[str], min_count: int = 1, max_size: int | None = None, lowercase: bool = False
    ) -> Vocab:
        """Most frequent first, ties broken alphabetically so the result is deterministic."""
        counts = Counter(t.lower() if lowercase else t for t in tokens)
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls([PAD, UNK, *ranked[:max_size]], lowercase)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return self.norm(token) in self.stoi

    def norm(self, token: str) -> str:
        return token.lower() if self.lowercase else token

    def encode(self, tokens: Iterable[str]) -> list[int]:
        get, unk = self.stoi.get, self.unk_id
        return [get(self.norm(t), unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def to_dict(self) -> dict:
        return {"itos": self.itos, "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        return cls(data["itos"], bool(data.get("lowercase", False)))
