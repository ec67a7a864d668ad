"""Part-of-speech tags from an installed spaCy pipeline, as extra inputs of the span parser.

A treebank of a few thousand sentences teaches a parser little about word classes; a tagger trained on
a large corpus knows them. Only the pipeline's tok2vec and tagger run (the parser and the rest are
left out), over the treebank's own tokens given as a pre-tokenized Doc, so tags align one to one.
"""

from __future__ import annotations

from typing import Any, Sequence

from treeseq.adapters.spacy_trees import INSTALL_HINT
from treeseq.errors import ConfigError
from treeseq.tokenize import raw_form

KEEP = ("tok2vec", "tagger")


class SpacyPosTagger:
    """Fine-grained tags (`Token.tag_`) over given tokens."""

    def __init__(self, name: str) -> None:
        import spacy

        self.name = name
        try:
            self.nlp: Any = spacy.load(name, exclude=["parser", "ner", "lemmatizer", "textcat", "senter"])
        except OSError:
            raise ConfigError(f"spaCy pipeline {name!r} (the parser's POS tagger) is not installed; install one with: {INSTALL_HINT}") from None
        if "tagger" not in self.nlp.pipe_names:
            raise ConfigError(f"spaCy pipeline {name!r} has no tagger (pipes: {', '.join(self.nlp.pipe_names)})")
        self.nlp.select_pipes(enable=[p for p in self.nlp.pipe_names if p in KEEP])

    def tag(self, sentences: Sequence[Sequence[str]], batch_size: int = 512) -> list[tuple[str, ...]]:
        """One tag per token of every sentence (treebank forms such as -LRB- are shown to spaCy raw)."""
        from spacy.tokens import Doc

        docs = (Doc(self.nlp.vocab, words=[raw_form(t) for t in tokens]) for tokens in sentences)
        return [tuple(tok.tag_ or "X" for tok in doc) for doc in self.nlp.pipe(docs, batch_size=batch_size)]
