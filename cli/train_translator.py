"""`treeseq train translator`: an attentional encoder-decoder with SentencePiece subwords, on the shared engine.

Registered on `cli.train.app` by cli/train.py; imports only cli.common at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import torch
import typer

from cli.training import ConfigFile, Epochs, Output, Overrides, Precision, Quiet, Resume, TrainSeed, run_training
from cli.common import DataDir, Device, Verbose, cli_errors, console, setup_logging
from corpora.readers.parallel import read_split
from treeseq.checkpoint import load_archive
from treeseq.config import TrainConfig, build_config, parse_overrides, read_config_file
from treeseq.errors import ConfigError
from treeseq.tasks.translator import (
    TRAIN_DEFAULTS, Codec, TranslatorDataConfig, TranslatorModelConfig, TranslatorTask, build_codec, build_model,
)  # fmt: skip
from treeseq.training.distributed import init_distributed
from treeseq.training.engine import paths_for

Opt = Optional


def train_translator(
    data_dir: DataDir,
    output: Output,
    src: Annotated[Opt[str], typer.Option(help="Source language suffix (default de).")] = None,
    tgt: Annotated[Opt[str], typer.Option(help="Target language suffix (default en).")] = None,
    epochs: Epochs = None,
    seed: TrainSeed = None,
    device: Device = "auto",
    resume: Resume = False,
    config: ConfigFile = None,
    set_: Overrides = None,
    precision: Precision = None,
    rnn: Annotated[Opt[str], typer.Option(help="gru or lstm.")] = None,
    attention: Annotated[Opt[str], typer.Option(help="bahdanau, dot or general.")] = None,
    hidden_size: Annotated[Opt[int], typer.Option(min=1)] = None,
    embed_dim: Annotated[Opt[int], typer.Option(min=1)] = None,
    vocab_size: Annotated[Opt[int], typer.Option(help="SentencePiece vocabulary (default 8000).", min=1)] = None,
    batch_tokens: Annotated[Opt[int], typer.Option(help="Padded tokens per batch (default 4096).", min=1)] = None,
    lr: Annotated[Opt[float], typer.Option(help="Learning rate (default 1e-3, Adam).")] = None,
    patience: Annotated[Opt[int], typer.Option(help="Stop after N epochs without dev improvement.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on empty or over-long pairs instead of skipping them.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a translator: bi-GRU/LSTM encoder, attentional decoder, SentencePiece subwords in the archive.

    DIR holds train.SRC and train.TGT (plain or .gz, line-aligned) and val.SRC/val.TGT, as Multi30k does,
    or train.tsv/val.tsv (source TAB target). Empty lines are skipped with a warning (or fail with --strict).
    """
    setup_logging(verbose)
    with cli_errors(verbose):
        model_cli = {"rnn": rnn, "attention": attention, "hidden_size": hidden_size, "embed_dim": embed_dim}
        train_cli = {"epochs": epochs, "seed": seed, "precision": precision, "batch_size": batch_tokens, "lr": lr,
                     "patience": patience}  # fmt: skip
        data_cli = {"src": src, "tgt": tgt, "vocab_size": vocab_size, "strict": True if strict else None}
        model_cfg, train_cfg, data_cfg, saved = _configs(config, set_, model_cli, train_cli, data_cli, resume, output)
        train_data = read_split(data_dir, "train", data_cfg.src, data_cfg.tgt, data_cfg.strict)
        dev_data = read_split(data_dir, "val", data_cfg.src, data_cfg.tgt, data_cfg.strict)
        codec = Codec.from_entry(saved["subwords"]) if saved else build_codec(train_data.pairs, data_cfg)
        examples, _ = codec.encode_pairs(train_data.pairs, data_cfg.max_len, data_cfg.strict)
        dist_info, torch_device = init_distributed(device)
        torch.manual_seed(train_cfg.seed)
        model = build_model(model_cfg, codec)
        info = {"data_dir": str(data_dir), "train": train_data.source, "dev": dev_data.source}
        task = TranslatorTask(model_cfg, data_cfg, train_cfg, codec, examples, dev_data.pairs, info)
        if dist_info.is_main and not quiet:
            params = sum(p.numel() for p in model.parameters())
            console.print(
                f"translator {data_cfg.src}->{data_cfg.tgt} ({model_cfg.rnn}, {model_cfg.attention} attention): "
                f"{len(examples)} train / {len(dev_data.pairs)} dev pairs, subwords {len(codec.src)}/{len(codec.tgt)}, "
                f"{params:,} parameters, {torch_device}, {train_cfg.precision}"
            )
        run_training(task, model, train_cfg, output, torch_device, dist_info, resume, quiet)


def _configs(config: Path | None, set_: list[str] | None, model_cli: dict, train_cli: dict, data_cli: dict, resume: bool,
             output: Path) -> tuple[TranslatorModelConfig, TrainConfig, TranslatorDataConfig, dict | None]:  # fmt: skip
    """defaults <- TOML <- --set <- options; on --resume the checkpoint's configs and subwords."""
    file_cfg, sets = read_config_file(config), parse_overrides(set_)
    for section in set(file_cfg) | set(sets):
        if section not in ("model", "train", "data"):
            raise ConfigError(f"unknown config section [{section}]; expected [model], [train] or [data]")
    if resume:
        saved = load_archive(paths_for(output)[0], task="translator")
        return (
            build_config(TranslatorModelConfig, "model", saved["config"]["model"]),
            build_config(TrainConfig, "train", saved["training"]["train_config"], train_cli),
            build_config(TranslatorDataConfig, "data", saved["config"]["data"]),
            saved,
        )
    return (
        build_config(TranslatorModelConfig, "model", file_cfg.get("model", {}), sets.get("model", {}), model_cli),
        build_config(TrainConfig, "train", TRAIN_DEFAULTS, file_cfg.get("train", {}), sets.get("train", {}), train_cli),
        build_config(TranslatorDataConfig, "data", file_cfg.get("data", {}), sets.get("data", {}), data_cli),
        None,
    )
