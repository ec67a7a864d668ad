from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from treeseq.cli.main import app

runner = CliRunner()


def _log(path: Path) -> Path:
    records = [
        {"epoch": 1, "step": 50, "loss": 3.0},
        {"epoch": 1, "step": 90, "dev_bleu": 0.20, "train_loss": 4.0, "seconds": 60},
        {"epoch": 2, "step": 180, "dev_bleu": 0.25, "train_loss": 3.0, "seconds": 61},
        {"epoch": 2, "step": 180, "dev_bleu": 0.26, "train_loss": 2.9, "seconds": 59},  # a resumed run's record wins
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_curve_prints_epochs_and_draws_png_and_svg(tmp_path: Path) -> None:
    log = _log(tmp_path / "run.metrics.jsonl")
    result = runner.invoke(app, ["curve", str(log), "-o", str(tmp_path / "c.png")])
    assert result.exit_code == 0, result.output
    assert "20.00" in result.output and "26.00" in result.output and "25.00" not in result.output
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = runner.invoke(app, ["curve", str(log), "--metric", "bleu", "-o", str(tmp_path / "c.svg")])
    assert svg.exit_code == 0 and "<svg" in (tmp_path / "c.svg").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "c.svg", "run.metrics.jsonl"]  # no temporary files left


def test_curve_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    log = _log(tmp_path / "run.metrics.jsonl")
    with log.open("a") as handle:
        handle.write("{not json\n")
    result = runner.invoke(app, ["curve", str(log)])
    assert result.exit_code == 2 and f"{log}:5:2: not valid JSON" in result.output
    good = _log(tmp_path / "good.jsonl")
    wrong = runner.invoke(app, ["curve", str(good), "--metric", "f1"])
    assert wrong.exit_code == 2 and "has bleu" in wrong.output
    gif = runner.invoke(app, ["curve", str(good), "-o", str(tmp_path / "c.gif")])
    assert gif.exit_code == 2 and not (tmp_path / "c.gif").exists()


def test_percent_logs_and_the_selection_metric_by_default(tmp_path: Path) -> None:
    """Logs since the percent scale hold percents and name the selection metric; a negated loss is the loss."""
    log = tmp_path / "mt.metrics.jsonl"
    records = [{"epoch": e, "dev_bleu": b, "dev_loss": loss, "metric": "bleu", "scale": "percent", "train_loss": 3.0}
               for e, b, loss in ((1, 12.5, 5.15), (2, 20.25, 4.5))]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = runner.invoke(app, ["curve", str(log)])
    assert result.exit_code == 0 and "dev bleu" in result.output and "20.25" in result.output and "2025" not in result.output
    loss = runner.invoke(app, ["curve", str(log), "--metric", "loss"])
    assert loss.exit_code == 0 and "5.15" in loss.output and "515" not in loss.output


def test_several_runs_are_drawn_over_each_other(tmp_path: Path) -> None:
    one, two = _log(tmp_path / "one.metrics.jsonl"), _log(tmp_path / "two.metrics.jsonl")
    result = runner.invoke(app, ["curve", str(one), str(two), "-o", str(tmp_path / "both.svg"), "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    runs = {json.loads(line)["run"] for line in result.output.splitlines()}
    assert runs == {"one", "two"}
    svg = (tmp_path / "both.svg").read_text()
    assert "one dev bleu" in svg and "two dev bleu" in svg


def test_step_level_loss(tmp_path: Path) -> None:
    from treeseq.curves import read_steps

    log = _log(tmp_path / "run.metrics.jsonl")
    with log.open("a") as handle:
        handle.write(json.dumps({"epoch": 2, "step": 135, "loss": 2.5}) + "\n")
    assert read_steps(log) == [(50 / 90, 3.0), (1 + 45 / 90, 2.5)]
    result = runner.invoke(app, ["curve", str(log), "--steps", "-o", str(tmp_path / "s.svg")])
    assert result.exit_code == 0, result.output
    assert "<svg" in (tmp_path / "s.svg").read_text()
