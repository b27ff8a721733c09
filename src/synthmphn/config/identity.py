"""Which config decides a stage's output: one identity per stage, one diff of two identities.

The fields that may differ without changing an output are marked on the fields themselves (EXECUTION,
LOCATION, RESUMABLE in `sections.py`); build / train / recaption resume, dataset keys and run fingerprints
all compare `stage_identity`s, so none of them keeps its own list.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from synthmphn.config.sections import RunConfig


def flatten_config(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b.c": leaf} for every leaf of a nested dict (lists are leaves): compares configs field by field."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten_config(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "build": ("seed", "captions", "images", "shards", "splits"),  # the dataset's bytes
    "train": ("seed", "train"),  # what a checkpoint records and a train resume compares
    "recaption": ("seed", "recaption"),  # with the source shards' and scorer's sha256: the recaptioned bytes
    "gate": ("seed", "gate"),  # with the source shards' sha256 and the reference: the gated bytes
    "run": tuple(RunConfig.model_fields),  # the whole run (a grid cell); length fields included
}
_SKIPPED = {"execution", "location", "resumable"}  # by the resume stages; "run" keeps RESUMABLE fields


def output_neutral_fields(model: type[BaseModel] = RunConfig, prefix: str = "") -> dict[str, str]:
    """Dotted field -> "execution" / "location" / "resumable" for every field marked so, in every section."""
    found: dict[str, str] = {}
    for name, info in model.model_fields.items():
        dotted = f"{prefix}.{name}" if prefix else name
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "output_neutral" in extra:
            found[dotted] = str(extra["output_neutral"])
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            found.update(output_neutral_fields(info.annotation, dotted))
    return found


def late_default_fields(model: type[BaseModel] = RunConfig, prefix: str = "") -> dict[str, Any]:
    """Dotted field -> default for every field marked LATE_DEFAULT (left out of identities at its default)."""
    found: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        dotted = f"{prefix}.{name}" if prefix else name
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "identity_at_default" in extra:
            found[dotted] = info.default
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            found.update(late_default_fields(info.annotation, dotted))
    return found


def identity_of(tree: dict[str, Any], stage: str) -> dict[str, Any]:
    """`stage_identity` of a dumped config (or the part of one a checkpoint / job file recorded)."""
    if stage not in STAGE_SECTIONS:
        raise ValueError(f"unknown stage {stage!r}; known: {', '.join(STAGE_SECTIONS)}")
    skipped = {"execution", "location"} if stage == "run" else _SKIPPED
    neutral = {f for f, why in output_neutral_fields().items() if why in skipped}
    late = late_default_fields()
    flat = flatten_config({k: tree[k] for k in STAGE_SECTIONS[stage] if k in tree})
    return {k: v for k, v in sorted(flat.items()) if k not in neutral and not (k in late and v == late[k])}


def stage_identity(cfg: RunConfig, stage: str) -> dict[str, Any]:
    """The flattened config that decides `stage`'s output ("build", "train", "recaption" or "run").

    Equal identities mean equal outputs: a resume may proceed, two grid cells may share a dataset or a run.
    Fields marked EXECUTION or LOCATION are left out everywhere, RESUMABLE ones everywhere but "run",
    LATE_DEFAULT ones wherever they hold their default (so configs recorded before the key existed match).
    """
    return identity_of(cfg.model_dump(mode="json"), stage)


def identity_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Lines `field: was X, now Y` for every leaf that differs (nested or dotted dicts; `(unset)` if absent)."""
    before, after = flatten_config(old), flatten_config(new)
    missing = object()

    def shown(flat: dict[str, Any], name: str) -> str:
        return repr(flat[name]) if name in flat else "(unset)"

    return [
        f"{name}: was {shown(before, name)}, now {shown(after, name)}"
        for name in sorted(set(before) | set(after))
        if before.get(name, missing) != after.get(name, missing)
    ]
