from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from treeseq.checkpoint import FORMAT_VERSION, load_archive, save_atomic
from treeseq.config import TrainConfig
from treeseq.corpora.readers.ptb import read_trees
from treeseq.errors import CheckpointError
from treeseq.tasks.tree import LabelScheme, TreeInference, TreeModelConfig, TreeTask, build_model, encode
from treeseq.training.engine import TrainState, fit, paths_for
from treeseq.training.optim import build_optimizers
from treeseq.vocab import Vocab

MODEL = TreeModelConfig(embed_dim=12, hidden_size=12, dropout=0.3, lowercase=True)


def make_task(sample_dir: Path, train_cfg: TrainConfig) -> TreeTask:
    scheme = LabelScheme(MODEL)
    train = read_trees(sample_dir / "train.txt")[:60]
    dev = read_trees(sample_dir / "dev.txt")[:20]
    vocab = Vocab.build((w for t in train for w in t.tokens), lowercase=True)
    return TreeTask(MODEL, train_cfg, vocab, [encode(t, vocab, scheme) for t in train], [encode(t, vocab, scheme) for t in dev])


def run(task: TreeTask, cfg: TrainConfig, output: Path, **kwargs) -> tuple[dict, object]:
    torch.manual_seed(cfg.seed)
    model = build_model(MODEL, len(task.vocab))
    result = fit(task, model, cfg, output, torch.device("cpu"), show_progress=False, **kwargs)
    return {k: v.clone() for k, v in model.state_dict().items()}, result


@pytest.mark.parametrize("optimizer, ema", [("adagrad", 0.0), ("adam", 0.0), ("adam", 0.9)])
def test_resume_continues_exactly_like_an_uninterrupted_run(sample_dir: Path, tmp_path: Path, optimizer: str, ema: float) -> None:
    cfg = TrainConfig(epochs=3, batch_size=8, optimizer=optimizer, lr=0.01, schedule="linear", seed=3, ema=ema)
    task = make_task(sample_dir, cfg)
    straight, done = run(task, cfg, tmp_path / "a.pt")
    assert done.status == "finished" and done.state.epoch == 3

    def stop_mid_epoch(state: TrainState, record: dict) -> None:
        if state.global_step == 11:  # inside epoch 2 (8 steps an epoch)
            state.stop_requested = True

    _, stopped = run(task, cfg, tmp_path / "b.pt", step_hooks=[stop_mid_epoch])
    assert stopped.status == "interrupted" and (stopped.state.epoch, stopped.state.step_in_epoch) == (1, 3)
    resumed, result = run(task, cfg, tmp_path / "b.pt", resume=True)
    assert result.status == "finished" and [r["dev_root_acc"] for r in result.history] == [r["dev_root_acc"] for r in done.history[1:]]
    for name, value in straight.items():
        assert torch.equal(value, resumed[name]), name
    for a, b in ((tmp_path / "a.pt", tmp_path / "b.pt"), paths_for(tmp_path / "a.pt")[:1] + paths_for(tmp_path / "b.pt")[:1]):
        for name, value in load_archive(a)["state_dict"].items():  # with ema the archive's average too
            assert torch.equal(value, load_archive(b)["state_dict"][name]), name


def test_a_resumed_runs_log_equals_an_uninterrupted_runs_record_for_record(sample_dir: Path, tmp_path: Path) -> None:
    """The epoch's running train_loss travels in the mid-epoch checkpoint: the interrupted epoch's records
    after resuming are those of a run never stopped (only the clock's fields differ)."""
    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.01, seed=3, log_every=1)
    task = make_task(sample_dir, cfg)
    run(task, cfg, tmp_path / "a.pt")

    def stop_mid_epoch(state: TrainState, record: dict) -> None:
        if state.global_step == 11:
            state.stop_requested = True

    run(task, cfg, tmp_path / "b.pt", step_hooks=[stop_mid_epoch])
    run(task, cfg, tmp_path / "b.pt", resume=True)
    clock = {"time", "seconds", "sent_per_s"}
    logs = [[{k: v for k, v in json.loads(line).items() if k not in clock} for line in paths_for(tmp_path / name)[1].read_text().splitlines()]
            for name in ("a.pt", "b.pt")]  # fmt: skip
    assert len(logs[0]) == len(logs[1]) and any("train_loss" in r and r["epoch"] == 2 for r in logs[0])
    for straight, resumed in zip(*logs):
        assert straight == resumed


def test_best_and_last_checkpoints_and_metrics_log(sample_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=3, batch_size=8, lr=0.05, log_every=2)
    task = make_task(sample_dir, cfg)
    output = tmp_path / "m.pt"
    _, result = run(task, cfg, output)
    last, log = paths_for(output)
    assert output.is_file() and last.is_file()
    assert "training" in load_archive(last) and "training" not in load_archive(output)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    epochs = [r for r in records if "dev_root_acc" in r]
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert any("sent_per_s" in r and "dev_root_acc" not in r for r in records)
    assert result.state.best_metric * 100 == pytest.approx(max(r["dev_root_acc"] for r in epochs))  # the log: percent
    assert all(r["scale"] == "percent" and r["metric"] == "root_acc" and 0 <= r["dev_root_acc"] <= 100 for r in epochs)
    assert not list(tmp_path.glob(".*.tmp"))


def test_early_stopping_on_the_dev_metric(sample_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=50, batch_size=8, lr=1e-9, optimizer="sgd", patience=2)
    _, result = run(make_task(sample_dir, cfg), cfg, tmp_path / "m.pt")
    assert result.status == "early-stopped" and result.state.epoch == 3


def test_archive_round_trip_predicts_identically(sample_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=1, batch_size=8)
    task = make_task(sample_dir, cfg)
    model = build_model(MODEL, len(task.vocab))
    model.eval()
    save_atomic(task.archive(model), tmp_path / "m.pt")
    inference = TreeInference.from_archive(load_archive(tmp_path / "m.pt", task="tree"), torch.device("cpu"))
    trees = read_trees(sample_dir / "test.txt")[:10]
    batch = inference.batches(inference.encode(trees))[0]
    torch.testing.assert_close(inference.model(batch), model(batch), atol=0, rtol=0)


def test_archive_errors_are_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="not a treeseq model archive"):
        load_archive(junk)
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="no 'treeseq-archive' header"):
        load_archive(plain)
    newer = tmp_path / "newer.pt"
    torch.save({"format": "treeseq-archive", "format_version": FORMAT_VERSION + 1}, newer)
    with pytest.raises(CheckpointError, match="newer than this treeseq reads"):
        load_archive(newer)
    tagger = tmp_path / "tagger.pt"
    torch.save({"format": "treeseq-archive", "format_version": 1, "task": "tagger"}, tagger)
    with pytest.raises(CheckpointError, match="is a 'tagger' model, expected a 'tree' model"):
        load_archive(tagger, task="tree")
    with pytest.raises(CheckpointError, match="no such model file"):
        load_archive(tmp_path / "missing.pt")


def test_archives_hold_only_data(sample_dir: Path, tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):  # would run code under a plain pickle load
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "treeseq-archive", "format_version": 1, "x": Evil()}, path)
    with pytest.raises(CheckpointError, match="not a treeseq model archive"):
        load_archive(path)


def test_the_weight_average_is_what_dev_measures_and_the_archive_holds(sample_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=2, batch_size=8, optimizer="adam", lr=0.01, seed=5)
    task = make_task(sample_dir, cfg)
    torch.manual_seed(cfg.seed)
    model = build_model(MODEL, len(task.vocab))
    average = [p.detach().clone() for p in model.parameters()]  # by hand: from the initial weights
    by_epoch: list[list[torch.Tensor]] = []

    def follow(state: TrainState, record: dict) -> None:
        rate = 1 - min(0.9, (1 + state.global_step) / (10 + state.global_step))
        for mean, param in zip(average, model.parameters()):
            mean.copy_(torch.lerp(mean, param.detach(), rate))
        if state.global_step % 8 == 0:  # 60 trees, 8 a batch: 8 steps an epoch
            by_epoch.append([m.clone() for m in average])

    fit(task, model, cfg, tmp_path / "plain.pt", torch.device("cpu"), show_progress=False, step_hooks=[follow])
    trained, result = run(task, replace(cfg, ema=0.9), tmp_path / "ema.pt")
    assert len(by_epoch) == 2 and result.state.best_epoch in (1, 2)
    for name, value in model.state_dict().items():  # averaging leaves training alone
        assert torch.equal(value, trained[name]), name
    names = [name for name, _ in model.named_parameters()]
    saved = load_archive(paths_for(tmp_path / "ema.pt")[0])["training"]["average"]
    archived = load_archive(tmp_path / "ema.pt")["state_dict"]
    for name, mine, theirs, best in zip(names, average, saved, by_epoch[result.state.best_epoch - 1]):
        torch.testing.assert_close(theirs, mine, rtol=0, atol=1e-7)
        torch.testing.assert_close(archived[name], best, rtol=0, atol=1e-7)
    model.load_state_dict(archived)
    model.eval()
    with torch.no_grad():
        assert task.evaluate(model)["root_acc"] * 100 == result.history[result.state.best_epoch - 1]["dev_root_acc"]
    assert not torch.equal(archived[names[-1]], trained[names[-1]])


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "adagrad"])
def test_a_fused_optimizer_makes_the_same_updates(name: str) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(20, 8), torch.nn.Linear(8, 3))
    twin = copy.deepcopy(model)
    plain, fused = build_optimizers(model, name, 0.01, 1e-4), build_optimizers(twin, name, 0.01, 1e-4, fused=True)
    assert fused.optimizers[0].defaults["fused"] and not plain.optimizers[0].defaults["fused"]
    for _ in range(5):
        ids = torch.randint(0, 20, (16,))
        for net, opt in ((model, plain), (twin, fused)):
            opt.zero_grad()
            net(ids).square().sum().backward()
            opt.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(a, b, atol=1e-6) and not torch.equal(a, torch.zeros_like(a))


def test_fit_reports_its_best_metric_on_the_scale_evaluate_uses(tmp_path: Path) -> None:
    import treeseq

    samples = Path(__file__).resolve().parents[2] / "corpora" / "samples"
    fit = treeseq.train("classifier", samples / "nlu", tmp_path / "c.pt", epochs=2, hidden_size=8, embed_dim=8, progress=False)
    report = treeseq.evaluate(tmp_path / "c.pt", samples / "nlu")
    assert fit.scale == "percent" and fit.best_name == "acc"
    assert fit.best_metric == pytest.approx(report.metrics["acc"], abs=1e-4) and fit.best_metric > 1  # percent, not a fraction
    lm = treeseq.train("lm", samples / "parallel", tmp_path / "lm.pt", train_file="train.en", dev_file="val.en", epochs=1,
                       hidden_size=8, embed_dim=8, progress=False)  # fmt: skip
    assert lm.scale == "perplexity" and lm.best_name == "ppl"
    assert lm.best_metric == pytest.approx(treeseq.evaluate(tmp_path / "lm.pt", samples / "parallel", "val.en").metrics["ppl"], rel=1e-4)
    records = [json.loads(line) for line in (tmp_path / "lm.metrics.jsonl").read_text().splitlines()]
    assert [r["scale"] for r in records if "metric" in r] == ["perplexity"]
def test_a_resumed_run_continues_the_log_and_the_random_stream_from_the_checkpoint(sample_dir: Path, tmp_path: Path) -> None:
    """What tells a resumed run from one restarted from scratch (training is deterministic, so equal final
    weights alone cannot): the log keeps the stopped run's records and goes on from the checkpoint's
    step, and every later loss (dropout: the restored random stream) is the uninterrupted run's."""
    cfg = TrainConfig(epochs=2, batch_size=8, optimizer="adam", lr=0.01, seed=4, log_every=1)
    task = make_task(sample_dir, cfg)
    run(task, cfg, tmp_path / "a.pt")

    def stop(state: TrainState, record: dict) -> None:
        if state.global_step == 5:
            state.stop_requested = True

    run(task, cfg, tmp_path / "b.pt", step_hooks=[stop])
    log = paths_for(tmp_path / "b.pt")[1]
    before = log.read_text().splitlines()
    checkpoint_step = load_archive(paths_for(tmp_path / "b.pt")[0])["training"]["state"]["global_step"]
    assert checkpoint_step == 5 and [json.loads(line)["step"] for line in before] == [1, 2, 3, 4, 5]
    first_new: list[int] = []
    run(task, cfg, tmp_path / "b.pt", resume=True, step_hooks=[lambda state, record: first_new.append(state.global_step)])
    assert first_new[0] == checkpoint_step + 1  # a restart from scratch would begin at step 1
    after = log.read_text().splitlines()
    assert after[: len(before)] == before  # the stopped run's records, time stamps and all

    def steps(path: Path) -> list[tuple]:
        return [(r["epoch"], r["step"], r.get("loss"), r.get("dev_root_acc")) for r in map(json.loads, path.read_text().splitlines())]

    assert steps(log) == steps(paths_for(tmp_path / "a.pt")[1])  # dropout draws continue exactly: equal losses


def test_resume_refuses_what_it_cannot_continue(sample_dir: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=1, batch_size=8, lr=0.01)
    task = make_task(sample_dir, cfg)
    with pytest.raises(CheckpointError, match=r"m.last.pt: no checkpoint to resume from \(train without --resume first\)"):
        run(task, cfg, tmp_path / "m.pt", resume=True)
    run(task, cfg, tmp_path / "m.pt")
    last = paths_for(tmp_path / "m.pt")[0]
    save_atomic(load_archive(tmp_path / "m.pt"), last)  # a model archive, no training state
    with pytest.raises(CheckpointError, match="m.last.pt: a model archive without training state; cannot resume from it"):
        run(task, cfg, tmp_path / "m.pt", resume=True)
    run(task, cfg, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="m.last.pt: trained without train.ema; resume with the settings it was trained with"):
        run(task, replace(cfg, ema=0.9), tmp_path / "m.pt", resume=True)
    other = replace(MODEL, hidden_size=10)
    with pytest.raises(CheckpointError, match="m.last.pt: the checkpoint's model does not match this configuration"):
        fit(task, build_model(other, len(task.vocab)), cfg, tmp_path / "m.pt", torch.device("cpu"), show_progress=False, resume=True)


def test_a_checkpoint_holds_the_position_the_generators_and_the_settings(sample_dir: Path, tmp_path: Path) -> None:
    import random

    from treeseq.training.engine import epoch_path

    cfg = TrainConfig(epochs=2, batch_size=8, lr=0.01, seed=7, keep_last=1, log_every=4)
    task = make_task(sample_dir, cfg)
    output = tmp_path / "m.pt"
    assert paths_for(output) == (tmp_path / "m.last.pt", tmp_path / "m.metrics.jsonl") and epoch_path(output, 3) == tmp_path / "m.epoch3.pt"
    _, result = run(task, cfg, output)
    training = load_archive(paths_for(output)[0])["training"]
    assert training["state"] == {"epoch": 2, "step_in_epoch": 0, "global_step": 16, "best_metric": result.state.best_metric,
                                 "best_epoch": result.state.best_epoch, "bad_epochs": result.state.bad_epochs, "plateau_factor": 1.0}  # fmt: skip
    assert training["train_config"]["seed"] == 7 and training["train_config"]["keep_last"] == 1
    assert training["optimizer"] and set(training["rng"]) >= {"python", "torch"}
    generator = random.Random()
    version, internal, gauss = training["rng"]["python"]
    generator.setstate((version, tuple(internal), gauss))
    assert generator.random() == random.random()  # the saved stream is the one training left (nothing drew since)
    assert torch.equal(training["rng"]["torch"], torch.get_rng_state())
    assert sorted(p.name for p in tmp_path.glob("m.epoch*.pt")) == ["m.epoch2.pt"]  # keep_last=1: epoch 1's removed
    assert load_archive(tmp_path / "m.epoch2.pt")["state_dict"].keys() == load_archive(output)["state_dict"].keys()


def test_the_metrics_log_keeps_a_resumed_runs_past_and_a_new_runs_nothing(tmp_path: Path) -> None:
    from treeseq.training.engine import _MetricsLog

    log = tmp_path / "m.metrics.jsonl"
    log.write_text('{"step": 2}\n{"step": 4, "dev_acc": 1}\nnot json\n{"step": "x"}\n[1]\n{"step": 6}\n', encoding="utf-8")
    _MetricsLog(log, append=True, after_step=4)  # records after the checkpoint's step 4 are a crash's leftovers
    assert log.read_text(encoding="utf-8") == '{"step": 2}\n{"step": 4, "dev_acc": 1}\nnot json\n{"step": "x"}\n[1]\n'
    fresh = _MetricsLog(log, append=False)
    assert log.read_text(encoding="utf-8").count("\n") == 5  # a new run replaces the old log only when it writes
    fresh.write({"step": 1, "loss": 0.5})
    fresh.write({"step": 2, "loss": 0.25})
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [{k: v for k, v in r.items() if k != "time"} for r in records] == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]
    assert all(isinstance(r["time"], float) for r in records)
    silent = _MetricsLog(None, append=True, after_step=0)  # ranks other than 0 log nothing
    silent.write({"step": 3})
    nested = tmp_path / "runs" / "deep" / "m.metrics.jsonl"
    _MetricsLog(nested, append=False).write({"step": 1})
    assert nested.is_file()
