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
    classes: Sequence[str],
    predicted: Sequence[int],
    probs: Sequence[float],
    max_phrase: int = 60,
) -> Text:
    """One line per node, root first: tree guides, the label and its probability, the phrase.

    Iterative, so any depth renders; deep trees simply indent further.
    """
    spans = tree.spans()
    out = Text()
    last_child: dict[int, bool] = {}
    for node, kids in enumerate(tree.children):
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
        style = class_style(predicted[node], len(classes))
        out.append(guide, style="bright_black")
        out.append(f"{classes[predicted[node]]} {probs[node]:.2f}", style=style)
        out.append(f"  {phrase}\n")
    return out
