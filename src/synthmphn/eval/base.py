"""The eval-task protocol and registry: each task is one file, runnable alone, returning metrics and plots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from synthmphn.config import EvalConfig
from synthmphn.registry import Registry


@dataclass
class TaskResult:
    """Flat metrics (name -> number) plus plot files written into the eval folder."""

    metrics: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class EvalTask(Protocol):
    def __call__(self, encoder: Any, dataset_dir: Path | None, out_dir: Path, config: EvalConfig) -> TaskResult: ...


EVAL_TASKS: Registry[EvalTask] = Registry("eval task")
