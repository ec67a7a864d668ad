"""`treeseq tag`: POS tags, or intent + slots, for raw text, CoNLL-U or JSONL."""

from __future__ import annotations

import itertools
import json
import sys
from typing import Annotated, Literal, Any

import typer

from treeseq.cli.common import (
    BatchSize, Device, InputFile, MaxLength, ModelFile, OutputFile, PredictPrecision, Quiet, SkipBad, Texts, Threads,
    Verbose, cli_errors, err_console, input_lines, output_file, quiet_logs, set_threads, write_stream,
)  # fmt: skip
from treeseq.errors import ConfigError

FORMATS = ("text", "conllu", "jsonl")


def tag(
    model: ModelFile,
    texts: Texts = None,
    input: InputFile = None,
    output: OutputFile = None,
    format: Annotated[Literal["text", "conllu", "jsonl"], typer.Option("--format", "-f", help="text (word/TAG), jsonl, or conllu: CoNLL-U in (--input or stdin) and out; sentences given as arguments are tokenized into CoNLL-U.")] = "text",
    tokenized: Annotated[bool, typer.Option(help="Text is already tokenized: split on whitespace, not spaCy.")] = False,
    max_length: MaxLength = None,
    batch_size: BatchSize = 64,
    precision: PredictPrecision = "fp32",
    threads: Threads = None,
    device: Device = "auto",
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Tag sentences: POS tags (word/TAG), or for NLU models the intent and the slots.

    Text is tokenized with spaCy's blank English tokenizer. JSONL gives each sentence's tokens and tags,
    and for NLU models {"intent", "intent_prob", "slots": [{"type", "text", "start", "end"}]} with
    character offsets into the line. Text and JSONL stay line-aligned: a blank line gives a blank line
    ({} in JSONL). CoNLL-U output keeps every byte of CoNLL-U input except the tag column.

    Example: treeseq tag -m runs/ewt.pt -f conllu -i in.conllu -o out.conllu
    """
    with cli_errors(verbose):
        if format not in FORMATS:
            raise ConfigError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
        from treeseq.api import load  # noqa: PLC0415 (torch loads only when a command runs)

        set_threads(threads)
        quiet_logs(quiet)
        tagger = load(model, device, precision, family="tagger", max_length=max_length)
        if format == "conllu" and tagger.kind != "pos":
            raise ConfigError(f"a {tagger.kind} model writes chunk tags, not a CoNLL-U part-of-speech column: use --format jsonl or text")
        with output_file(output) as out:
            if format == "conllu" and not texts:
                _tag_conllu(tagger, input, out, batch_size, skip_bad, quiet)
                return
            lines, source = input_lines(texts, input)
            render = {"jsonl": _jsonl, "text": _text, "conllu": lambda r: _conllu(r, tagger)}[format]
            write_stream(tagger, lines, source, render, out, batch_size, skip_bad, quiet, tokenized=tokenized)


def _tag_conllu(tagger: Any, path: Any, out: Any, batch_size: int, skip_bad: bool, quiet: bool) -> None:
    """CoNLL-U in, CoNLL-U out, sentence batches written as they are done; with `skip_bad` a sentence
    that cannot be tagged (over --max-length) is written as it came, and counted."""
    from treeseq.errors import CorpusFormatError  # noqa: PLC0415
    from treeseq.corpora.readers.conllu import parse_conllu_lines, write_conllu  # noqa: PLC0415
    from treeseq.files import decode_lines, read_lines  # noqa: PLC0415

    source = str(path) if path is not None else "<stdin>"
    lines = read_lines(path, allow_empty=True) if path is not None else decode_lines(sys.stdin.buffer, source)
    sentences = parse_conllu_lines(lines, source)
    skipped = 0
    while batch := list(itertools.islice(sentences, batch_size)):
        try:
            tagged = tagger.tag_conllu(batch, source)
        except CorpusFormatError:
            if not skip_bad:
                raise
            tagged = []
            for sentence in batch:
                try:
                    tagged.extend(tagger.tag_conllu([sentence], source))
                except CorpusFormatError as err:
                    skipped += 1
                    tagged.append(sentence)
                    if not quiet:
                        err_console.print(f"skipped {err}", markup=False, highlight=False, soft_wrap=True)
        out.write(write_conllu(tagged))
        out.flush()
    if skipped and not quiet:
        err_console.print(f"{skipped} sentence(s) skipped (--skip-bad)", highlight=False)


def _jsonl(result: Any) -> str:
    return "{}\n" if result is None else json.dumps(result.to_dict(), ensure_ascii=False) + "\n"


def _text(result: Any) -> str:
    if result is None:
        return "\n"
    if result.kind == "pos":
        return " ".join(f"{w}/{t}" for w, t in zip(result.tokens, result.tags)) + "\n"
    shown = "  ".join(f"{s.type}={s.text!r}" for s in result.slots) or "(no slots)"
    head = f"{result.intent} ({result.intent_prob:.3f})  " if result.kind == "nlu" else ""
    return f"{head}{shown}\n"


def _conllu(result: Any, tagger: Any) -> str:
    """Raw text tokenized into a CoNLL-U sentence, the model's column (UPOS or XPOS) filled."""
    if result is None:
        return ""
    column = 3 if tagger.predictor.data_cfg.column == "upos" else 4
    rows = []
    for index, (token, label) in enumerate(zip(result.tokens, result.tags), start=1):
        cells = [str(index), token] + ["_"] * 8
        cells[column] = label
        rows.append("\t".join(cells))
    text = " ".join(result.text.split())
    return f"# text = {text}\n" + "\n".join(rows) + "\n\n"
