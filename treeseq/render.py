"""Readable renderings of labelled trees: an indented outline with each node's label coloured."""

from __future__ import annotations

from typing import Sequence

from rich.text import Text

from treeseq.trees import Tree

_NEGATIVE_TO_POSITIVE = ("bold red", "red", "bright_black", "green", "bold green")


def class_style(index: int, num_classes: int) -> str:
    """A colour on a red (first class) to green (last class) scale, grey in the middle."""
    if num_classes <= 1:
        return "default"
    position = round(index / (num_classes - 1) * (len(_NEGATIVE_TO_POSITIVE) - 1))
    return _NEGATIVE_TO_POSITIVE[position]


def render_tree(
    tree: Tree,
    classes: Sequence[str] | None = None,
    predicted: Sequence[int] | None = None,
    probs: Sequence[float] | None = None,
    max_phrase: int = 60,
) -> Text:
    """One line per node, root first: tree guides, the label (and its probability), the phrase.

    A plain tree (`render_tree(Tree.from_brackets(...))`) shows each node's own label (`_` where it
    has none); a prediction gives `classes`, each node's `predicted` class index and its `probs`
    (what `TreeResult.by_node()` returns), and is coloured from the first class (red) to the last
    (green). Iterative, so any depth renders; deep trees simply indent further.

    Raises:
        ValueError: only some of `classes`, `predicted` and `probs` given, or of the wrong length.
    """
    given = [part is not None for part in (classes, predicted, probs)]
    if any(given) and not all(given):
        raise ValueError("render_tree: give classes, predicted and probs together (a prediction), or none (a plain tree)")
    if predicted is not None and (len(predicted) != len(tree) or len(probs or ()) != len(tree)):
        raise ValueError(f"render_tree: the tree has {len(tree)} nodes, predicted and probs must have one value each")
    spans = tree.spans()
    out = Text()
    last_child: dict[int, bool] = {}
    for kids in tree.children:
        for position, kid in enumerate(kids):
            last_child[kid] = position == len(kids) - 1
    open_columns: list[bool] = []  # per ancestor depth: does a guide continue below?
    for node, depth in tree.preorder():
        del open_columns[max(0, depth - 1) :]
        guide = "".join("│   " if more else "    " for more in open_columns)
        if depth > 0:
            guide += "└── " if last_child[node] else "├── "
            open_columns.append(not last_child[node])
        start, end = spans[node]
        phrase = " ".join(tree.tokens[start:end])
        if len(phrase) > max_phrase:
            phrase = phrase[: max_phrase - 1] + "…"
        out.append(guide, style="bright_black")
        if classes is None or predicted is None or probs is None:
            label = tree.labels[node]
            out.append("_" if label is None else label)
        else:
            out.append(f"{classes[predicted[node]]} {probs[node]:.2f}", style=class_style(predicted[node], len(classes)))
        out.append(f"  {phrase}\n")
    return out
