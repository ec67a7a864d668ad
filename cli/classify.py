"""`treeseq classify`: label every node of a tree, from bracketed trees or from raw text (parsed first)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from cli.common import Device, ModelFile, Verbose, cli_errors, console, err_console, read_inputs
from corpora.readers.ptb import parse_tree_line
from treeseq.checkpoint import load_archive
from treeseq.device import resolve_device
from treeseq.errors import ConfigError
from treeseq.render import render_tree
from treeseq.tasks.tree import TreePredictor
from treeseq.trees import Tree

INPUTS = ("auto", "brackets", "text")


def classify(
    model: ModelFile,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Sentences or bracketed trees; stdin (one a line) when none.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text (coloured tree), brackets or jsonl.")] = "text",
    input: Annotated[str, typer.Option("--input", help="auto (a line starting with '(' is a tree, else raw text), brackets or text.")] = "auto",
    render: Annotated[Optional[Path], typer.Option("--render", help="Also draw each labelled tree: out.svg or out.png (several sentences: out-1.svg, out-2.svg, ...).", dir_okay=False)] = None,
    max_length: Annotated[Optional[int], typer.Option("--max-length", help="Longest raw sentence to parse, in tokens (default: the parser's, 300).", min=1)] = None,
    spacy_model: Annotated[Optional[str], typer.Option("--spacy-model", help="Parse raw text with this spaCy pipeline (dependency trees).")] = None,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (autocast for the parser and the classifier: faster on CPUs with bf16 units).")] = "fp32",
    workers: Annotated[int, typer.Option(help="Parser batches run at once by this many threads (set OMP_NUM_THREADS=1 with 2+).", min=1)] = 1,
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Label every node of each sentence's tree: the class and its probability.

    Raw text is tokenized like the treebank and parsed with the parser carried in the model archive
    (`train tree --parser`) or with a spaCy pipeline. Bracketed trees such as `(X (X The) (X film))`
    are used as given (their labels are ignored). Blank lines are skipped.
    """
    with cli_errors(verbose):
        if format not in ("text", "brackets", "jsonl"):
            raise ConfigError(f"--format {format!r}: expected text, brackets or jsonl")
        if input not in INPUTS:
            raise ConfigError(f"--input {input!r}: expected auto, brackets or text")
        if render is not None and render.suffix.lower() not in (".svg", ".png"):
            raise ConfigError(f"--render {render}: the file name must end in .svg or .png")
        archive = load_archive(model, task="tree")
        predictor = TreePredictor.from_archive(archive, resolve_device(device), max_length, spacy_model, precision, workers)
        lines, source = read_inputs(texts)
        trees = _read_trees(predictor, [(no, line) for no, line in enumerate(lines, start=1) if line.strip()], source, input)
        results = predictor.predict(trees)
        for tree, probs in results:
            best_prob, best = probs.max(-1)
            _write(tree, best.tolist(), best_prob.tolist(), probs, predictor.scheme.classes, format)
        if render is not None:
            _render(results, predictor.scheme.classes, render)


def _read_trees(predictor: TreePredictor, numbered: list[tuple[int, str]], source: str, input: str) -> list[Tree]:
    """Trees for the input lines, in order: brackets parsed as trees, raw text parsed in one batch."""
    trees: list[Tree | None] = [None] * len(numbered)
    raw: list[tuple[int, int, str]] = []
    for index, (no, line) in enumerate(numbered):
        if input == "brackets" or (input == "auto" and line.lstrip().startswith("(")):
            trees[index] = parse_tree_line(line, f"{source}:{no}")
        else:
            raw.append((index, no, line))
    if raw:
        parsed = predictor.trees_from_text([line for _, _, line in raw], source)
        for (index, _, _), tree in zip(raw, parsed):
            trees[index] = tree
    return [t for t in trees if t is not None]


def _render(results: list, classes: tuple[str, ...], path: Path) -> None:
    from treeseq.render_svg import numbered_paths, render_file  # noqa: PLC0415 (matplotlib only when asked)

    for (tree, probs), target in zip(results, numbered_paths(path, len(results))):
        best_prob, best = probs.max(-1)
        render_file(tree, classes, best.tolist(), best_prob.tolist(), target)
        err_console.print(f"wrote {target}", highlight=False)


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
