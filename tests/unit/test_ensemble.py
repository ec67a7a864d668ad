"""Ensembles, weight averaging and several seeds: each family's combination against a slow reference
written here (one sentence, one member at a time), and the guarantees around them."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
import torch

import treeseq
from treeseq.checkpoint import load_archive
from treeseq.corpora.readers.ptb import parse_tree_line
from treeseq.errors import ConfigError

SAMPLES = Path(__file__).resolve().parents[2] / "corpora" / "samples"
QUIET = {"progress": False, "device": "cpu"}
RECIPES: dict[str, tuple[str, Path, dict[str, Any]]] = {
    "tree": ("tree", SAMPLES / "sentiment", {"epochs": 1, "embed_dim": 12, "hidden_size": 12}),
    "parser": ("parser", SAMPLES / "sentiment", {"epochs": 1, "hidden_size": 12,
                                                 "overrides": ["model.mlp_size=12", "model.embed_dim=8", "model.char_out=8"]}),
    "pos": ("tagger", SAMPLES / "pos", {"epochs": 1, "hidden_size": 12, "embed_dim": 12}),
    "nlu": ("tagger", SAMPLES / "nlu", {"epochs": 2, "hidden_size": 12, "embed_dim": 12, "overrides": ["model.output=crf"]}),
    "classifier": ("classifier", SAMPLES / "nlu", {"epochs": 1, "hidden_size": 12, "embed_dim": 12}),
    "translator": ("translator", SAMPLES / "parallel", {"epochs": 1, "hidden_size": 16, "embed_dim": 16, "batch_size": 600,
                                                        "overrides": ["data.vocab_size=300", "data.dev_subset=5"]}),
    "lm": ("lm", SAMPLES / "parallel", {"epochs": 1, "hidden_size": 12, "embed_dim": 12, "train_file": "train.en",
                                        "dev_file": "val.en"}),
}  # fmt: skip
SENTENCES = ["show flights from boston to denver", "what is the cheapest fare to dallas", "list flights to atlanta"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Three members of every family (seeds 1-3), trained for an epoch or two on the samples."""
    folder = tmp_path_factory.mktemp("ensemble")
    out: dict[str, list[Path]] = {}
    for name, (family, data, options) in RECIPES.items():
        out[name] = []
        for seed in (1, 2, 3):
            path = folder / f"{name}{seed}.pt"
            treeseq.train(family, data, path, seed=seed, **QUIET, **options)
            out[name].append(path)
    return out


def members(paths: list[Path]) -> list[Any]:
    return [treeseq.load(p, "cpu") for p in paths]


def disagreeing(paths: list[Path], scale: float = 0.5) -> tuple[Any, list[Any]]:
    """The members with noise added to every weight (a different draw each), so that they disagree
    widely whatever a short training left them at, and the ensemble built from exactly these."""
    singles = members(paths)
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for model in singles:
            for parameter in model.inference.model.parameters():
                parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)
            for module in model.inference.model.modules():  # padding rows stay zero: padding must not leak
                if isinstance(module, torch.nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
    return type(singles[0]).ensemble(singles), singles


def mean_probs(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64).mean(0)


def test_tree_nodes_are_the_mean_of_the_members_probabilities(runs: dict[str, list[Path]]) -> None:
    lines = (SAMPLES / "sentiment" / "dev.txt").read_text(encoding="utf-8").splitlines()[:6]
    ensemble, singles = treeseq.load(runs["tree"], "cpu"), members(runs["tree"])
    found = ensemble.predict(lines, brackets=True)
    for line, result in zip(lines, found):
        tree = parse_tree_line(line, "<test>")
        per_member = [m.predict([tree])[0] for m in singles]  # one tree, one member at a time
        for index, node in enumerate(result.nodes):
            expected = mean_probs([list(r.nodes[index].probs) for r in per_member])
            assert torch.allclose(torch.tensor(node.probs, dtype=torch.float64), expected, atol=1e-5)
            assert node.label == result.classes[int(expected.argmax())]


def test_sentence_classes_are_the_mean_of_the_members_probabilities(runs: dict[str, list[Path]]) -> None:
    ensemble, singles = treeseq.load(runs["classifier"], "cpu"), members(runs["classifier"])
    for text, result in zip(SENTENCES, ensemble.predict(SENTENCES)):
        expected = mean_probs([list(m.predict([text])[0].probabilities) for m in singles])
        assert torch.allclose(torch.tensor(result.probabilities, dtype=torch.float64), expected, atol=1e-5)
        assert result.label == result.classes[int(expected.argmax())]


def _tag_distributions(model: Any, tokens: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One member's tag scores (T, K) and intent logits (I,) for one sentence, batch of one."""
    from treeseq.data.tagging import TaggedSentence, collate

    inference = model.inference
    batch = collate([inference.encoder.encode(TaggedSentence(tuple(tokens)), with_labels=False)], inference.encoder)
    network = inference.model
    with torch.no_grad():
        states = network.encode(batch)
        scores = network.tag_scores(states)[0].double()
        intent = network.intent_logits(states, batch.mask)[0].double() if network.intent_out is not None else None
    return scores, intent


def test_softmax_tags_are_the_argmax_of_the_mean_probabilities(runs: dict[str, list[Path]]) -> None:
    ensemble, singles = disagreeing(runs["pos"])
    texts = ["The film is good .", "A man walks his dog in the park ."]
    for result in ensemble.predict(texts):
        probs = torch.stack([torch.softmax(_tag_distributions(m, list(result.tokens))[0], -1) for m in singles]).mean(0)
        assert list(result.tags) == [ensemble.labels[i] for i in probs.argmax(-1).tolist()]
        expected = probs.max(-1).values
        assert torch.allclose(torch.tensor(result.tag_probs, dtype=torch.float64), expected, atol=1e-5)


def _viterbi(emissions: list[list[float]], start: list[float], trans: list[list[float]], end: list[float]) -> list[int]:
    """Plain-list Viterbi over one sentence (forbidden moves are -inf in the scores)."""
    tags = range(len(start))
    best = [start[k] + emissions[0][k] for k in tags]
    back: list[list[int]] = []
    for row in emissions[1:]:
        step = [max(tags, key=lambda j: best[j] + trans[j][k]) for k in tags]
        best = [best[step[k]] + trans[step[k]][k] + row[k] for k in tags]
        back.append(step)
    last = max(tags, key=lambda k: best[k] + end[k])
    path = [last]
    for step in reversed(back):
        path.append(step[path[-1]])
    return path[::-1]


def test_crf_tags_are_viterbi_over_the_mean_scores_and_intents_the_mean_probabilities(runs: dict[str, list[Path]]) -> None:
    ensemble, singles = disagreeing(runs["nlu"], scale=1.0)
    crfs = [m.inference.model.crf for m in singles]
    inf = float("-inf")

    def mean_of(name: str) -> torch.Tensor:
        return torch.stack([getattr(c, name).detach().double() for c in crfs]).mean(0)

    first = crfs[0]
    start = mean_of("start").masked_fill(~first.start_ok, inf).tolist()
    trans = mean_of("transitions").masked_fill(~first.trans_ok, inf).tolist()
    end = mean_of("end").masked_fill(~first.end_ok, inf).tolist()
    for result in ensemble.predict(SENTENCES):
        found = [_tag_distributions(m, list(result.tokens)) for m in singles]
        emissions = torch.stack([scores for scores, _ in found]).mean(0).tolist()
        assert list(result.tags) == [ensemble.labels[i] for i in _viterbi(emissions, start, trans, end)]
        intent = torch.stack([torch.softmax(logits, -1) for _, logits in found]).mean(0)  # type: ignore[arg-type]
        assert result.intent == ensemble.intents[int(intent.argmax())]
        assert result.intent_prob == pytest.approx(float(intent.max()), abs=1e-5)


def _best_tree(scores: list[list[float]], n: int) -> set[tuple[int, int]]:
    """The binary tree over n tokens with the highest sum of its spans' scores, by exhaustive recursion."""
    memo: dict[tuple[int, int], tuple[float, frozenset]] = {}

    def best(i: int, j: int) -> tuple[float, frozenset]:
        if (i, j) not in memo:
            if j - i == 1:
                memo[(i, j)] = (scores[i][j], frozenset({(i, j)}))
            else:
                options = [(best(i, k)[0] + best(k, j)[0], best(i, k)[1] | best(k, j)[1]) for k in range(i + 1, j)]
                value, spans = max(options, key=lambda o: o[0])
                memo[(i, j)] = (value + scores[i][j], spans | {(i, j)})
        return memo[(i, j)]

    return set(best(0, n)[1])


def test_parser_decodes_the_members_mean_span_scores(runs: dict[str, list[Path]]) -> None:
    from treeseq.data.parsing import batch_examples

    ensemble, singles = disagreeing(runs["parser"])
    sentences = [parse_tree_line(line, "<test>").tokens for line in (SAMPLES / "sentiment" / "dev.txt").read_text().splitlines()[:8]]
    for tokens, result in zip(sentences, ensemble.predict(sentences)):
        scores = []
        for m in singles:
            batch = batch_examples(m.inference.encode([tokens]), m.inference.vocabs, with_gold=False)
            with torch.no_grad():
                scores.append(m.inference.model(*batch.inputs)[0].double())
        mean = torch.stack(scores).mean(0).tolist()
        assert set(result.spans()) == {s for s in _best_tree(mean, len(tokens)) if s[1] - s[0] > 1}
        assert any(set(result.spans()) != {s for s in _best_tree(one.tolist(), len(tokens)) if s[1] - s[0] > 1} for one in scores)


def test_translator_greedy_steps_take_the_mean_next_token_probability(runs: dict[str, list[Path]]) -> None:
    from treeseq.models.seq2seq import BOS_ID
    from treeseq.subwords import EOS_ID

    ensemble, singles = disagreeing(runs["translator"], scale=0.1)
    codec = singles[0].inference.codec
    for text in ["Ein kleiner hund schläft im park .", "Zwei große katzen spielen ."]:
        source = codec.src.encode([text])[0]
        ids = torch.tensor([source])
        states = [m.inference.model.encode(ids, torch.tensor([len(source)])) for m in singles]
        prev, out, total = torch.tensor([BOS_ID]), [], 0.0
        with torch.no_grad():
            budget = int(len(source) * 1.5) + 10  # the output budget; its last step must end the sentence
            for t in range(budget):
                steps = [m.inference.model.decode_step(prev, s) for m, s in zip(singles, states)]
                states = [s for _, s, _ in steps]
                probs = torch.stack([lp[0].double().exp() for lp, _, _ in steps]).mean(0)
                token = EOS_ID if t == budget - 1 else int(probs.argmax())
                total += math.log(float(probs[token]))
                if token == EOS_ID:
                    break
                out.append(token)
                prev = torch.tensor([token])
        found = ensemble.predict([text], beam=1)[0].hypotheses[0]
        assert found.text == codec.tgt.decode([out])[0]
        assert found.log_prob == pytest.approx(total, abs=1e-3)


def test_translator_forced_scores_are_the_log_of_the_mean_per_token(runs: dict[str, list[Path]]) -> None:
    from treeseq.data.parallel import PairExample, collate_pairs

    ensemble, singles = treeseq.load(runs["translator"], "cpu"), members(runs["translator"])
    sources, references = ["Ein hund .", "Drei kleine katze frisst im park ."], ["A dog .", "Three little cats eat in the park ."]
    codec = singles[0].inference.codec
    for src, ref, value in zip(sources, references, ensemble.score(sources, references)):
        batch = collate_pairs([PairExample(tuple(codec.src.encode([src])[0]), tuple(codec.tgt.encode([ref])[0]))])
        with torch.no_grad():
            per_token = torch.stack([m.inference.model.target_token_log_probs(batch.src_ids, batch.src_lengths, batch.tgt_in,
                                                                              batch.tgt_out)[0].double() for m in singles])  # fmt: skip
        expected = float((per_token.exp().mean(0)).log().sum())
        assert value == pytest.approx(expected, abs=1e-4)


def test_language_model_scores_and_greedy_generation_use_the_mean_probability(runs: dict[str, list[Path]]) -> None:
    ensemble, singles = disagreeing(runs["lm"], scale=2.0)
    lines = ["a little dog runs in the park .", "three cats sleep ."]
    for line, result in zip(lines, ensemble.predict(lines)):
        per_member = torch.tensor([list(m.predict([line])[0].token_logprobs) for m in singles], dtype=torch.float64)
        expected = per_member.exp().mean(0).log()
        assert torch.allclose(torch.tensor(result.token_logprobs, dtype=torch.float64), expected, atol=1e-4)
    units = singles[0].units
    prompt = [units.eos_id, *units.encode(["a little"])[0]]
    states: list[Any] = [None] * len(singles)
    with torch.no_grad():
        outs = [m.inference.model(torch.tensor([prompt])) for m in singles]
        last = [scores[0, -1] for scores, _ in outs]
        states = [s for _, s in outs]
        expected_ids = []
        for _ in range(8):
            probs = torch.stack([torch.log_softmax(s.double(), -1).exp() for s in last]).mean(0)
            token = int(probs.argmax()) + 1
            if token == units.eos_id:
                break
            expected_ids.append(token)
            stepped = [m.inference.model.step(torch.tensor([token]), s) for m, s in zip(singles, states)]
            last, states = [s[0] for s, _ in stepped], [s for _, s in stepped]
    found = ensemble.generate("a little", temperature=0, max_tokens=8)[0]
    assert list(found.tokens) == units.pieces(expected_ids)
    assert all(m.generate("a little", temperature=0, max_tokens=8)[0].tokens != found.tokens for m in singles)


def test_an_ensemble_of_one_is_its_member(runs: dict[str, list[Path]]) -> None:
    for name, texts, options in (("classifier", SENTENCES, {}), ("nlu", SENTENCES, {}), ("lm", SENTENCES, {})):
        one, alone = treeseq.load([runs[name][0]], "cpu"), treeseq.load(runs[name][0], "cpu")
        assert not one.members and type(one) is type(alone)
        assert [r.to_dict() for r in one.predict(texts, **options)] == [r.to_dict() for r in alone.predict(texts, **options)]


def test_an_ensemble_archive_loads_as_its_members_ensemble(runs: dict[str, list[Path]], tmp_path: Path) -> None:
    from treeseq.checkpoint import make_ensemble_archive, save_atomic

    path = tmp_path / "nlu-ensemble.pt"
    save_atomic(make_ensemble_archive([load_archive(p) for p in runs["nlu"]]), path)
    assert torch.load(path, weights_only=True)["task"] == "tagger"
    from_file, from_list = treeseq.load(path, "cpu"), treeseq.load(runs["nlu"], "cpu")
    assert len(from_file.members) == 3
    assert [r.to_dict() for r in from_file.predict(SENTENCES)] == [r.to_dict() for r in from_list.predict(SENTENCES)]


def test_members_with_another_vocabulary_or_family_are_refused_in_one_line(runs: dict[str, list[Path]], tmp_path: Path) -> None:
    other = tmp_path / "other.pt"
    treeseq.train("classifier", SAMPLES / "nlu", other, epochs=1, hidden_size=12, embed_dim=12, min_count=7, **QUIET)
    with pytest.raises(ConfigError, match=r"other\.pt cannot join an ensemble with .*classifier1\.pt: different vocabularies \(words: "):
        treeseq.load([runs["classifier"][0], other])
    with pytest.raises(ConfigError, match="different model family"):
        treeseq.load([runs["classifier"][0], runs["nlu"][0]])
    with pytest.raises(ConfigError, match="different kind"):
        treeseq.load([runs["nlu"][0], runs["pos"][0]])


def test_average_of_one_archive_is_that_archive_and_of_two_their_mean(runs: dict[str, list[Path]], tmp_path: Path) -> None:
    one = treeseq.average([runs["nlu"][0]], tmp_path / "one.pt")
    original, averaged = load_archive(runs["nlu"][0]), load_archive(one)
    assert original["state_dict"].keys() == averaged["state_dict"].keys()
    assert all(torch.equal(original["state_dict"][k], v) for k, v in averaged["state_dict"].items())
    assert [r.to_dict() for r in treeseq.load(one).predict(SENTENCES)] == [r.to_dict() for r in treeseq.load(runs["nlu"][0]).predict(SENTENCES)]
    two = load_archive(treeseq.average(runs["nlu"][:2], tmp_path / "two.pt"))
    a, b = (load_archive(p)["state_dict"] for p in runs["nlu"][:2])
    key = "tag_out.weight"
    assert torch.allclose(two["state_dict"][key], (a[key] + b[key]) / 2, atol=1e-7)
    assert not torch.equal(two["state_dict"][key], a[key])
    assert "training" not in two and two["task"] == "tagger"
    with pytest.raises(ConfigError, match="exists"):
        treeseq.average(runs["nlu"][:2], tmp_path / "two.pt")
    with pytest.raises(ConfigError, match="cannot be averaged with .*: different task"):
        treeseq.average([runs["nlu"][0], runs["classifier"][0]], tmp_path / "mixed.pt")


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_keep_last_keeps_the_last_k_epochs_trained_weights(tmp_path: Path, ema: float) -> None:
    output = tmp_path / "run.pt"
    treeseq.train("classifier", SAMPLES / "nlu", output, epochs=4, hidden_size=8, embed_dim=8, keep_last=2, ema=ema, **QUIET)
    assert sorted(p.name for p in tmp_path.glob("run.epoch*.pt")) == ["run.epoch3.pt", "run.epoch4.pt"]
    last = load_archive(tmp_path / "run.last.pt")["state_dict"]  # the trained weights, also with the average on
    assert all(torch.equal(load_archive(tmp_path / "run.epoch4.pt")["state_dict"][k], v) for k, v in last.items())
    assert ema == 0 or not all(torch.equal(load_archive(output)["state_dict"][k], v) for k, v in last.items())


def test_ema_logs_the_trained_weights_beside_the_average(tmp_path: Path) -> None:
    plain, averaged = tmp_path / "plain.pt", tmp_path / "ema.pt"
    options = {"epochs": 2, "hidden_size": 8, "embed_dim": 8, **QUIET}
    treeseq.train("classifier", SAMPLES / "nlu", plain, **options)
    treeseq.train("classifier", SAMPLES / "nlu", averaged, ema=0.9, **options)

    def epochs(path: Path) -> list[dict]:
        lines = path.with_name(path.stem + ".metrics.jsonl").read_text(encoding="utf-8").splitlines()
        return [r for r in map(json.loads, lines) if "metric" in r]

    for mine, theirs in zip(epochs(plain), epochs(averaged)):
        assert theirs["raw_dev_acc"] == mine["dev_acc"]  # the average changes what is measured, not training
        assert "raw_dev_acc" not in mine


def test_seeds_train_the_members_each_run_alone_would(tmp_path: Path) -> None:
    options = {"epochs": 2, "hidden_size": 8, "embed_dim": 8, **QUIET}
    result = treeseq.train("classifier", SAMPLES / "nlu", tmp_path / "ens.pt", seeds="1,2,3", **options)
    assert result.status == "finished" and [m.seed for m in result.members] == [1, 2, 3]
    alone = tmp_path / "alone.pt"
    treeseq.train("classifier", SAMPLES / "nlu", alone, seed=2, **options)
    member, single = load_archive(tmp_path / "ens.seed2.pt")["state_dict"], load_archive(alone)["state_dict"]
    assert member.keys() == single.keys() and all(torch.equal(member[k], single[k]) for k in member)
    summary = json.loads((tmp_path / "ens.seeds.json").read_text(encoding="utf-8"))
    accuracies = [m["metrics"]["acc"] for m in summary["members"]]
    assert summary["seeds"] == [1, 2, 3]
    assert summary["mean"]["acc"] == pytest.approx(statistics.fmean(accuracies), abs=1e-3)
    assert summary["sd"]["acc"] == pytest.approx(statistics.stdev(accuracies), abs=1e-3)
    report = treeseq.evaluate(tmp_path / "ens.pt", SAMPLES / "nlu")
    assert summary["ensemble"]["metrics"]["acc"] == pytest.approx(report.metrics["acc"], abs=1e-3)
    for seed, figures in zip((1, 2, 3), summary["members"]):
        assert figures["metrics"]["acc"] == pytest.approx(treeseq.evaluate(tmp_path / f"ens.seed{seed}.pt", SAMPLES / "nlu").metrics["acc"], abs=1e-3)


def test_seeds_resume_continues_only_the_unfinished_members(tmp_path: Path) -> None:
    import os
    import signal

    options = {"epochs": 3, "hidden_size": 8, "embed_dim": 8, **QUIET}
    output = tmp_path / "ens.pt"

    def stop_in_seed_two(seed: int, state: Any, record: dict) -> None:
        if seed == 2 and record["epoch"] == 1:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: the member stops after its step, with a checkpoint

    first = treeseq.train("classifier", SAMPLES / "nlu", output, seeds=[1, 2, 3], epoch_hook=stop_in_seed_two, **options)
    assert first.status == "interrupted" and [m.status for m in first.members] == ["finished", "interrupted", "interrupted"]
    assert not output.exists() and not (tmp_path / "ens.seed3.pt").exists()
    seed_one = (tmp_path / "ens.seed1.pt").read_bytes()
    seed_two_log = (tmp_path / "ens.seed2.metrics.jsonl").read_text(encoding="utf-8").splitlines()
    seed_two_first_epoch = next(line for line in seed_two_log if '"metric"' in line)
    second = treeseq.train("classifier", SAMPLES / "nlu", output, seeds=[1, 2, 3], resume=True, **options)
    assert [m.status for m in second.members] == ["kept", "finished", "finished"]
    assert (tmp_path / "ens.seed1.pt").read_bytes() == seed_one
    log = [json.loads(line) for line in (tmp_path / "ens.seed2.metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["epoch"] for r in log if "metric" in r] == [1, 2, 3]
    # seed 2 continued from its checkpoint: its first epoch's record is the one written before the stop
    assert next(line for line in (tmp_path / "ens.seed2.metrics.jsonl").read_text().splitlines() if '"metric"' in line) == seed_two_first_epoch
    alone = tmp_path / "alone.pt"
    treeseq.train("classifier", SAMPLES / "nlu", alone, seed=2, **options)
    member, single = load_archive(tmp_path / "ens.seed2.pt")["state_dict"], load_archive(alone)["state_dict"]
    assert all(torch.equal(member[k], single[k]) for k in member)
    assert len(treeseq.load(output).members) == 3


def test_seeds_are_parsed_and_checked() -> None:
    from treeseq.api.seeds import parse_seeds

    assert parse_seeds("1,2,3") == [1, 2, 3] and parse_seeds("2-4") == [2, 3, 4] and parse_seeds("1, 5-6") == [1, 5, 6]
    for bad in ("", "a", "1,1", "1-", "-3"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)
