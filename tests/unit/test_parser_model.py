from __future__ import annotations

import random

import torch

from treeseq.config import TrainConfig
from treeseq.data.batching import budget_batches
from treeseq.decoding.cky import spans_to_tree, tree_spans
from treeseq.nn.rnn import reverse_within
from treeseq.tasks.parser import (
    TRAIN_DEFAULTS,
    ParserConfig,
    ParserInference,
    ParserTask,
    build_parser,
    build_vocabs,
    encode_tree,
    hinge_loss,
)  # fmt: skip
from treeseq.trees import Tree

WORDS = "the a film movie is was not very good bad at all fun dull story plot".split()


def random_tree(rng: random.Random, n: int) -> Tree:
    """A random binary tree over n random words."""
    tokens = [rng.choice(WORDS) for _ in range(n)]
    spans, stack = [], [(0, n)]
    while stack:
        i, j = stack.pop()
        spans.append((i, j))
        if j - i > 1:
            k = rng.randint(i + 1, j - 1)
            stack += [(i, k), (k, j)]
    return spans_to_tree(tokens, spans)


def test_reverse_within_keeps_padding_in_place() -> None:
    x = torch.arange(8.0).view(2, 4, 1)
    out = reverse_within(x, torch.tensor([4, 2]))
    assert out.view(2, 4).tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]


def test_padding_does_not_change_scores() -> None:
    rng = random.Random(3)
    trees = [random_tree(rng, n) for n in (3, 7)]
    cfg = ParserConfig(embed_dim=8, char_dim=4, char_out=6, hidden_size=8, mlp_size=8, dropout=0.0)
    vocabs = build_vocabs([t.tokens for t in trees], cfg)
    model = build_parser(cfg, vocabs).eval()
    from treeseq.data.parsing import batch_examples

    examples = [encode_tree(t, vocabs) for t in trees]
    together = model(*_inputs(batch_examples(examples, vocabs)))
    alone = model(*_inputs(batch_examples(examples[:1], vocabs)))
    assert torch.allclose(together[0, :4, :4], alone[0], atol=1e-5)


def _inputs(batch):  # type: ignore[no-untyped-def]
    return batch.word_ids, batch.char_ids, batch.lengths


def test_hinge_loss_is_zero_only_with_a_margin() -> None:
    gold_tree = Tree.from_brackets("(X (X a) (X (X b) (X c)))")
    from treeseq.data.parsing import span_mask

    gold = span_mask([tree_spans(gold_tree)], 4)
    scores = torch.zeros(1, 4, 4, requires_grad=True)
    assert float(hinge_loss(scores, gold, [3]).detach()) == 1.0  # the other tree costs 1 and scores the same
    loss = hinge_loss(scores + 2.0 * gold.float(), gold, [3])
    assert float(loss.detach()) == 0.0


def test_parser_overfits_a_tiny_treebank_exactly() -> None:
    rng = random.Random(0)
    trees = [random_tree(rng, rng.randint(3, 8)) for _ in range(8)]
    cfg = ParserConfig(embed_dim=24, char_dim=8, char_out=0, hidden_size=32, num_layers=1, mlp_size=32,
                       dropout=0.0, word_dropout=0.0)  # fmt: skip
    vocabs = build_vocabs([t.tokens for t in trees], cfg)
    examples = [encode_tree(t, vocabs) for t in trees]
    task = ParserTask(cfg, TrainConfig(**{**TRAIN_DEFAULTS, "batch_size": 8}), vocabs, examples, examples)
    model = overfit(task, build_parser, examples)
    assert task.evaluate(model)["exact"] == 1.0
    inference = ParserInference.from_archive(task.archive(model), torch.device("cpu"))
    parsed = inference.parse_tokens([list(t.tokens) for t in trees])
    assert [set(tree_spans(p)) for p in parsed] == [set(tree_spans(t)) for t in trees]


def overfit(task: ParserTask, build, examples: list) -> torch.nn.Module:  # type: ignore[no-untyped-def]
    """A parser trained on `examples` as one batch until its hinge loss is 0 (at most 150 steps), in eval mode."""
    torch.manual_seed(0)
    model = build(task.cfg, task.vocabs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss, count = task.loss(model, task.collate(examples))
        if float(loss.detach()) == 0.0:
            break
        optimizer.zero_grad()
        (loss / count).backward()
        optimizer.step()
    return model.eval()


def test_cell_batches_bound_the_chart() -> None:
    lengths = [5, 300, 20, 20, 1, 299]
    groups = budget_batches(lengths, [(n + 1) ** 2 for n in lengths], 100_000, max_items=512)
    assert sorted(i for g in groups for i in g) == list(range(6))
    assert all(len(g) * (max(lengths[i] for i in g) + 1) ** 2 <= 100_000 or len(g) == 1 for g in groups)


def test_threaded_and_bf16_prediction() -> None:
    rng = random.Random(5)
    trees = [random_tree(rng, rng.randint(1, 30)) for _ in range(40)]
    cfg = ParserConfig(embed_dim=8, char_dim=4, char_out=6, hidden_size=8, mlp_size=8, dropout=0.0)
    vocabs = build_vocabs([t.tokens for t in trees], cfg)
    archive = ParserTask(cfg, TrainConfig(), vocabs, [], []).archive(build_parser(cfg, vocabs))
    sentences = [list(t.tokens) for t in trees]
    one = ParserInference.from_archive(archive, torch.device("cpu"))
    one.cell_budget = 300  # many small batches
    two = ParserInference.from_archive(archive, torch.device("cpu"), workers=2)
    two.cell_budget = 300
    assert [t.children for t in two.parse_tokens(sentences)] == [t.children for t in one.parse_tokens(sentences)]
    bf16 = ParserInference.from_archive(archive, torch.device("cpu"), precision="bf16")
    assert all(t.is_binary() and len(t.tokens) == len(s) for t, s in zip(bf16.parse_tokens(sentences), sentences))


def test_archives_from_before_the_shared_birnn_load() -> None:
    """Parser archives written when its BiLSTM levels were named forward_layers/backward_layers still load."""
    from treeseq.models.parser import SpanParser

    model = SpanParser(20, 10, 8, 4, 6, 5, 2, 7)
    old = {k.replace("rnn.forward_rnns.", "rnn.forward_layers.").replace("rnn.backward_rnns.", "rnn.backward_layers."): v
           for k, v in model.state_dict().items()}  # fmt: skip
    assert any("forward_layers" in k for k in old)
    fresh = SpanParser(20, 10, 8, 4, 6, 5, 2, 7)
    fresh.load_state_dict(old)
    assert all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), model.state_dict().values()))
