"""Grid spec and planning: the experiment YAML, validated, and every (variant, seed) cell it names.

Pure bookkeeping (no training): which config each cell runs with, which dataset it trains on (cells whose
build config is equal share one, keyed by `dataset_key`) and where its run folder lives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from synthmphn.config import RunConfig, load_config, read_yaml, stage_identity
from synthmphn.eval.base import EVAL_TASKS
from synthmphn.train.preflight import check_train_config


class VariantSpec(BaseModel):
    """One variant: overrides applied on top of the base, and whether its dataset is recaptioned."""

    model_config = ConfigDict(extra="forbid")

    overrides: list[str] = Field(default_factory=list)
    recaption: bool = False


class ExperimentSpec(BaseModel):
    """The experiment YAML, validated (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    base: Path | None = None
    output: Path
    overrides: list[str] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0])
    data_seed: int | None = 0
    metrics: list[str] | None = None
    share_runs: bool = True
    variants: dict[str, VariantSpec]

    @field_validator("variants", mode="before")
    @classmethod
    def _lists_are_overrides(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"overrides": v} if isinstance(v, list) or v is None else v for k, v in value.items()}
        return value

    @field_validator("variants")
    @classmethod
    def _not_empty(cls, value: dict[str, VariantSpec]) -> dict[str, VariantSpec]:
        if not value:
            raise ValueError("an experiment needs at least one variant")
        return value


@dataclass(frozen=True)
class PlannedRun:
    """One (variant, seed) cell of the grid and where its dataset comes from."""

    variant: str
    seed: int
    run_dir: Path
    dataset_key: str
    overrides: tuple[str, ...]


def load_experiment(path: Path) -> ExperimentSpec:
    """Reads and validates an experiment YAML; `base` resolves relative to the YAML's folder, `output` to the cwd."""
    try:
        raw = read_yaml(path) or {}  # not text / not YAML: a one-line ValueError naming file and line
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: experiment file not found") from None
    try:
        spec = ExperimentSpec.model_validate(raw)
    except Exception as err:
        raise ValueError(f"{path}: {err}") from None
    folder = Path(path).parent
    base = spec.base if spec.base is None or spec.base.is_absolute() else folder / spec.base
    return spec.model_copy(update={"base": base})


def run_config(spec: ExperimentSpec, variant: str, seed: int, extra: list[str] | None = None) -> RunConfig:
    """The RunConfig of one cell: base YAML + shared overrides + variant overrides + seed."""
    overrides = [*spec.overrides, *spec.variants[variant].overrides, f"seed={seed}", *(extra or [])]
    return load_config(spec.base, overrides)


def check_cells(spec: ExperimentSpec, source: Path) -> None:
    """Validates every (variant, seed) cell before anything is built or trained.

    Each cell's config must load (overrides, field ranges) and pass the checks a training run makes before
    it reads data (`train.preflight.check_train_config`: loss, schedule, model, device; a hard-negative loss
    needs negatives in the dataset the cell builds), and name known eval tasks. The first bad cell is a
    ValueError `SPEC: variant 'NAME' (seed K): what is wrong`.
    """
    for variant in spec.variants:
        for seed in spec.seeds:
            try:
                cfg = run_config(spec, variant, seed)
                check_train_config(cfg, data_from_config=True)
                for task in cfg.eval.tasks:
                    EVAL_TASKS.get(task)
            except (ValueError, KeyError) as err:
                reason = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
                raise ValueError(f"{source}: variant {variant!r} (seed {seed}): {reason}") from None


def dataset_key(cfg: RunConfig, recaption: bool) -> str:
    """A short hash of the config's build identity (plus its recaption identity and scorer checkpoint path
    when the dataset is recaptioned): runs with equal keys share one dataset.

    Fields that do not change the shards (e.g. `images.workers`) are not part of the identity, so variants
    differing only in them share a dataset. The scorer checkpoint is a location the recaption identity skips
    (its resume hashes the file); at plan time the file may not exist yet, so its path stands for the model.
    """
    identity = stage_identity(cfg, "build")
    if recaption:
        identity |= stage_identity(cfg, "recaption")
        scorer = cfg.recaption.scorer_checkpoint
        identity["recaption.scorer_checkpoint"] = None if scorer is None else str(scorer)
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def plan_grid(spec: ExperimentSpec) -> tuple[list[PlannedRun], dict[str, RunConfig]]:
    """Every (variant, seed) run and the build config of each distinct dataset, keyed by dataset hash."""
    runs: list[PlannedRun] = []
    datasets: dict[str, RunConfig] = {}
    for variant, vspec in spec.variants.items():
        for seed in spec.seeds:
            data_seed = seed if spec.data_seed is None else spec.data_seed
            build_cfg = run_config(spec, variant, data_seed)
            key = dataset_key(build_cfg, vspec.recaption) + ("-recap" if vspec.recaption else "")
            datasets.setdefault(key, build_cfg)
            data_dir = dataset_dir(spec, key)
            run_dir = spec.output / variant / f"seed{seed}"
            extra = (f"output.dir={run_dir}", f"train.data={data_dir}")
            runs.append(PlannedRun(variant, seed, run_dir, key, (*extra,)))
    return runs, datasets


def dataset_dir(spec: ExperimentSpec, key: str) -> Path:
    """Where the shared dataset with this key lives."""
    return spec.output / "datasets" / key / "dataset"
