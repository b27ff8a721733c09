"""Items 6 and 7: a run folder is locked while it trains, and a killed run's temp files go on the next start."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from tiny_run import tiny_config

from synthmphn.train.checkpoints import last_checkpoint
from synthmphn.train.logging import read_metrics
from synthmphn.train.loop import run_training
from synthmphn.train.preflight import train_lock


def test_a_second_train_of_the_same_run_waits_for_the_first(
    pristine_dataset: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    cfg = tiny_config(tmp_path / "run", pristine_dataset)
    train_dir = cfg.train_dir
    done: list[Path] = []
    with train_lock(train_dir):  # stands for another `train` of the same folder, still running
        second = threading.Thread(target=lambda: done.append(run_training(cfg)))
        second.start()
        waited, err = time.monotonic() + 60.0, ""
        while "waiting for another train" not in err and time.monotonic() < waited:
            time.sleep(0.2)  # the second run reaches the lock after its data checks: poll, not a fixed sleep
            err += capfd.readouterr().err
        assert f"waiting for another train of {train_dir} to finish" in err
        time.sleep(0.5)
        assert second.is_alive() and not done
        assert not (train_dir / "metrics.jsonl").exists()  # it wrote nothing while it waited
    second.join(timeout=120)
    assert done == [train_dir]
    assert [r["step"] for r in read_metrics(train_dir / "metrics.jsonl")] == [1, 2, 3, 4]


def test_stale_checkpoint_temp_files_are_removed_on_start(finished_run: Path, pristine_dataset: Path) -> None:
    folder = finished_run / "train" / "checkpoints"
    torn = [folder / ".step_0000006.pt.k2j3h4.tmp", folder / ".last.pt.abc123.tmp"]
    for path in torn:
        path.write_bytes(b"\0" * 4096)  # what kill -9 during torch.save leaves
    (finished_run / "train" / ".metrics.jsonl.x1y2.tmp").write_text("{}")
    before = last_checkpoint(finished_run / "train").read_bytes()
    run_training(tiny_config(finished_run, pristine_dataset), resume=True)  # finished: returns at once
    assert not any(p.exists() for p in torn)
    assert not list((finished_run / "train").glob(".*.tmp"))
    assert sorted(p.name for p in folder.iterdir()) == ["last.pt", "step_0000002.pt", "step_0000004.pt"]
    assert last_checkpoint(finished_run / "train").read_bytes() == before
