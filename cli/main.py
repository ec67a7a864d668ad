"""The root `treeseq` app: one sub-app or command per job."""

from __future__ import annotations

import typer

from treeseq.cli import classify, corpora, curve, evaluate, parse, tag, train, translate

app = typer.Typer(
    name="treeseq",
    help="Recursive (tree) and sequence-to-sequence NLP: train, evaluate, classify, tag, translate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(train.app, name="train")
app.add_typer(corpora.app, name="corpora")
app.command("evaluate")(evaluate.evaluate)
app.command("classify")(classify.classify)
app.command("tag")(tag.tag)
app.command("parse")(parse.parse)
app.command("translate")(translate.translate)
app.command("curve")(curve.curve)


@app.callback()
def root() -> None:
    """treeseq: parse and classify with tree models, tag sentences, translate text."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
