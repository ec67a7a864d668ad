"""`treeseq tag`: POS tags, or intent + slots, for raw text, CoNLL-U or JSONL."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Literal

import typer

from treeseq.cli.common import err_console
from treeseq.cli.predicting import PredictRun, predict_command
from treeseq.errors import ConfigError

FORMATS = ("text", "conllu", "jsonl")


@predict_command("tagger")
def tag(
    run: PredictRun,
    format: Annotated[Literal["text", "conllu", "jsonl"], typer.Option("--format", "-f", help="text (word/TAG), jsonl, or conllu: CoNLL-U in (--input or stdin) and out; sentences given as arguments are tokenized into CoNLL-U.")] = "text",
) -> None:
    """Tag sentences: POS tags (word/TAG), or for NLU models the intent and the slots.

    Text is tokenized with spaCy's blank English tokenizer. JSONL gives each sentence's tokens and tags,
    and for NLU models {"intent", "intent_prob", "slots": [{"type", "text", "start", "end"}]} with
    character offsets into the line. Text and JSONL stay line-aligned: a blank line gives a blank line
    ({} in JSONL). CoNLL-U output keeps every byte of CoNLL-U input except the tag column.

    Example: treeseq tag -m runs/ewt.pt -f conllu -i in.conllu -o out.conllu
    """
    if format not in FORMATS:
        raise ConfigError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
    tagger = run.model
    if format == "conllu" and tagger.kind != "pos":
        raise ConfigError(f"a {tagger.kind} model writes chunk tags, not a CoNLL-U part-of-speech column: use --format jsonl or text")
    if format == "conllu" and not run.texts:
        _tag_conllu(run)
        return
    render = {"jsonl": _jsonl, "text": _text, "conllu": lambda r: _conllu(r, tagger)}[format]
    run.stream(render)


def _tag_conllu(run: PredictRun) -> None:
    """CoNLL-U in, CoNLL-U out, sentence batches written as they are done (TaggerModel.tag_conllu_iter);
    with --skip-bad a sentence that cannot be tagged (over --max-length) is written as it came, and counted."""
    from treeseq.corpora.readers.conllu import write_conllu  # noqa: PLC0415
    from treeseq.files import decode_lines, read_lines  # noqa: PLC0415

    source = str(run.input) if run.input is not None else "<stdin>"
    lines = read_lines(run.input, allow_empty=True) if run.input is not None else decode_lines(sys.stdin.buffer, source)
    skipped = 0
    for tagged in run.model.tag_conllu_iter(lines, run.batch_size, source=source, skip_bad=run.skip_bad):
        if tagged.error is not None:
            skipped += 1
            if not run.quiet:
                err_console.print(f"skipped {tagged.error}", markup=False, highlight=False, soft_wrap=True)
        run.out.write(write_conllu(tagged.sentences))
        run.out.flush()
    if skipped and not run.quiet:
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
    column = 3 if tagger.inference.data_cfg.column == "upos" else 4
    rows = []
    for index, (token, label) in enumerate(zip(result.tokens, result.tags), start=1):
        cells = [str(index), token] + ["_"] * 8
        cells[column] = label
        rows.append("\t".join(cells))
    text = " ".join(result.text.split())
    return f"# text = {text}\n" + "\n".join(rows) + "\n\n"
