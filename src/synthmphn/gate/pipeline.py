"""`synthmphn gate DATASET OUT`: a copy of a dataset without (or with fewer) failed generations.

1. Check up front: DATASET has a manifest whose shards match their sha256; OUT is another folder and is
   new, empty, or a gate job with the same settings on the same source (then it resumes); anything else is
   refused untouched unless `overwrite` (then OUT is emptied first).
2. Load the reference (`gate.model`) and, for `rerender`, the dataset's generators (from its config.yaml).
3. Per train shard (`shards.gate_shard`): score, decide, act, write decisions, shard, manifest (atomic, in
   that order, so a rerun skips finished shards and redoes the rest to the same bytes). Heldout shards are
   copied byte for byte, so gated and ungated datasets share their eval sets.
4. `gate_summary.json` (`summary`): what was dropped / re-rendered per generator and per recorded failure
   kind, and the gate's precision / recall against the recorded failures; `gate_quality.png` plots them.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from synthmphn.analyse.embedded import EmbeddedReference
from synthmphn.config import RunConfig, config_to_dict, identity_differences, stage_identity
from synthmphn.data.manifest import MANIFEST_NAME, Manifest
from synthmphn.data.shards import file_sha256, index_shard
from synthmphn.eval.reference import EMBEDDED, Reference
from synthmphn.gate.attributes import attribute_judge
from synthmphn.gate.scoring import GateScorer, candidate_classes, load_gate_reference
from synthmphn.gate.shards import RenderContext, gate_shard
from synthmphn.gate.summary import build_summary, plot_quality
from synthmphn.images import create_pool
from synthmphn.io import atomic_open, atomic_write_json, folder_lock, read_json, remove_stale_temp_files
from synthmphn.progress import progress
from synthmphn.provenance import write_run_info
from synthmphn.recaption.shards import copy_shard

SUMMARY_NAME = "gate_summary.json"
PLOT_NAME = "gate_quality.png"
STATE_DIR = "gate"  # inside OUT: job.json, decisions/
METADATA_FILES = (
    "classes.json",
    "build_summary.json",
    "build_config.json",
)  # copied from DATASET as they are
LOCK_NAME = ".gate.lock"
# `synthmphn gate` has --overwrite; a gated build (`images.gate`) does not, so both are named
REPLACE_HINT = "replace it with `synthmphn gate --overwrite` (or remove it), or choose another output folder"


def run_gate(
    src: Path,
    dst: Path,
    cfg: RunConfig,
    overwrite: bool = False,
    reference: Reference | None = None,
    judges: Mapping[str, Reference] | None = None,
) -> Path:
    """Gates the train split of dataset `src` into dataset `dst` (resumable); returns `dst`.

    `reference` (tests, notebooks) replaces the model named by `gate.model`, `judges` the attribute judges
    of `gate.attributes` (`gate.attributes.attribute_judge`).
    """
    started = time.time()
    src, dst = Path(src), Path(dst)
    check_attributes(cfg, reference)
    source = load_source(src, dst)
    cfg = with_source_build(cfg, src)
    reference_id = "injected" if reference is not None else reference_identity(cfg.gate.model)
    job = job_record(cfg, source, reference_id)
    prepare_output(dst, job, overwrite)
    with folder_lock(dst, LOCK_NAME, "gate"):
        remove_stale_temp_files(dst, ".*.tmp")
        if reference is None:
            reference = load_gate_reference(cfg.gate.model, cfg.gate.device, cfg.gate.batch_size)
        scorer = GateScorer(
            reference, candidate_classes(reference, dataset_classes(src)), load_judges(cfg, reference, judges)
        )
        ctx = render_context(src) if cfg.gate.action == "rerender" else None
        write_run_info(dst, config_to_dict(cfg), cfg.seed, "gate")
        copy_metadata(src, dst)
        per_shard = gate_dataset(source, dst, scorer, cfg, ctx)
        summary = build_summary(cfg, src, per_shard, Manifest.load(dst), reference.name)
        summary["seconds"] = round(time.time() - started, 3)
        plot_quality(summary, dst / PLOT_NAME)
        atomic_write_json(dst / SUMMARY_NAME, summary)
    return dst


def check_gate_output(dst: Path) -> None:
    """ValueError unless `dst` is new, empty or a gate job's output: what `images.gate` checks before it
    builds the raw dataset, so a dataset folder holding someone's build is refused before any work."""
    if not dst.is_dir() or (dst / STATE_DIR / "job.json").is_file():
        return
    if any(p.name != LOCK_NAME for p in dst.iterdir()):
        raise ValueError(
            f"{dst}: holds files not written by the gate, and images.gate writes the gated dataset here; "
            "choose another train.data / output.dir, or build without images.gate"
        )


def check_attributes(cfg: RunConfig, reference: Reference | None) -> None:
    """ValueError (before anything is written) when `gate.attributes` is set for an open_clip reference,
    which scores whole captions and has no attribute judges."""
    embedded = (
        isinstance(reference, EmbeddedReference) if reference is not None else cfg.gate.model == EMBEDDED
    )
    if cfg.gate.attributes and not embedded:
        raise ValueError(
            f"gate.attributes {cfg.gate.attributes}: attribute judges go with the embedded reference; gate.model "
            f"{cfg.gate.model!r} scores whole captions already (set gate.attributes=[])"
        )


def load_judges(
    cfg: RunConfig, reference: Reference, judges: Mapping[str, Reference] | None
) -> dict[str, Reference]:
    """The attribute judges of `gate.attributes` (given ones first)."""
    if not cfg.gate.attributes:
        return {}
    given = dict(judges or {})
    return {a: given[a] if a in given else attribute_judge(a) for a in cfg.gate.attributes}


def gate_dataset(
    source: Manifest, dst: Path, scorer: GateScorer, cfg: RunConfig, ctx: RenderContext | None
) -> dict[str, list[dict[str, Any]]]:
    """Gates every train shard and copies the others; returns each train shard's decision rows."""
    output = Manifest.load(dst, missing_ok=True)
    bar = progress(total=sum(e.n_groups for e in source.entries("train")), desc="gate", unit="group")
    per_shard: dict[str, list[dict[str, Any]]] = {}
    for entry in source.entries():
        if entry.split == "train":
            per_shard[entry.path] = gate_shard(
                source, entry, output, scorer, cfg.gate, ctx, dst / STATE_DIR / "decisions"
            )
            bar.update(entry.n_groups)
        else:
            copy_shard(source, entry, output)
    bar.close()
    return per_shard


# ----------------------------------------------------------------------------- checks and setup


def load_source(src: Path, dst: Path) -> Manifest:
    """The source manifest, after checking every listed shard matches its sha256 and `dst` is elsewhere."""
    if dst.resolve() == src.resolve() or src.resolve() in dst.resolve().parents:
        raise ValueError(f"{dst}: gate needs an output folder outside its input {src}")
    if dst.exists() and not dst.is_dir():
        raise ValueError(f"{dst}: gate OUT is an existing file; give a folder (new, empty, or one gate made)")
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: dataset folder not found (build one with `synthmphn build`)")
    source = Manifest.load(src)  # FileNotFoundError naming <src>/manifest.jsonl
    if not source.entries("train"):
        raise ValueError(f"{source.path}: lists no train shard; nothing to gate")
    source.verify()  # ManifestError (a ValueError) naming every missing or altered shard
    return source


def reference_identity(model: str) -> str:
    """What identifies the reference in the job record: a checkpoint file's sha256, else the model name."""
    path = Path(model)
    return f"sha256:{file_sha256(path)}" if model != EMBEDDED and path.is_file() else model


def job_record(cfg: RunConfig, source: Manifest, reference_id: str) -> dict[str, Any]:
    """What decides the output bytes: the gate identity, the source shards' sha256 and the reference."""
    sources = {e.path: e.sha256 for e in source.entries()}
    return {**stage_identity(cfg, "gate"), "sources": sources, "reference": reference_id}


def prepare_output(dst: Path, job: dict[str, Any], overwrite: bool) -> None:
    """Makes `dst` ready: new or empty -> records the job; the same job -> resume; else refuse untouched
    (a one-line ValueError) unless `overwrite`, which empties it first."""
    path = dst / STATE_DIR / "job.json"
    if path.is_file() and not overwrite:
        changed = identity_differences(read_json(path), job)
        if not changed:
            return
        raise ValueError(
            f"{dst}: was gated with other settings or another source (changed: {', '.join(changed[:4])}"
            f"{', ...' if len(changed) > 4 else ''}); {REPLACE_HINT}"
        )
    if dst.is_dir() and any(p.name != LOCK_NAME for p in dst.iterdir()):
        if not overwrite:
            what = "a dataset" if (dst / MANIFEST_NAME).exists() else "files"
            raise ValueError(
                f"{dst}: is not empty (holds {what} not written by this gate job); pass --overwrite to replace "
                "it or choose another OUT"
            )
        shutil.rmtree(dst)
    dst.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, job)


def dataset_classes(src: Path) -> list[str]:
    """The dataset's class names (classes.json), for an open_clip reference's zero-shot classifier."""
    path = src / "classes.json"
    if not path.is_file():
        return []
    return [row["name"] for row in read_json(path)]


BUILD_SECTIONS = ("captions", "images", "shards", "splits")


def source_config(src: Path) -> RunConfig | None:
    """The config the dataset was built with (its config.yaml), or None when it has none."""
    path = src / "config.yaml"
    if not path.is_file():
        return None
    try:
        return RunConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValueError as err:
        raise ValueError(f"{path}: not a readable run config ({str(err).splitlines()[0]})") from None


def with_source_build(cfg: RunConfig, src: Path) -> RunConfig:
    """`cfg` with the build sections of the dataset's own config, so OUT's config.yaml describes its images."""
    built = source_config(src)
    if built is None:
        return cfg
    return cfg.model_copy(update={name: getattr(built, name) for name in BUILD_SECTIONS})


def render_context(src: Path) -> RenderContext:
    """The dataset's images section (from its config.yaml) and its train generators, for `rerender`."""
    cfg = source_config(src)
    if cfg is None:
        raise FileNotFoundError(
            f"{src / 'config.yaml'}: not found; gate.action=rerender draws with the dataset's generators, "
            "whose settings its config.yaml (written by `synthmphn build`) holds"
        )
    source = Manifest.load(src)
    names = sorted(
        {
            r.generator
            for e in source.entries("train")
            for s in index_shard(source.shard_path(e))
            for r in [*s.group.images, *(r for n in s.group.negatives for r in n.images)]
        }
    )
    return RenderContext(cfg.images, create_pool(names, cfg.images.size, cfg.images))


def copy_metadata(src: Path, dst: Path) -> None:
    """Copies the source's classes.json / build_summary.json / build_config.json (eval reads classes.json)."""
    for name in METADATA_FILES:
        if (src / name).is_file():
            with atomic_open(dst / name) as handle:
                handle.write((src / name).read_bytes())
