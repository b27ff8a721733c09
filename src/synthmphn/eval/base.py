"""The eval-task protocol and registry: each task is one file, runnable alone, returning metrics and plots.

A task is a callable `(encoder, dataset_dir, out_dir, EvalConfig) -> TaskResult`. It may only use the
encoder protocol below (`encode_images`, `encode_texts`), so tests can pass a fake encoder whose
embeddings are set by hand.

A task that reads several sources (real digits, held-out splits, user datasets, SugarCrepe files)
evaluates each inside `recording_errors(result, part)`: a broken source is recorded in
`result.errors` and the other sources still run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image

from synthmphn.config import EvalConfig
from synthmphn.data.store import SplitNotInDataset
from synthmphn.registry import Registry

EVAL_SEED = 0
"""Every random choice in eval (probe splits, subsampling, t-SNE) uses this fixed seed, so runs trained
with different seeds are compared on exactly the same splits."""


class Encoder(Protocol):
    """What eval needs from a model: L2-normalised embeddings of images and texts (no grad, batched)."""

    def encode_images(self, images: list[Image.Image]) -> torch.Tensor: ...

    def encode_texts(self, texts: list[str]) -> torch.Tensor: ...


@dataclass
class TaskResult:
    """Flat metrics (name -> number) plus plot files written into the eval folder.

    `tables` hold row dicts (per-class accuracy, per-generator trade-off...); `errors` hold one message per
    source of the task that failed while the rest of the task still ran.
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class EvalTask(Protocol):
    def __call__(
        self, encoder: Any, dataset_dir: Path | None, out_dir: Path, config: EvalConfig
    ) -> TaskResult: ...


EVAL_TASKS: Registry[EvalTask] = Registry("eval task")


@contextmanager
def recording_errors(result: TaskResult, part: str) -> Iterator[None]:
    """Runs a block; an exception becomes `"<part>: <message>"` in `result.errors` instead of propagating.

    A split the dataset was built without (e.g. `splits.heldout_style_groups: 0`, or a user's two-split set)
    goes to `result.skipped`: the eval is still complete. A listed shard that is missing or corrupt is an error.
    """
    try:
        yield
    except SplitNotInDataset as err:
        result.skipped.append(f"{part}: {err}")
    except Exception as err:  # noqa: BLE001 - one bad source must not stop the others
        result.errors.append(f"{part}: {err}")


def prefixed(prefix: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """`{"acc1": x}` -> `{"<prefix>/acc1": x}`."""
    return {f"{prefix}/{name}": value for name, value in metrics.items()}


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
