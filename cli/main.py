"""The root `treeseq` app: one sub-app or command per job."""

from __future__ import annotations

from typing import Annotated

import typer

from treeseq.cli import classify, corpora, curve, evaluate, parse, tag, train, translate

app = typer.Typer(
    name="treeseq",
    help="Recursive (tree) and sequence-to-sequence NLP: train, evaluate, classify, tag, translate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(train.app, name="train")
app.add_typer(corpora.app, name="corpora")
app.command("evaluate")(evaluate.evaluate)
app.command("classify")(classify.classify)
app.command("tag")(tag.tag)
app.command("parse")(parse.parse)
app.command("translate")(translate.translate)
app.command("curve")(curve.curve)


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
    app()


if __name__ == "__main__":
    main()
