"""The hardness curriculum: set a hardness-weighted loss's β to β(t) before each optimiser step.

A loss is hardness-weighted when it has a settable float attribute `beta` (today `hn-nce`, `hn-nce-thesis`).
With `train.hn_beta` set, step k (0-based) of a run of T steps uses β(k / T) from `data.schedules.hn_beta_at`,
the same progress at which its batch drew its hard-negative share p; without it the loss keeps its fixed β
(`train.loss_options.beta` or the loss's default). Either way the β of each step is logged as `hn_beta`.
"""

from __future__ import annotations

from synthmphn.config import TrainConfig
from synthmphn.data.schedules import hn_beta_at
from synthmphn.losses.base import ContrastiveLoss


class HardnessCurriculum:
    """Drives `loss_fn.beta` from `tc.hn_beta`; `at(progress)` sets it and returns the record to log."""

    def __init__(self, loss_fn: ContrastiveLoss, tc: TrainConfig) -> None:
        """Raises ValueError when train.hn_beta cannot apply to `tc.loss` (no β, or β also fixed in options)."""
        self.loss_fn = loss_fn
        self.schedule = tc.hn_beta
        self.weighted = hasattr(loss_fn, "beta")
        if self.schedule is None:
            return
        if not self.weighted:
            raise ValueError(
                f"train.hn_beta schedules the hardness β of a hardness-weighted loss (hn-nce, hn-nce-thesis), "
                f"but train.loss={tc.loss!r} has no β; remove train.hn_beta or use loss hn-nce"
            )
        if "beta" in tc.loss_options:
            raise ValueError(
                "train.loss_options.beta fixes β while train.hn_beta schedules it; set only one of them"
            )
        hn_beta_at(self.schedule, 0.0)  # an unknown schedule name fails here, listing the known ones

    def at(self, progress: float) -> dict[str, float]:
        """Sets β(progress) on the loss (when scheduled); {"hn_beta": β} for a hardness-weighted loss, else {}."""
        if not self.weighted:
            return {}
        if self.schedule is not None:
            self.loss_fn.beta = hn_beta_at(self.schedule, progress)
        return {"hn_beta": float(self.loss_fn.beta)}
