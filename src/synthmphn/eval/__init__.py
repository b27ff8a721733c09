"""Eval stage: one file per task, each registered by name in `EVAL_TASKS` and runnable alone.

Importing this package registers every task: zeroshot, retrieval, compositional (+ SugarCrepe files),
linear_probe, diagnostics, generators. `synthmphn.eval.runner.run_eval` runs the configured ones.
"""

from synthmphn.eval import compositional, diagnostics, generators, linear_probe, retrieval, zeroshot
from synthmphn.eval.base import EVAL_TASKS, Encoder, TaskResult

__all__ = [
    "EVAL_TASKS",
    "Encoder",
    "TaskResult",
    "compositional",
    "diagnostics",
    "generators",
    "linear_probe",
    "retrieval",
    "zeroshot",
]
