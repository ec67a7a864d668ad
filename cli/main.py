"""The root `treeseq` app: one sub-app or command per job."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from treeseq.cli import (
    average,
    classify,
    corpora,
    curve,
    evaluate,
    generate,
    parse,
    score,
    serve,
    tag,
    train,
    translate,
)
from treeseq.cli.helpstyle import Command

app = typer.Typer(
    name="treeseq",
    help="Recursive (tree) and recurrent sequence NLP: train, evaluate, classify, tag, translate, generate, score.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
PREDICT, TRAIN, DATA = "Predict from raw text or files", "Train and evaluate", "Corpora"
app.command("classify", cls=Command, rich_help_panel=PREDICT)(classify.classify)
app.command("parse", cls=Command, rich_help_panel=PREDICT)(parse.parse)
app.command("tag", cls=Command, rich_help_panel=PREDICT)(tag.tag)
app.command("translate", cls=Command, rich_help_panel=PREDICT)(translate.translate)
app.command("generate", cls=Command, rich_help_panel=PREDICT)(generate.generate)
app.command("score", cls=Command, rich_help_panel=PREDICT)(score.score)
app.command("serve", cls=Command, rich_help_panel="Serve over HTTP")(serve.serve)
app.add_typer(train.app, name="train", rich_help_panel=TRAIN)
app.command("evaluate", cls=Command, rich_help_panel=TRAIN)(evaluate.evaluate)
app.command("average", cls=Command, rich_help_panel=TRAIN)(average.average)
app.command("curve", cls=Command, rich_help_panel=TRAIN)(curve.curve)
app.add_typer(corpora.app, name="corpora", rich_help_panel=DATA)


def _version(value: bool) -> None:
    if value:
        from treeseq.version import __version__  # noqa: PLC0415

        typer.echo(f"treeseq {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)] = False,
) -> None:
    """treeseq: parse and classify with tree models, tag sentences, translate text."""


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling starts (imports, start-up)
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
