"""Item 3: an eval with failed tasks exits non-zero naming them, and metrics.json says it is incomplete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faults import cli, write_run_config

from synthmphn.eval.base import EVAL_TASKS, TaskResult
from synthmphn.eval.runner import failed_tasks
from synthmphn.models.checkpoint import save_checkpoint
from synthmphn.models.factory import create_clip


@pytest.fixture
def run(tmp_path: Path, pristine_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run folder with a tiny checkpoint and two fake eval tasks: `fine` works, `broken` raises."""
    run = tmp_path / "run"
    write_run_config(run, pristine_dataset)
    save_checkpoint(run / "train" / "checkpoints" / "last.pt", create_clip("synth-tiny-vit").model)

    def fine(*args: object) -> TaskResult:
        return TaskResult(metrics={"acc": 0.5})

    def broken(*args: object) -> TaskResult:
        raise ValueError("heldout-000000.tar: listed in manifest.jsonl but missing")

    monkeypatch.setitem(EVAL_TASKS._items, "fine", fine)
    monkeypatch.setitem(EVAL_TASKS._items, "broken", broken)
    return run


def test_failed_tasks_exit_1_and_are_named(run: Path) -> None:
    result = cli("eval", run, "eval.tasks=[fine, broken]")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    detail, line = result.stderr.strip().splitlines()  # each failure, then the one error line
    assert detail == "eval: broken: ValueError: heldout-000000.tar: listed in manifest.jsonl but missing"
    assert "eval incomplete: task(s) broken failed" in line and str(run / "eval" / "metrics.json") in line
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert metrics["complete"] is False and metrics["failed_tasks"] == ["broken"]
    assert metrics["tasks"]["fine"]["metrics"] == {"acc": 0.5}  # what worked is still recorded
    assert failed_tasks(run / "eval" / "metrics.json") == ["broken"]


def test_a_complete_eval_exits_0(run: Path) -> None:
    result = cli("eval", run, "eval.tasks=[fine]")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "eval" / "metrics.json").read_text())["complete"] is True
    assert failed_tasks(run / "eval" / "metrics.json") == []


def test_failed_tasks_of_old_missing_or_torn_metrics(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    assert failed_tasks(path) == ["metrics.json"]  # no eval yet: redo it
    path.write_text("{not json")
    assert failed_tasks(path) == ["metrics.json"]
    path.write_text(json.dumps({"headline": {}, "errors": {"zeroshot": ["x"], "retrieval": ["y"]}}))
    assert failed_tasks(path) == ["retrieval", "zeroshot"]  # written before `complete` existed
    path.write_text(json.dumps({"headline": {"a": 1}, "errors": {}}))
    assert failed_tasks(path) == []
