"""Pretrained word vectors: word2vec/GloVe text files, or a spaCy pipeline's vectors."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.vocab import Vocab


def read_text_vectors(path: str | Path, vocab: Vocab, dim: int) -> tuple[Tensor, int]:
    """Rows of `vocab` found in a word2vec/GloVe text file (an optional `count dim` header line).

    Returns:
        (vectors (V, dim) with zeros for missing words, number of words found). Only vocabulary words
        are kept, so a multi-gigabyte file costs one pass and little memory.
    """
    from treeseq.files import read_lines  # noqa: PLC0415 (adapters stay out of import time)

    table = torch.zeros(len(vocab), dim)
    found: set[int] = set()
    for line_no, line in read_lines(path):
        parts = line.rstrip().split(" ")
        if line_no == 1 and len(parts) == 2 and all(p.isascii() and p.isdigit() for p in parts):
            continue  # word2vec header
        if len(parts) != dim + 1:
            raise CorpusFormatError(f"{path}:{line_no}: expected a word and {dim} numbers, found {len(parts) - 1} numbers")
        index = vocab.stoi.get(vocab.norm(parts[0]))
        if index is None or index in found:
            continue
        try:
            table[index] = torch.tensor([float(x) for x in parts[1:]])
        except ValueError:
            raise CorpusFormatError(f"{path}:{line_no}: a vector entry is not a number") from None
        found.add(index)
    return table, len(found)


def spacy_vectors(name: str, vocab: Vocab) -> tuple[Tensor, int]:
    """Rows of `vocab` from an installed spaCy pipeline's static vectors."""
    try:
        import spacy

        nlp = spacy.load(name)
    except OSError:
        raise ConfigError(f"spaCy pipeline {name!r} is not installed (pip install it, e.g. en_core_web_md)") from None
    vectors = nlp.vocab.vectors
    if vectors.shape[0] == 0:
        raise ConfigError(f"spaCy pipeline {name!r} has no word vectors (use e.g. en_core_web_md or _lg)")
    table = torch.zeros(len(vocab), vectors.shape[1])
    found = 0
    for index, word in enumerate(vocab.itos[2:], start=2):
        key = nlp.vocab.strings[word]
        if key in vectors:
            table[index] = torch.as_tensor(vectors[key])
            found += 1
    return table, found
