"""`treeseq parse`: raw text in, unlabelled binary constituency trees out (the span parser)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from cli.common import Device, ModelFile, Verbose, cli_errors, console, read_inputs
from treeseq.checkpoint import load_archive
from treeseq.device import resolve_device
from treeseq.errors import ConfigError
from treeseq.tasks.parser import ParserPredictor
from treeseq.tokenize import tokenize
from treeseq.trees import Tree

FORMATS = ("brackets", "jsonl", "text")


def parse(
    model: ModelFile,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Sentences; stdin (one a line) when none.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="brackets (one tree a line), jsonl or text (an outline).")] = "brackets",
    max_length: Annotated[Optional[int], typer.Option("--max-length", help="Refuse sentences longer than this many tokens (default 300: chart memory grows with length squared).", min=1)] = None,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (autocast: faster on CPUs with bf16 units; a few trees change).")] = "fp32",
    workers: Annotated[int, typer.Option(help="Batches parsed at once by this many threads (set OMP_NUM_THREADS=1 with 2+).", min=1)] = 1,
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Parse raw sentences into binary trees with a parser archive (`train parser`) or a classifier that carries one.

    Text is tokenized like the treebank (spaCy's tokenizer, PTB conventions). Blank lines are skipped;
    a sentence over --max-length is an error (`<stdin>:LINE: ...`, exit 2) and nothing is written.
    """
    with cli_errors(verbose):
        if format not in FORMATS:
            raise ConfigError(f"--format {format!r}: expected brackets, jsonl or text")
        archive = load_archive(model)
        if archive.get("task") == "tree":
            if "parser" not in archive:
                raise ConfigError(f"{model}: this tree model carries no parser (train it with --parser FILE)")
            archive = archive["parser"]
        elif archive.get("task") != "parser":
            raise ConfigError(f"{model}: a {archive.get('task')!r} model cannot parse; expected a parser archive")
        parser = ParserPredictor.from_archive(archive, resolve_device(device), max_length, precision, workers)
        lines, source = read_inputs(texts)
        numbered = [(no, line) for no, line in enumerate(lines, start=1) if line.strip()]
        sentences = [tokenize(line) for _, line in numbered]
        for (no, _), tokens in zip(numbered, sentences):
            parser.check(tokens, f"{source}:{no}")
        for tree in parser.parse_tokens(sentences, source):
            _write(tree, format)


def _write(tree: Tree, format: str) -> None:
    if format == "jsonl":
        spans = [list(s) for s in sorted({s for s in tree.spans() if s[1] - s[0] > 1})]
        typer.echo(json.dumps({"tokens": list(tree.tokens), "tree": tree.to_brackets(["X"] * len(tree)), "spans": spans}, ensure_ascii=False))
    elif format == "text":
        lines = []
        spans = tree.spans()
        for node, depth in tree.preorder():
            i, j = spans[node]
            lines.append("  " * depth + " ".join(tree.tokens[i:j]))
        console.print("\n".join(lines) + "\n", markup=False, highlight=False)
    else:
        console.print(tree.to_brackets(["X"] * len(tree)), markup=False, highlight=False, soft_wrap=True)
