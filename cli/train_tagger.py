"""`treeseq train tagger`: a BiLSTM/BiGRU tagger for POS tags or slots + intent, on the shared engine.

Registered on `cli.train.app` by cli/train.py; this module imports only cli.common at import time (so
either module may be imported first) and borrows the epoch printing from cli.train when it runs.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer

from cli.training import ConfigFile, Epochs, Output, Overrides, Precision, Quiet, Resume, TrainSeed, run_training
from cli.common import DataDir, Device, Verbose, cli_errors, console, setup_logging
from corpora.readers.tagging import Split, check_tagged, read_split
from treeseq.checkpoint import load_archive
from treeseq.config import TrainConfig, build_config, parse_overrides, read_config_file
from treeseq.data.tagging import Encoder
from treeseq.errors import ConfigError
from treeseq.tasks.tagger import (
    TRAIN_DEFAULTS, TaggerDataConfig, TaggerModelConfig, TaggerTask, build_encoder, build_model, check_labels,
    encode_sentences, task_kind,
)  # fmt: skip
from treeseq.training.distributed import init_distributed
from treeseq.training.engine import paths_for
from treeseq.vocab import Vocab

logger = logging.getLogger("treeseq.cli")

Opt = Optional


def train_tagger(
    data_dir: DataDir,
    output: Output,
    epochs: Epochs = None,
    seed: TrainSeed = None,
    device: Device = "auto",
    resume: Resume = False,
    config: ConfigFile = None,
    set_: Overrides = None,
    precision: Precision = None,
    rnn: Annotated[Opt[str], typer.Option(help="lstm or gru.")] = None,
    layers: Annotated[Opt[int], typer.Option(help="Stacked bidirectional layers.", min=1)] = None,
    hidden_size: Annotated[Opt[int], typer.Option(help="RNN size per direction.", min=1)] = None,
    word_dim: Annotated[Opt[int], typer.Option(min=1)] = None,
    char_kind: Annotated[Opt[str], typer.Option(help="Character features: cnn, lstm or none.")] = None,
    output_layer: Annotated[Opt[str], typer.Option("--output-layer", help="softmax, crf or auto (crf for chunk tags).")] = None,
    scheme: Annotated[Opt[str], typer.Option(help="Chunk tag scheme to train in: bio, iob1 or bioes.")] = None,
    column: Annotated[Opt[str], typer.Option(help="CoNLL-U column to tag: upos or xpos.")] = None,
    dropout: Annotated[Opt[float], typer.Option(min=0.0, max=0.99)] = None,
    batch_size: Annotated[Opt[int], typer.Option(help="Sentences per batch (default 32).", min=1)] = None,
    lr: Annotated[Opt[float], typer.Option(help="Learning rate (default 2e-3, Adam).")] = None,
    patience: Annotated[Opt[int], typer.Option(help="Stop after N epochs without dev improvement.")] = None,
    vectors: Annotated[Opt[Path], typer.Option(help="word2vec/GloVe text file to initialise embeddings.")] = None,
    spacy_vectors: Annotated[Opt[str], typer.Option(help="Initialise embeddings from a spaCy pipeline's vectors.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a BiLSTM/BiGRU tagger (word + character features, softmax or CRF, joint intent for NLU).

    DIR is a UD treebank (*-ud-train.conllu, *-ud-dev.conllu: POS tags), an ATIS/SNIPS folder
    (train/ and valid/ with seq.in, seq.out, label: slots + intent), train.jsonl/dev.jsonl, or CoNLL
    column files train.conll/dev.conll.
    """
    setup_logging(verbose)
    with cli_errors(verbose):
        model_cli = {"rnn": rnn, "layers": layers, "hidden_size": hidden_size, "word_dim": word_dim,
                     "char_kind": char_kind, "output": output_layer, "scheme": scheme, "dropout": dropout}  # fmt: skip
        train_cli = {"epochs": epochs, "seed": seed, "precision": precision, "batch_size": batch_size, "lr": lr,
                     "patience": patience}  # fmt: skip
        model_cfg, train_cfg, data_cfg, saved = _configs(config, set_, model_cli, train_cli, {"column": column}, resume, output)
        train_split = read_split(data_dir, "train", data_cfg.column, data_cfg.token_column, data_cfg.tag_column)
        dev_split = read_split(data_dir, "dev", data_cfg.column, data_cfg.token_column, data_cfg.tag_column)
        check_tagged(train_split.sentences, data_cfg.column)
        check_tagged(dev_split.sentences, data_cfg.column)
        kind = task_kind(train_split.sentences)
        model_cfg = model_cfg.resolved(kind)
        encoder = _encoder(saved) if saved else build_encoder(train_split.sentences, model_cfg, kind)
        check_labels(dev_split.sentences, encoder, kind)
        dist_info, torch_device = init_distributed(device)
        torch.manual_seed(train_cfg.seed)
        model = build_model(model_cfg, encoder, kind)
        if not resume and (vectors or spacy_vectors):
            from cli.train import _init_vectors  # noqa: PLC0415 (cli.train imports this module)

            _init_vectors(model, encoder.words, vectors, spacy_vectors)
        info = {"data_dir": str(data_dir), "train": str(train_split.path), "dev": str(dev_split.path)}
        task = TaggerTask(kind, model_cfg, train_cfg, encoder, encode_sentences(train_split.sentences, encoder, kind, model_cfg.scheme),
                          dev_split.sentences, data_cfg, info)  # fmt: skip
        if dist_info.is_main and not quiet:
            _describe(kind, model_cfg, train_cfg, train_split, dev_split, encoder, model, torch_device)
        run_training(task, model, train_cfg, output, torch_device, dist_info, resume, quiet)


def _configs(
    config: Path | None, set_: list[str] | None, model_cli: dict, train_cli: dict, data_cli: dict, resume: bool, output: Path
) -> tuple[TaggerModelConfig, TrainConfig, TaggerDataConfig, dict | None]:
    """Model, train and data configs: defaults <- TOML <- --set <- options; on --resume, the checkpoint's."""
    file_cfg = read_config_file(config)
    sets = parse_overrides(set_)
    for section in set(file_cfg) | set(sets):
        if section not in ("model", "train", "data"):
            raise ConfigError(f"unknown config section [{section}]; expected [model], [train] or [data]")
    if resume:
        saved = load_archive(paths_for(output)[0], task="tagger")
        cfgs = saved["config"]
        return (
            build_config(TaggerModelConfig, "model", cfgs["model"]),
            build_config(TrainConfig, "train", saved["training"]["train_config"], train_cli),
            build_config(TaggerDataConfig, "data", cfgs["data"]),
            saved,
        )
    return (
        build_config(TaggerModelConfig, "model", file_cfg.get("model", {}), sets.get("model", {}), model_cli),
        build_config(TrainConfig, "train", TRAIN_DEFAULTS, file_cfg.get("train", {}), sets.get("train", {}), train_cli),
        build_config(TaggerDataConfig, "data", file_cfg.get("data", {}), sets.get("data", {}), data_cli),
        None,
    )


def _encoder(saved: dict) -> Encoder:
    vocabs = saved["vocabs"]
    return Encoder(Vocab.from_dict(vocabs["words"]), Vocab.from_dict(vocabs["chars"]), saved["tags"], saved["intents"])


def _describe(kind: str, cfg: TaggerModelConfig, train_cfg: TrainConfig, train: Split, dev: Split, encoder: Encoder,
              model: torch.nn.Module, device: torch.device) -> None:  # fmt: skip
    params = sum(p.numel() for p in model.parameters())
    intents = f", {len(encoder.intents)} intents" if encoder.intents else ""
    console.print(
        f"{kind} tagger ({cfg.rnn} x{cfg.layers}, {cfg.char_kind} chars, {cfg.output}): {len(train.sentences)} train / "
        f"{len(dev.sentences)} dev sentences, {len(encoder.tags)} tags{intents}, vocabulary {len(encoder.words)}, "
        f"{params:,} parameters, {device}, {train_cfg.precision}"
    )
    logger.debug("model config %s", asdict(cfg))
