from __future__ import annotations

from pathlib import Path

import pytest

from treeseq.config import TrainConfig, build_config, parse_overrides, read_config_file
from treeseq.errors import ConfigError, CorpusFormatError
from treeseq.render import render_tree
from treeseq.tasks.tree import TreeModelConfig
from treeseq.trees import Tree
from treeseq.vectors import read_text_vectors
from treeseq.vocab import Vocab


def test_config_layers_later_wins_and_none_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[train]\nlr = 0.5\nepochs = 3\n")
    file_cfg = read_config_file(path)
    cfg = build_config(TrainConfig, "train", file_cfg["train"], parse_overrides(["train.epochs=7"])["train"], {"lr": None})
    assert (cfg.lr, cfg.epochs, cfg.batch_size) == (0.5, 7, 25)


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ({"nope": 1}, "unknown setting train.nope"),
        ({"epochs": "many"}, "train.epochs: 'many' is not a valid int"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"optimizer": "lbfgs"}, "optimizer 'lbfgs': expected one of"),
        ({"precision": "fp8"}, "precision 'fp8'"),
    ],
)
def test_config_errors_are_specific(layer: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(TrainConfig, "train", layer)


def test_model_config_checks_leaf_sizes() -> None:
    with pytest.raises(ConfigError, match="embed_dim .* must equal hidden_size"):
        TreeModelConfig(kind="rntn", embed_dim=20, hidden_size=30)
    with pytest.raises(ConfigError, match="--set|expected SECTION.KEY=VALUE"):
        parse_overrides(["lr=3"])


def test_word2vec_and_glove_text_vectors(tmp_path: Path) -> None:
    vocab = Vocab.build(["good", "film", "bad"], lowercase=True)
    w2v = tmp_path / "v.txt"
    w2v.write_text("3 2\nGood 1 2\nfilm 3 4\nzebra 5 6\n")
    table, found = read_text_vectors(w2v, vocab, 2)
    assert found == 2
    assert table[vocab.stoi["good"]].tolist() == [1.0, 2.0] and table[vocab.stoi["bad"]].abs().sum() == 0
    glove = tmp_path / "g.txt"
    glove.write_text("film 1 2 3\n")
    with pytest.raises(CorpusFormatError, match=r"g.txt:1: expected a word and 2 numbers, found 3"):
        read_text_vectors(glove, vocab, 2)


def test_render_shows_every_node_with_label_and_probability() -> None:
    tree = Tree.from_brackets("(3 (2 The) (4 (3 good) (2 film)))")
    text = render_tree(tree, ("neg", "neutral", "pos", "x", "y"), [2, 1, 2, 0, 2], [0.9, 0.8, 0.7, 0.6, 0.5]).plain
    lines = text.splitlines()
    assert lines == [
        "pos 0.50  The good film",
        "├── pos 0.90  The",
        "└── neg 0.60  good film",
        "    ├── neutral 0.80  good",
        "    └── pos 0.70  film",
    ]


def test_render_shows_a_plain_trees_own_labels() -> None:
    tree = Tree.from_brackets("(3 (2 The) (4 (3 good) (2 film)))")
    assert render_tree(tree).plain.splitlines() == [
        "3  The good film",
        "├── 2  The",
        "└── 4  good film",
        "    ├── 3  good",
        "    └── 2  film",
    ]
    assert render_tree(tree.binarize().with_labels([None] * len(tree))).plain.splitlines()[0] == "_  The good film"
    with pytest.raises(ValueError, match="together"):
        render_tree(tree, ("neg", "pos"))
