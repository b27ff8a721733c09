"""Training logs: one JSON line of metrics per logged step (`metrics.jsonl`) and the same in TensorBoard,
with throughput (samples/s, s/step, share of time waiting for data) measured by `Throughput`.

Each record holds step, epoch, lr, the curricula of the step (hn_fraction = p(t), the hard-negative share; for a
hardness-weighted loss such as hn-nce also hn_beta = β(t), see `train.hardness`), the loss components,
grad_norm, logit_scale and the throughput.

On resume from step k, lines with step > k are dropped (and TensorBoard events after k are purged), so the
log of a resumed run reads like the log of an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from synthmphn.io import atomic_write_text, with_filename

METRICS_NAME = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


def truncate_metrics(path: Path, step: int) -> None:
    """Rewrites `path` (atomically) keeping only lines with "step" <= `step`; unreadable tail lines go too."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by a crash
        if isinstance(record, dict) and int(record.get("step", math.inf)) <= step:
            kept.append(line + "\n")
    atomic_write_text(path, "".join(kept))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every record of a metrics.jsonl file, in order."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class MetricsLogger:
    """Appends metric records to `<train_dir>/metrics.jsonl` and TensorBoard; silent when not `enabled`.

    `resume_step` > 0 first drops what was logged after that step by a run that stopped later.
    """

    def __init__(
        self, train_dir: Path, resume_step: int = 0, enabled: bool = True, tensorboard: bool = True
    ) -> None:
        self.enabled = enabled
        self.path = train_dir / METRICS_NAME
        self._writer = None
        if not enabled:
            return
        train_dir.mkdir(parents=True, exist_ok=True)
        if resume_step > 0:
            truncate_metrics(self.path, resume_step)
        else:
            self.path.unlink(missing_ok=True)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # slow import, only where logs are written

            self._writer = SummaryWriter(str(train_dir / TENSORBOARD_DIR), purge_step=resume_step + 1)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Writes one record {"step": step, **metrics} (numbers only go to TensorBoard)."""
        if not self.enabled:
            return
        record = {"step": step, **metrics}
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, sort_keys=False) + "\n")
                handle.flush()
        except OSError as err:  # a write to an open file (disk full) names no file: name it
            raise with_filename(err, self.path) from err
        if self._writer is not None:
            for key, value in metrics.items():
                if isinstance(value, int | float):
                    self._writer.add_scalar(f"train/{key}", value, step)
            self._writer.flush()

    def close(self) -> None:
        """Flushes and closes TensorBoard."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class Throughput:
    """Samples/s and the share of time spent waiting for data, between two `read()` calls."""

    def __init__(self, samples_per_step: int) -> None:
        self.samples_per_step = samples_per_step
        self._start = time.perf_counter()
        self._steps = 0
        self._wait = 0.0

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Counts the time spent inside the block as waiting for data."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._wait += time.perf_counter() - start

    def count_step(self) -> None:
        """Records one finished optimiser step."""
        self._steps += 1

    def read(self) -> dict[str, float]:
        """{"samples_per_s", "s_per_step", "data_wait"} since the last read; resets the window."""
        elapsed = max(1e-9, time.perf_counter() - self._start)
        steps = max(1, self._steps)
        result = {
            "samples_per_s": self._steps * self.samples_per_step / elapsed,
            "s_per_step": elapsed / steps,
            "data_wait": self._wait / elapsed,
        }
        self._start, self._steps, self._wait = time.perf_counter(), 0, 0.0
        return result
