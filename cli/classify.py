"""`treeseq classify`: label every node of bracketed trees with a trained tree classifier."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from cli.common import Device, ModelFile, Verbose, cli_errors, console, read_inputs
from corpora.readers.ptb import parse_tree_lines
from treeseq.checkpoint import load_archive
from treeseq.device import resolve_device
from treeseq.errors import ConfigError
from treeseq.render import render_tree
from treeseq.tasks.tree import TreePredictor
from treeseq.trees import Tree


def classify(
    model: ModelFile,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Bracketed trees; stdin (one a line) when none.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text (coloured tree), brackets or jsonl.")] = "text",
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Label every node of each tree: the class and its probability.

    Input trees are PTB brackets such as `(X (X The) (X (X good) (X film)))`; their labels are ignored.
    """
    with cli_errors(verbose):
        if format not in ("text", "brackets", "jsonl"):
            raise ConfigError(f"--format {format!r}: expected text, brackets or jsonl")
        predictor = TreePredictor.from_archive(load_archive(model, task="tree"), resolve_device(device))
        lines, source = read_inputs(texts)
        trees = parse_tree_lines([line for line in lines if line.strip()], source)
        for tree, probs in predictor.predict(trees):
            best_prob, best = probs.max(-1)
            _write(tree, best.tolist(), best_prob.tolist(), probs, predictor.scheme.classes, format)


def _write(tree: Tree, predicted: list[int], best: list[float], probs, classes: tuple[str, ...], format: str) -> None:
    if format == "brackets":
        console.print(tree.to_brackets([str(c) for c in predicted]), markup=False)
    elif format == "jsonl":
        spans = tree.spans()
        nodes = [
            {"span": list(spans[n]), "text": " ".join(tree.tokens[spans[n][0] : spans[n][1]]),
             "label": classes[predicted[n]], "class": predicted[n], "prob": round(best[n], 4),
             "probs": [round(p, 4) for p in probs[n].tolist()]}
            for n, _ in tree.preorder()
        ]  # fmt: skip
        record = {"tokens": list(tree.tokens), "label": nodes[0]["label"], "prob": nodes[0]["prob"],
                  "tree": tree.to_brackets([str(c) for c in predicted]), "nodes": nodes}  # fmt: skip
        typer.echo(json.dumps(record, ensure_ascii=False))
    else:
        console.print(render_tree(tree, classes, predicted, best))
