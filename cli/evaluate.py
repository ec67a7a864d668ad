"""`treeseq evaluate`: the task's standard metrics for a model on a corpus split."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Optional

import typer

from treeseq.cli.common import console
from treeseq.cli.predicting import PredictRun, predict_command
from treeseq.errors import ConfigError
from treeseq.options import FAMILIES

# How metrics are named on the console where the field has a usual spelling.
SHOWN = {"bleu": "BLEU", "bleu_lc": "BLEU lowercased", "chrf": "chrF", "acc": "accuracy", "f1": "F1",
         "ppl": "perplexity", "bpc": "bits per character", "macro_f1": "macro-F1", "binary_acc": "binary accuracy"}
Format = Annotated[Literal["text", "jsonl"], typer.Option("--format", "-f", help="text (tables) or jsonl.")]


@predict_command(*FAMILIES, stage="evaluate")
def evaluate(
    run: PredictRun,
    split: Annotated[Optional[str], typer.Option(help="Split to read: dev (val for translators), test or any NAME (reads NAME.txt for trees; NAME.txt, NAME.txt.gz or the file NAME for language models).")] = None,
    format: Format = "text",
) -> None:
    """Evaluate a trained model on a corpus split, in percent.

    Trees: root and phrase accuracy, fine and binary, and the confusion matrix; parsers: unlabelled
    bracket F1 and exact match; taggers: accuracy and conlleval span F1 by type, intent and frame
    accuracy; sentence classifiers: accuracy, macro-F1 (SST: binary accuracy too) and the confusion
    matrix; translators: sacrebleu BLEU and chrF with their signatures; language models: perplexity
    and bits per character over the split read as one stream.

    Example: treeseq evaluate -m runs/ewt.pt --data-dir ../shared/corpora/ud-english-ewt --split dev
    """
    if format not in ("text", "jsonl"):
        raise ConfigError(f"--format {format!r}: expected text or jsonl")
    from treeseq import api  # noqa: PLC0415 (torch loads only when a command runs)
    from treeseq.files import write_text_atomic  # noqa: PLC0415

    output = run.extra["output"]
    report = api.evaluate(run.model, run.extra["data_dir"], split, predictions=output is not None, **run.options)
    if output is not None:
        write_text_atomic("".join(_prediction_line(p) for p in report.predictions or []), output)
    if format == "jsonl":
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print_report(report)


def _prediction_line(prediction: Any) -> str:
    if isinstance(prediction, str):  # a translation: a decoded line break must not split it
        return " ".join(prediction.splitlines()) + "\n"
    if hasattr(prediction, "brackets") and not hasattr(prediction, "nodes"):  # a parse
        return prediction.brackets() + "\n"
    return json.dumps(prediction.to_dict(), ensure_ascii=False) + "\n"


def print_report(report) -> None:  # noqa: ANN001 (a treeseq.results.Report)
    from rich.markup import escape  # noqa: PLC0415 (file names, tags and classes are shown as text)
    from rich.table import Table  # noqa: PLC0415

    from treeseq.results import UNSCALED_METRICS  # noqa: PLC0415

    facts = ", ".join(f"{k} {v}" for k, v in report.info.items()
                      if isinstance(v, (int, float, str)) and not k.endswith("signature"))  # fmt: skip
    table = Table(title=escape(f"{report.data} ({facts})"))
    table.add_column("metric")
    percent = not set(report.metrics) <= UNSCALED_METRICS
    table.add_column("%" if percent else "value", justify="right")
    for name, value in report.metrics.items():
        table.add_row(SHOWN.get(name, name), f"{value:.3f}" if name == "bpc" else f"{value:.2f}")
    console.print(table)
    for key, value in report.info.items():
        if key.endswith("_signature"):
            name = key[: -len("_signature")]
            console.print(f"{SHOWN.get(name, name)} signature: {value}", markup=False)
    for name, data in report.tables.items():
        if name == "confusion" and len(data.columns) - 1 > GRID_CLASSES:
            console.print(confusions_table(data))
            continue
        shown = Table(title=escape(data.title))
        for column in data.columns:
            shown.add_column(escape(column), justify="left" if column == data.columns[0] else "right")
        for row in data.rows:
            shown.add_row(*(f"{v:.2f}" if isinstance(v, float) else escape(str(v)) for v in row))
        console.print(shown)


GRID_CLASSES = 8  # beyond this many classes a confusion matrix is shown as its most frequent confusions
TOP_CONFUSIONS = 15


def confusions_table(data) -> Any:  # noqa: ANN001 (a treeseq.results.Table: rows gold, columns predicted)
    """A confusion matrix of many classes as the list people read: its most frequent errors, one a row
    (gold, predicted, count, share of that gold class), and how many other errors there are."""
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    predicted = data.columns[1:]
    errors = sorted(((count, row[0], predicted[j], sum(row[1:])) for row in data.rows for j, count in enumerate(row[1:])
                     if count and row[0] != predicted[j]), key=lambda e: (-e[0], e[1], e[2]))  # fmt: skip
    title = f"{data.title.split(' (')[0]}: the {min(TOP_CONFUSIONS, len(errors))} most frequent of {len(errors)} kinds of error"
    shown = Table(title=escape(title))
    for column, justify in (("gold", "left"), ("predicted", "left"), ("count", "right"), ("% of gold", "right")):
        shown.add_column(column, justify=justify)  # type: ignore[arg-type]
    for count, gold, guess, total in errors[:TOP_CONFUSIONS]:
        shown.add_row(escape(str(gold)), escape(str(guess)), str(count), f"{100 * count / total:.1f}")
    rest = sum(e[0] for e in errors[TOP_CONFUSIONS:])
    if rest:
        shown.caption = f"{rest} more error(s) of {len(errors) - TOP_CONFUSIONS} other kinds; --format jsonl has the whole matrix"
    return shown
