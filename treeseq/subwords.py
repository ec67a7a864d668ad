"""SentencePiece subwords: trained from raw text, stored as bytes inside model archives.

Raw text goes in and raw text comes out: SentencePiece needs no external tokenizer, and with byte
fallback every input character has an encoding (characters outside the vocabulary become byte pieces),
so nothing is ever unknown. Special ids are fixed: pad 0, unk 1, bos 2, eos 3.
"""

from __future__ import annotations

import io
import logging
from typing import Iterable, Sequence

import sentencepiece as spm

from treeseq.errors import CheckpointError, ConfigError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SUBWORD_TYPES = ("bpe", "unigram")
BYTE_PIECES = 256
logger = logging.getLogger(__name__)


def train_subwords(texts: Iterable[str], vocab_size: int, model_type: str = "bpe", max_sentences: int = 2_000_000) -> bytes:
    """Train a SentencePiece model on raw lines and return its serialized bytes.

    The requested size is an upper bound: on a small sample SentencePiece may stop earlier.

    Raises:
        ConfigError: an unknown model type, or a vocabulary too small for the 256 byte pieces.
    """
    if model_type not in SUBWORD_TYPES:
        raise ConfigError(f"subword type {model_type!r}: expected one of {', '.join(SUBWORD_TYPES)}")
    lines = [t for t in texts if t.strip()]
    needed = BYTE_PIECES + 4 + len({c for t in lines for c in t if not c.isspace()})
    if vocab_size < needed:
        raise ConfigError(f"data.vocab_size {vocab_size} is too small: the byte pieces and characters need {needed}")
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buffer, vocab_size=vocab_size, model_type=model_type,
        byte_fallback=True, character_coverage=1.0, pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
        hard_vocab_limit=False, input_sentence_size=max_sentences, shuffle_input_sentence=True, minloglevel=2,
        num_threads=1,
    )  # fmt: skip
    return buffer.getvalue()


class Subwords:
    """A loaded SentencePiece model: text <-> ids."""

    def __init__(self, model_bytes: bytes) -> None:
        self.model_bytes = bytes(model_bytes)
        self.processor = spm.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(self.model_bytes)
        except (RuntimeError, OSError) as err:
            raise CheckpointError(f"the archive's SentencePiece model cannot be read ({err})") from None
        if self.processor.pad_id() != PAD_ID or self.processor.eos_id() != EOS_ID:
            raise CheckpointError("the SentencePiece model does not use treeseq's special ids (pad 0, eos 3)")

    def __len__(self) -> int:
        return int(self.processor.get_piece_size())

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids of each text, without bos/eos."""
        return [list(ids) for ids in self.processor.encode(list(texts))]

    def decode(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """Raw text of each id sequence (special ids dropped)."""
        return [self.processor.decode([i for i in row if i > EOS_ID]) for row in ids]

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """The subword strings of ids (for attention plots)."""
        return [self.processor.id_to_piece(i) for i in ids]
