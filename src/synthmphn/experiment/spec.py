"""Grid spec and planning: the experiment YAML, validated, and every (variant, seed) cell it names.

Pure bookkeeping (no training): which config each cell runs with, which dataset it trains on (cells whose
build config is equal share one, keyed by `dataset_key`) and where its run folder lives.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthmphn.config import RunConfig, load_config, read_yaml, stage_identity
from synthmphn.eval.base import EVAL_TASKS
from synthmphn.train.budget import images_per_step
from synthmphn.train.preflight import check_train_config


class VariantSpec(BaseModel):
    """One variant: overrides applied on top of the base, and whether its dataset is recaptioned or gated
    (`synthmphn gate` with the cell's `gate.*` settings, run on the built dataset before training)."""

    model_config = ConfigDict(extra="forbid")

    overrides: list[str] = Field(default_factory=list)
    recaption: bool = False
    gate: bool = False

    @model_validator(mode="after")
    def _one_transform(self) -> VariantSpec:
        if self.recaption and self.gate:
            raise ValueError("a variant is either recaptioned or gated, not both")
        return self


class ClaimSpec(BaseModel):
    """One claim of the grid: variant `better` beats variant `worse` on `metric` (default the multi-task
    aggregate); the report calls it from the paired per-seed differences (`synthmphn.stats`)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    better: str
    worse: str
    metric: str = "aggregate"


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
    images_per_step: float | None = None  # the equal image budget every cell must have (None: unchecked)
    claims: list[ClaimSpec] = Field(default_factory=list)
    interval: Literal["t", "bootstrap"] = "t"
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
    check_claims(spec, path)
    folder = Path(path).parent
    base = spec.base if spec.base is None or spec.base.is_absolute() else folder / spec.base
    return spec.model_copy(update={"base": base})


def select_variants(spec: ExperimentSpec, names: list[str] | None, source: Path) -> ExperimentSpec:
    """The grid cut to the variants `names` (all when None), with only the claims between them kept.

    Why: a researcher short of time runs the cells a claim needs first (`--variants raw,recaptioned`)
    and the rest later; cells are resumed by run folder, so the later full run reuses them.
    """
    if names is None:
        return spec
    known = ", ".join(spec.variants)
    for name in names:
        if name not in spec.variants:
            raise ValueError(f"{source}: --variants: {name!r} is not a variant; known: {known}")
    variants = {k: v for k, v in spec.variants.items() if k in names}
    claims = [c for c in spec.claims if c.better in variants and c.worse in variants]
    return spec.model_copy(update={"variants": variants, "claims": claims})


def check_claims(spec: ExperimentSpec, source: Path) -> None:
    """Every claim names two different variants of the grid; else a one-line ValueError naming the field."""
    known = ", ".join(spec.variants)
    for i, claim in enumerate(spec.claims):
        for side in ("better", "worse"):
            name = getattr(claim, side)
            if name not in spec.variants:
                raise ValueError(f"{source}: claims[{i}].{side}: {name!r} is not a variant; known: {known}")
        if claim.better == claim.worse:
            raise ValueError(f"{source}: claims[{i}]: better and worse are both {claim.better!r}")


def run_config(spec: ExperimentSpec, variant: str, seed: int, extra: list[str] | None = None) -> RunConfig:
    """The RunConfig of one cell: base YAML + shared overrides + variant overrides + seed."""
    overrides = [*spec.overrides, *spec.variants[variant].overrides, f"seed={seed}", *(extra or [])]
    return load_config(spec.base, overrides)


def check_cells(spec: ExperimentSpec, source: Path) -> None:
    """Validates every (variant, seed) cell before anything is built or trained.

    Each cell's config must load (overrides, field ranges) and pass the checks a training run makes before
    it reads data (`train.preflight.check_train_config`: loss, schedule, model, device; a hard-negative loss
    needs negatives in the dataset the cell builds), name known eval tasks and take the grid's
    `images_per_step` when the YAML states one. The first bad cell is a
    ValueError `SPEC: variant 'NAME' (seed K): what is wrong`.
    """
    for variant in spec.variants:
        for seed in spec.seeds:
            try:
                cfg = run_config(spec, variant, seed)
                check_train_config(cfg, data_from_config=True)
                for task in cfg.eval.tasks:
                    EVAL_TASKS.get(task)
                check_budget(spec, cfg)
            except (ValueError, KeyError) as err:
                reason = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
                raise ValueError(f"{source}: variant {variant!r} (seed {seed}): {reason}") from None


def check_budget(spec: ExperimentSpec, cfg: RunConfig) -> None:
    """A cell must take the `images_per_step` the YAML states (`train.budget.images_per_step`)."""
    if spec.images_per_step is None:
        return
    found = images_per_step(cfg.train)
    if abs(found - spec.images_per_step) > 1e-9:
        raise ValueError(
            f"images_per_step: the grid states {spec.images_per_step:g}, this cell takes {found:g} "
            "(train.batch_size × train.images_per_caption × accum_steps, less ignored HN images)"
        )


GATE_SUFFIX = "-gate"
RECAP_SUFFIX = "-recap"


def dataset_key(cfg: RunConfig, recaption: bool, gate: bool = False) -> str:
    """A short hash of the config's build identity (plus its recaption identity and scorer checkpoint path
    when the dataset is recaptioned, its gate identity when gated): runs with equal keys share one dataset.

    Fields that do not change the shards (e.g. `images.workers`) are not part of the identity, so variants
    differing only in them share a dataset. The scorer checkpoint is a location the recaption identity skips
    (its resume hashes the file); at plan time the file may not exist yet, so its path stands for the model.
    """
    identity = stage_identity(cfg, "build")
    if recaption:
        identity |= stage_identity(cfg, "recaption")
        scorer = cfg.recaption.scorer_checkpoint
        identity["recaption.scorer_checkpoint"] = None if scorer is None else str(scorer)
    if gate:
        identity |= stage_identity(cfg, "gate")
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def source_key(cfg: RunConfig) -> str:
    """The dataset key of the raw build a dataset is made from: its plain build key, so a gated or
    recaptioned variant reads the very shards the raw variant with the same build trains on.

    (Keyed by the recaption settings, as it once was, each recaptioned variant built its own copy: equal
    bytes only while the renderer code stays the same, and a grid resumed after a renderer change mixed two
    image sets.)"""
    return dataset_key(cfg, False)


def plan_grid(spec: ExperimentSpec) -> tuple[list[PlannedRun], dict[str, RunConfig]]:
    """Every (variant, seed) run and the build config of each distinct dataset, keyed by dataset hash."""
    runs: list[PlannedRun] = []
    datasets: dict[str, RunConfig] = {}
    for variant, vspec in spec.variants.items():
        for seed in spec.seeds:
            data_seed = seed if spec.data_seed is None else spec.data_seed
            build_cfg = run_config(spec, variant, data_seed)
            key = dataset_key(build_cfg, vspec.recaption, vspec.gate)
            key += RECAP_SUFFIX if vspec.recaption else GATE_SUFFIX if vspec.gate else ""
            datasets.setdefault(key, build_cfg)
            data_dir = dataset_dir(spec, key)
            run_dir = spec.output / variant / f"seed{seed}"
            extra = (f"output.dir={run_dir}", f"train.data={data_dir}")
            runs.append(PlannedRun(variant, seed, run_dir, key, (*extra,)))
    return runs, datasets


def dataset_dir(spec: ExperimentSpec, key: str) -> Path:
    """Where the shared dataset with this key lives."""
    return spec.output / "datasets" / key / "dataset"


def init_identity(cfg: RunConfig) -> str:
    """What decides a cell's initial weights: the run seed (`torch.manual_seed(seed)` right before the
    model is built) and the model (`train.model`)."""
    return json.dumps({"seed": cfg.seed, "model": cfg.train.model.model_dump(mode="json")}, sort_keys=True)


def batch_identity(cfg: RunConfig, key: str) -> str:
    """What decides a cell's batch order (the groups of every step, `data.sampler`): the run seed, the
    dataset (its key) and the sampler's settings (batch size, accumulation, p(t), run length)."""
    tc = cfg.train
    fields = {
        "seed": cfg.seed,
        "dataset": key,
        "batch_size": tc.batch_size,
        "accum_steps": tc.accum_steps,
        "hn_schedule": tc.hn_schedule.model_dump(mode="json"),
        "steps": tc.steps,
        "epochs": tc.epochs,
    }
    return json.dumps(fields, sort_keys=True)


def paired_groups(spec: ExperimentSpec, runs: list[PlannedRun]) -> dict[str, list[list[str]]]:
    """Variants that share initial weights ("init") and batch order ("batches") at the same seed.

    Every cell of seed s trains with run seed s, so the pairing is by construction; these groups say where
    the variants' own overrides (another model, batch size or dataset) make the pair differ anyway.
    """
    groups: dict[str, dict[str, list[str]]] = {"init": {}, "batches": {}}
    first_seed = spec.seeds[0]
    for r in runs:
        if r.seed != first_seed:
            continue
        cfg = run_config(spec, r.variant, r.seed, list(r.overrides))
        groups["init"].setdefault(init_identity(cfg), []).append(r.variant)
        groups["batches"].setdefault(batch_identity(cfg, r.dataset_key), []).append(r.variant)
    return {kind: list(found.values()) for kind, found in groups.items()}


def paired_design_line(spec: ExperimentSpec, runs: list[PlannedRun]) -> str:
    """One sentence for the results header: how the seeds pair the variants."""
    parts = [f"paired by seed: every cell of seed s trains with run seed s (data seed {_data_seed(spec)})"]
    for kind, label in (("init", "same initial weights"), ("batches", "same batch order")):
        found = paired_groups(spec, runs)[kind]
        if len(found) == 1:
            parts.append(f"{label}: every variant")
        else:
            parts.append(f"{label}: " + " | ".join("{" + ", ".join(g) + "}" for g in found))
    return "; ".join(parts)


def _data_seed(spec: ExperimentSpec) -> str:
    return "= run seed" if spec.data_seed is None else str(spec.data_seed)
