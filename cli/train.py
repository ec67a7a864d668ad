"""`treeseq train ...`: one command per model family, all on the shared engine."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Optional

import torch
import typer

from cli.common import DataDir, Device, Verbose, cli_errors, console, setup_logging
from cli.training import ConfigFile, Epochs, Output, Overrides, Precision, Quiet, Resume, TrainSeed, run_training
from corpora.readers.ptb import read_trees
from treeseq.checkpoint import load_archive
from treeseq.config import TrainConfig, build_config, parse_overrides, read_config_file
from treeseq.errors import ConfigError
from treeseq.tasks.tree import LabelScheme, TreeModelConfig, TreeTask, build_model, encode, prepare_trees
from treeseq.training.distributed import init_distributed
from treeseq.training.engine import paths_for
from treeseq.vocab import Vocab

app = typer.Typer(help="Train a model (tree classifier, ...) on a corpus folder.", no_args_is_help=True)
logger = logging.getLogger("treeseq.cli")



def train_settings(**options: Any) -> dict[str, Any]:
    """The engine options given on the command line (None: not given)."""
    return {k: v for k, v in options.items() if v is not None}


@app.command("tree")
def train_tree(
    data_dir: DataDir,
    output: Output,
    epochs: Epochs = None,
    seed: TrainSeed = None,
    device: Device = "auto",
    resume: Resume = False,
    config: ConfigFile = None,
    set_: Overrides = None,
    model_kind: Annotated[Optional[str], typer.Option("--model-kind", help="rnn, rntn, binary-lstm or childsum-lstm.")] = None,
    labels: Annotated[Optional[str], typer.Option(help="fine (all classes) or binary (SST: neutral dropped).")] = None,
    embed_dim: Annotated[Optional[int], typer.Option(min=1)] = None,
    hidden_size: Annotated[Optional[int], typer.Option(min=1)] = None,
    dropout: Annotated[Optional[float], typer.Option(min=0.0, max=0.99)] = None,
    lowercase: Annotated[Optional[bool], typer.Option("--lowercase/--cased", help="Lowercase the vocabulary.")] = None,
    num_classes: Annotated[Optional[int], typer.Option(help="Classes of the treebank's labels (SST: 5).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1)] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adagrad, adam, adamw or sgd.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate.")] = None,
    weight_decay: Annotated[Optional[float], typer.Option()] = None,
    schedule: Annotated[Optional[str], typer.Option(help="constant, linear, cosine or plateau.")] = None,
    clip_norm: Annotated[Optional[float], typer.Option(help="Gradient-norm clipping (0: off).")] = None,
    patience: Annotated[Optional[int], typer.Option(help="Stop after N epochs without dev improvement.")] = None,
    precision: Precision = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(help="Also checkpoint every N steps.")] = None,
    vectors: Annotated[Optional[Path], typer.Option(help="word2vec/GloVe text file to initialise embeddings.")] = None,
    spacy_vectors: Annotated[Optional[str], typer.Option(help="Initialise embeddings from a spaCy pipeline's vectors.")] = None,
    train_file: Annotated[str, typer.Option(help="Training trees inside --data-dir.")] = "train.txt",
    dev_file: Annotated[str, typer.Option(help="Development trees inside --data-dir.")] = "dev.txt",
    parser: Annotated[Optional[Path], typer.Option("--parser", help="A parser archive (train parser) to carry inside the model, so classify takes raw text.", dir_okay=False)] = None,
    spacy_model: Annotated[Optional[str], typer.Option("--spacy-model", help="Train on dependency trees from this spaCy pipeline (child-sum Tree-LSTM); classify parses raw text with it.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a recursive tree classifier (recursive NN, RNTN, binary or child-sum Tree-LSTM).

    DIR holds bracketed trees one a line, a label on every node (SST format): train.txt and dev.txt.
    """
    setup_logging(verbose)
    with cli_errors(verbose):
        file_cfg = read_config_file(config)
        sets = parse_overrides(set_)
        model_cli = {
            "kind": model_kind, "labels": labels, "embed_dim": embed_dim, "hidden_size": hidden_size,
            "dropout": dropout, "lowercase": lowercase, "num_classes": num_classes,
        }  # fmt: skip
        train_cli = train_settings(
            epochs=epochs, seed=seed, batch_size=batch_size, optimizer=optimizer, lr=lr, weight_decay=weight_decay,
            schedule=schedule, clip_norm=clip_norm, patience=patience, precision=precision,
            checkpoint_every=checkpoint_every,
        )  # fmt: skip
        for section in set(file_cfg) | set(sets):
            if section not in ("model", "train"):
                raise ConfigError(f"unknown config section [{section}]; expected [model] or [train]")
        dist_info, torch_device = init_distributed(device)
        vocab: Vocab | None = None
        if resume:
            saved = load_archive(paths_for(output)[0], task="tree")
            model_cfg = build_config(TreeModelConfig, "model", saved["config"]["model"])
            train_cfg = build_config(TrainConfig, "train", saved["training"]["train_config"], train_cli)
            vocab = Vocab.from_dict(saved["vocabs"]["words"])
            spacy_model = spacy_model or saved["config"].get("data", {}).get("spacy_model")
        else:
            if spacy_model and model_kind is None and "kind" not in {**file_cfg.get("model", {}), **sets.get("model", {})}:
                model_cli["kind"] = "childsum-lstm"
            model_cfg = build_config(TreeModelConfig, "model", file_cfg.get("model", {}), sets.get("model", {}), model_cli)
            train_cfg = build_config(TrainConfig, "train", file_cfg.get("train", {}), sets.get("train", {}), train_cli)
        scheme = LabelScheme(model_cfg)
        parser_archive = _parser_archive(parser) if parser else (saved.get("parser") if resume else None)
        train_trees, dev_trees = read_trees(data_dir / train_file, scheme.check), read_trees(data_dir / dev_file, scheme.check)
        if spacy_model:
            train_trees, dev_trees = _spacy_trees(spacy_model, model_cfg, train_trees, dev_trees)
        train_trees = [t for t in prepare_trees(train_trees, model_cfg) if scheme.keeps(t)]
        dev_trees = [t for t in prepare_trees(dev_trees, model_cfg) if scheme.keeps(t)]
        if vocab is None:
            vocab = Vocab.build((w for t in train_trees for w in t.tokens), model_cfg.min_count, lowercase=model_cfg.lowercase)
        torch.manual_seed(train_cfg.seed)
        model = build_model(model_cfg, len(vocab), sparse=model_cfg.sparse_embeddings and not dist_info.enabled)
        if not resume and (vectors or spacy_vectors):
            _init_vectors(model, vocab, vectors, spacy_vectors)
        task = TreeTask(
            model_cfg, train_cfg, vocab,
            [encode(t, vocab, scheme) for t in train_trees], [encode(t, vocab, scheme) for t in dev_trees],
            data_config={"data_dir": str(data_dir), "train_file": train_file, "dev_file": dev_file,
                         **({"spacy_model": spacy_model} if spacy_model else {})},
            parser=parser_archive,
        )  # fmt: skip
        if dist_info.is_main and not quiet:
            params = sum(p.numel() for p in model.parameters())
            console.print(
                f"{model_cfg.kind}, labels {model_cfg.labels}: {len(train_trees)} train / {len(dev_trees)} dev trees, "
                f"vocabulary {len(vocab)}, {params:,} parameters, {torch_device}, {train_cfg.precision}"
            )
        run_training(task, model, train_cfg, output, torch_device, dist_info, resume, quiet)


def _parser_archive(path: Path) -> dict:
    """A trained parser's archive, without its training state, to nest inside the classifier's archive."""
    archive = load_archive(path, task="parser")
    archive.pop("training", None)
    return archive


def _spacy_trees(name: str, cfg: TreeModelConfig, *splits: list) -> tuple[list, ...]:
    """The splits as spaCy dependency trees carrying the treebank's labels (child-sum models only)."""
    from treeseq.parsing.spacy_trees import SpacyTrees  # noqa: PLC0415 (spaCy pipelines load slowly)

    if cfg.kind != "childsum-lstm":
        raise ConfigError(f"--spacy-model gives dependency trees: use --model-kind childsum-lstm, not {cfg.kind}")
    spacy = SpacyTrees(name)
    return tuple(spacy.labelled(trees) for trees in splits)


def _init_vectors(model: torch.nn.Module, vocab: Vocab, path: Path | None, spacy_name: str | None) -> None:
    from treeseq.vectors import read_text_vectors, spacy_vectors

    weight = model.embedding.weight  # type: ignore[union-attr]
    table, found = read_text_vectors(path, vocab, weight.shape[1]) if path else spacy_vectors(spacy_name or "", vocab)
    if table.shape[1] != weight.shape[1]:
        raise ConfigError(f"the vectors have {table.shape[1]} dimensions but --embed-dim is {weight.shape[1]}")
    with torch.no_grad():
        rows = table.abs().sum(-1) > 0
        weight[rows] = table[rows]
    logger.info("pretrained vectors for %d of %d words", found, len(vocab))

from cli.train_tagger import train_tagger  # noqa: E402 (the tagger command lives in its own module)

app.command("tagger")(train_tagger)

from cli.train_parser import train_parser  # noqa: E402 (the parser command lives in its own module)

app.command("parser")(train_parser)

from cli.train_translator import train_translator  # noqa: E402 (the translator command lives in its own module)

app.command("translator")(train_translator)
