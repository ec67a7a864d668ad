"""`treeseq tag`: POS tags, or intent + slots, for raw text, CoNLL-U or JSONL."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from treeseq.cli.common import Device, ModelFile, Verbose, cli_errors, read_inputs
from treeseq.errors import ConfigError

FORMATS = ("text", "conllu", "jsonl")


def tag(
    model: ModelFile,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Sentences; stdin (one a line) when none.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="text, conllu (CoNLL-U in and out) or jsonl.")] = "text",
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="Read this file instead of stdin.", dir_okay=False)] = None,
    tokenized: Annotated[bool, typer.Option(help="Text is already tokenized: split on whitespace, not spaCy.")] = False,
    precision: Annotated[str, typer.Option(help="fp32, or bf16 (faster on CPUs with bf16 units).")] = "fp32",
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch (default: torch's choice).", min=1)] = None,
    device: Device = "auto",
    verbose: Verbose = False,
) -> None:
    """Tag sentences: POS tags (word/TAG), or for NLU models the intent and the slots.

    Text is tokenized with spaCy's blank English tokenizer. With --format conllu the input is CoNLL-U
    and the output is the same bytes with the tag column filled in. JSONL gives for each sentence its
    tokens and tags, and for NLU models {"intent", "intent_prob", "slots": [{"type", "text", "start",
    "end"}]} with character offsets into the input line.
    """
    with cli_errors(verbose):
        if format not in FORMATS:
            raise ConfigError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
        import torch  # noqa: PLC0415 (torch loads only when a command runs)

        from treeseq.api import load  # noqa: PLC0415

        if threads:
            torch.set_num_threads(threads)
        tagger = load(model, device, precision, family="tagger")
        if format == "conllu":
            from treeseq.corpora.readers.conllu import parse_conllu_lines, read_conllu, write_conllu  # noqa: PLC0415

            numbered = ((n, line.rstrip("\r\n")) for n, line in enumerate(sys.stdin, start=1))
            sentences = read_conllu(input) if input else list(parse_conllu_lines(numbered, "<stdin>"))
            typer.echo(write_conllu(tagger.tag_conllu(sentences, str(input or "<stdin>"))), nl=False)
            return
        lines = [line for line in _text_lines(texts, input) if line.strip()]
        write = _jsonl if format == "jsonl" else _text
        typer.echo("".join(write(result) for result in tagger.predict(lines, tokenized=tokenized)), nl=False)


def _text_lines(texts: list[str] | None, path: Path | None) -> list[str]:
    if path is not None:
        from treeseq.files import read_lines  # noqa: PLC0415

        return [line for _, line in read_lines(path)]
    return read_inputs(texts)[0]


def _jsonl(result) -> str:  # noqa: ANN001 (a TagResult)
    return json.dumps(result.to_dict(), ensure_ascii=False) + "\n"


def _text(result) -> str:  # noqa: ANN001 (a TagResult)
    if result.kind == "pos":
        return " ".join(f"{w}/{t}" for w, t in zip(result.tokens, result.tags)) + "\n"
    shown = "  ".join(f"{s.type}={s.text!r}" for s in result.slots) or "(no slots)"
    head = f"{result.intent} ({result.intent_prob:.3f})  " if result.kind == "nlu" else ""
    return f"{head}{shown}\n"
