"""`synthmphn recaption IN OUT`: rewrite the train captions of a dataset with a captioner + CLIP filter.

Steps (SPEC §5, the image version of the paper's recaptioning); this file is the job that assembles them
and owns OUT's layout, `clean_subset.py` does steps 2-3, `shards.py` steps 4-5, `summary.py` step 6:

1. Check up front: IN has a manifest whose shards match their sha256, OUT is another folder and (when it
   exists) was made by recaption with the same settings, the scorer checkpoint exists.
2. Clean subset S_h = `select_clean_groups`: the first `recaption.clean_groups` train groups by id (the
   build's ids are in draw order and its first `captions.clean_groups` groups are never misaligned). S_h keeps its captions; every other train group is a
   candidate for recaptioning.
3. Fit the captioner on S_h's base images and captions (one pair per image), or load the weights a previous
   run saved in `OUT/recaption/captioner/`, so a resumed run writes identical shards without refitting.
4. Per train shard: caption every base image of each candidate group and take the group's caption by
   majority vote over its images (`consensus_caption`); score old and new captions with the CLIP scorer
   against the group's mean image feature and apply the rule of `filter.py`. Write the shard with
   `write_shard`: only `Group.caption` (hence the json and `txt` members) changes; images are copied byte
   for byte and negatives are left as they are. Heldout shards are copied unchanged.
5. After each shard: its decisions (`OUT/recaption/decisions/<shard>.json`), the shard, then the manifest,
   each written atomically. A rerun skips shards whose manifest entry matches the file and whose decisions
   exist; captioning and scoring run per shard in fixed batches, so a redone shard has the same bytes.
6. `recaption_summary.json`: how many captions were replaced (overall and per shard), mean scores, the
   captioner's fit and its accuracy on heldout images, and, when groups carry the `misaligned` ground
   truth, the filter's precision / recall at catching misaligned captions. Provenance as every stage.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from synthmphn.config import RunConfig, config_to_dict, identity_differences, stage_identity
from synthmphn.data.manifest import Manifest
from synthmphn.data.shards import file_sha256, index_shard
from synthmphn.io import atomic_open, atomic_write_json, read_json
from synthmphn.models.checkpoint import model_from_checkpoint
from synthmphn.models.encoder import ClipEncoder
from synthmphn.progress import progress
from synthmphn.provenance import write_run_info
from synthmphn.recaption.base import torch_threads
from synthmphn.recaption.clean_subset import prepare_captioner, select_clean_groups
from synthmphn.recaption.filter import Scorer
from synthmphn.recaption.shards import copy_shard, recaption_shard
from synthmphn.recaption.summary import build_summary

SUMMARY_NAME = "recaption_summary.json"
STATE_DIR = "recaption"  # inside OUT: job.json, captioner/, decisions/
METADATA_FILES = ("classes.json", "build_summary.json")  # copied from IN as they are


def run_recaption(src: Path, dst: Path, cfg: RunConfig, scorer: Scorer | None = None) -> Path:
    """Recaptions the train split of dataset `src` into dataset `dst` (resumable); returns `dst`.

    `scorer` (tests, notebooks) replaces the CLIP checkpoint named by `recaption.scorer_checkpoint`.
    """
    started = time.time()
    src, dst = Path(src), Path(dst)
    source = load_source(src, dst)
    scorer_id = "injected" if scorer is not None else None
    if scorer is None:
        scorer, scorer_id = load_scorer(cfg)
        # the resolved scorer path (a location, not in the job record): `blip` builds on the same model
        cfg = cfg.model_copy(
            update={"recaption": cfg.recaption.model_copy(update={"scorer_checkpoint": scorer_path(cfg)})}
        )
    check_job(dst, job_record(cfg, source, scorer_id))
    write_run_info(dst, config_to_dict(cfg), cfg.seed, "recaption")
    copy_metadata(src, dst)
    with torch_threads(cfg.recaption.threads):
        summary = recaption_dataset(src, dst, source, scorer, cfg)
    summary["seconds"] = round(time.time() - started, 3)
    atomic_write_json(dst / SUMMARY_NAME, summary)
    return dst


def recaption_dataset(
    src: Path, dst: Path, source: Manifest, scorer: Scorer, cfg: RunConfig
) -> dict[str, Any]:
    """Fits (or loads) the captioner, then recaptions / copies every shard; returns the summary."""
    train = {
        entry.path: [s.group for s in index_shard(source.shard_path(entry))]
        for entry in source.entries("train")
    }
    clean_ids, selection = select_clean_groups(
        [g for groups in train.values() for g in groups], cfg.recaption.clean_groups
    )
    captioner = prepare_captioner(cfg, source, train, clean_ids, dst / STATE_DIR / "captioner")

    output = Manifest.load(dst, missing_ok=True)
    bar = progress(total=sum(len(g) for g in train.values()), desc="recaption", unit="group")
    per_shard: dict[str, list[dict[str, Any]]] = {}
    for entry in source.entries():
        if entry.split == "train":
            per_shard[entry.path] = recaption_shard(
                source, entry, output, captioner, scorer, clean_ids, cfg, dst / STATE_DIR / "decisions"
            )
            bar.update(entry.n_groups)
        else:
            copy_shard(source, entry, output)
    bar.close()
    return build_summary(cfg, src, selection, per_shard, dst / STATE_DIR, captioner, source)


# ----------------------------------------------------------------------------- checks and setup


def load_source(src: Path, dst: Path) -> Manifest:
    """The source manifest, after checking that every listed shard matches its sha256 and dst is elsewhere."""
    if dst.resolve() == src.resolve():
        raise ValueError(f"{dst}: recaption needs an output folder other than its input {src}")
    if dst.exists() and not dst.is_dir():
        raise ValueError(
            f"{dst}: recaption OUT is an existing file; give a folder (new, or one recaption made)"
        )
    source = Manifest.load(src)  # FileNotFoundError naming <src>/manifest.jsonl
    if not source.entries("train"):
        raise ValueError(f"{source.path}: lists no train shard; nothing to recaption")
    source.verify()  # ManifestError (a ValueError) naming every missing or altered shard
    return source


def scorer_path(cfg: RunConfig) -> Path:
    """The CLIP checkpoint that scores captions: `recaption.scorer_checkpoint`, else the run's last.pt."""
    path = cfg.recaption.scorer_checkpoint or cfg.train_dir / "checkpoints" / "last.pt"
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"{path}: scorer checkpoint not found; set recaption.scorer_checkpoint to a CLIP checkpoint trained "
            f"on the raw data (default: <output.dir>/train/checkpoints/last.pt, i.e. run `synthmphn train` first)"
        )
    return Path(path)


def load_scorer(cfg: RunConfig) -> tuple[Scorer, str]:
    """The scorer as a `ClipEncoder`, and an id of its weights (the checkpoint's sha256) for the job record."""
    path = scorer_path(cfg)
    parts = model_from_checkpoint(path, device=cfg.recaption.device, augment=False)
    return ClipEncoder(parts, device=cfg.recaption.device, batch_size=256), file_sha256(path)


def job_record(cfg: RunConfig, source: Manifest, scorer_id: str | None) -> dict[str, Any]:
    """What decides the output bytes: the recaption identity (seed, settings), source shard hashes, scorer weights.

    The scorer is identified by its weights (sha256), not its path; device, threads, eval_groups may change.
    """
    sources = {e.path: e.sha256 for e in source.entries()}
    return {**stage_identity(cfg, "recaption"), "sources": sources, "scorer": scorer_id}


def check_job(dst: Path, job: dict[str, Any]) -> None:
    """Records the job in `dst/recaption/job.json`, or checks that an existing `dst` was made by the same job."""
    path = dst / STATE_DIR / "job.json"
    if path.exists():
        # nested (older) and dotted records compare alike
        changed = identity_differences(read_json(path), job)
        if changed:
            raise ValueError(
                f"{dst}: was recaptioned with other settings (changed: {', '.join(changed)}; see {path}); "
                "use a new output folder or delete this one"
            )
        return
    if (dst / "manifest.jsonl").exists():
        raise ValueError(
            f"{dst}: holds a dataset not written by `synthmphn recaption`; choose another output folder"
        )
    for stale in dst.glob(".*.tmp") if dst.exists() else []:
        stale.unlink()  # a temp file of an interrupted atomic write
    atomic_write_json(path, job)


def copy_metadata(src: Path, dst: Path) -> None:
    """Copies the source's classes.json / build_summary.json (eval reads class names from classes.json)."""
    for name in METADATA_FILES:
        if (src / name).is_file():
            with atomic_open(dst / name) as handle:
                handle.write((src / name).read_bytes())
