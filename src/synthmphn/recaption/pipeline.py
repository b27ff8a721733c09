"""`synthmphn recaption IN OUT`: rewrite the train captions of a dataset with a captioner + CLIP filter.

Steps (SPEC §5, the image version of the paper's recaptioning):

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

import io
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from synthmphn.config import RunConfig, config_to_dict
from synthmphn.data.manifest import Manifest, ShardEntry
from synthmphn.data.records import Group
from synthmphn.data.shards import file_sha256, index_shard, read_shard, write_shard
from synthmphn.io import atomic_open, atomic_write_json, read_json
from synthmphn.progress import progress
from synthmphn.provenance import write_run_info
from synthmphn.recaption.base import Captioner, create_captioner, torch_threads
from synthmphn.recaption.filter import Decision, Scorer, filter_captions
from synthmphn.recaption.metrics import caption_metrics, filter_quality
from synthmphn.seeding import derive_seed

SUMMARY_NAME = "recaption_summary.json"
STATE_DIR = "recaption"  # inside OUT: job.json, captioner/, decisions/
METADATA_FILES = ("classes.json", "build_summary.json")  # copied from IN as they are
# Settings that change no output byte, so a resumed run may change them freely.
_RUNTIME_KEYS = ("device", "threads", "eval_groups")


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
            per_shard[entry.path] = recaption_shard(source, entry, output, captioner, scorer, clean_ids, cfg)
            bar.update(entry.n_groups)
        else:
            copy_shard(source, entry, output)
    bar.close()
    return build_summary(cfg, src, selection, per_shard, dst, captioner, source)


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
    from synthmphn.models.checkpoint import model_from_checkpoint
    from synthmphn.models.encoder import ClipEncoder

    path = scorer_path(cfg)
    parts = model_from_checkpoint(path, device=cfg.recaption.device, augment=False)
    return ClipEncoder(parts, device=cfg.recaption.device, batch_size=256), file_sha256(path)


def job_record(cfg: RunConfig, source: Manifest, scorer_id: str | None) -> dict[str, Any]:
    """What decides the output bytes: recaption settings, seed, source shard hashes, scorer weights."""
    settings = {k: v for k, v in config_to_dict(cfg.recaption).items() if k not in _RUNTIME_KEYS}
    settings.pop("scorer_checkpoint", None)  # the scorer is identified by its weights, not its path
    sources = {e.path: e.sha256 for e in source.entries()}
    return {"recaption": settings, "seed": cfg.seed, "sources": sources, "scorer": scorer_id}


def check_job(dst: Path, job: dict[str, Any]) -> None:
    """Records the job in `dst/recaption/job.json`, or checks that an existing `dst` was made by the same job."""
    path = dst / STATE_DIR / "job.json"
    if path.exists():
        previous = read_json(path)
        if previous != job:
            changed = differing_keys(previous, job)
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


def differing_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts (e.g. ['recaption.alpha'])."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [prefix or "(value)"] if old != new else []
    found: list[str] = []
    for key in sorted(set(old) | set(new)):
        found += differing_keys(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key))
    return found


def copy_metadata(src: Path, dst: Path) -> None:
    """Copies the source's classes.json / build_summary.json (eval reads class names from classes.json)."""
    for name in METADATA_FILES:
        if (src / name).is_file():
            with atomic_open(dst / name) as handle:
                handle.write((src / name).read_bytes())


# ----------------------------------------------------------------------------- clean subset and captioner


def select_clean_groups(groups: Sequence[Group], n: int) -> tuple[set[str], str]:
    """The ids of the clean subset S_h (the first `n` train groups by id) and how they were chosen.

    The build keeps its first `captions.clean_groups` groups free of misaligned captions and ids follow draw
    order, so this matches the build's clean prefix; user data puts its trusted groups first.
    """
    ids = sorted(g.id for g in groups)
    return set(ids[:n]), "first_by_id"


def decode_image(data: bytes) -> Image.Image:
    """An RGB PIL image from encoded bytes."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def clean_pairs(
    source: Manifest, train: dict[str, list[Group]], clean_ids: set[str]
) -> tuple[list, list[str]]:
    """(images, captions) of S_h: one pair per base image, in shard order (reads only shards holding S_h)."""
    images: list[Image.Image] = []
    captions: list[str] = []
    for entry in source.entries("train"):
        if not any(g.id in clean_ids for g in train[entry.path]):
            continue
        for group, data in read_shard(source.shard_path(entry)):
            if group.id in clean_ids:
                for record in group.images:
                    images.append(decode_image(data[record.key]))
                    captions.append(group.caption)
    return images, captions


def prepare_captioner(
    cfg: RunConfig, source: Manifest, train: dict[str, list[Group]], clean_ids: set[str], state: Path
) -> Captioner:
    """The configured captioner, fitted on S_h now or loaded from `state` where a previous run saved it."""
    captioner = create_captioner(cfg.recaption)
    if not captioner.needs_fit:
        return captioner
    marker = state / "fit.json"
    if marker.exists():
        captioner.load(state)
        return captioner
    started = time.time()
    images, captions = clean_pairs(source, train, clean_ids)
    captioner.fit(images, captions, seed=derive_seed(cfg.seed, "recaption", "captioner"))
    captioner.save(state)
    losses = getattr(captioner, "losses", [])
    fit = {"pairs": len(images), "groups": len(clean_ids), "seconds": round(time.time() - started, 3)}
    atomic_write_json(marker, {**fit, "final_loss": losses[-1] if losses else None})
    return captioner


# ----------------------------------------------------------------------------- shards


def consensus_caption(captions: Sequence[str]) -> str:
    """The caption most of a group's images got (ties: the one of the earliest image).

    A group has one image per generator; voting makes the caption robust to a style the captioner reads
    badly, and costs nothing for the embedded captioner.
    """
    counts = Counter(captions)
    best = max(counts.values())
    return next(c for c in captions if counts[c] == best)


def _finished(output: Manifest, entry: ShardEntry, decisions: Path) -> bool:
    """Whether an output shard is done: listed, file matches its sha256, decisions written."""
    done = output.get(entry.split, entry.index)
    return done is not None and output.problem(done) is None and decisions.is_file()


def recaption_shard(
    source: Manifest,
    entry: ShardEntry,
    output: Manifest,
    captioner: Captioner,
    scorer: Scorer,
    clean_ids: set[str],
    cfg: RunConfig,
) -> list[dict[str, Any]]:
    """Recaptions one train shard into the output (or skips it when finished); returns its decision rows."""
    decisions_path = output.dataset_dir / STATE_DIR / "decisions" / f"{Path(entry.path).stem}.json"
    if _finished(output, entry, decisions_path):
        return read_json(decisions_path)
    samples = list(read_shard(source.shard_path(entry)))
    candidates = [i for i, (group, _) in enumerate(samples) if group.id not in clean_ids]
    images = [[decode_image(samples[i][1][r.key]) for r in samples[i][0].images] for i in candidates]
    flat = captioner.caption([image for group_images in images for image in group_images])
    new, start = [], 0
    for group_images in images:
        new.append(consensus_caption(flat[start : start + len(group_images)]))
        start += len(group_images)
    old = [samples[i][0].caption for i in candidates]
    verdicts = filter_captions(scorer, images, old, new, cfg.recaption.alpha)
    rows = decision_rows(samples, candidates, verdicts)
    atomic_write_json(decisions_path, rows)
    written = [_with_caption(group, data, rows[i]["caption"]) for i, (group, data) in enumerate(samples)]
    path = output.dataset_dir / entry.path
    sha = write_shard(path, written)
    output.add(entry.model_copy(update={"sha256": sha}))
    output.save()
    return rows


def decision_rows(
    samples: list[tuple[Group, dict[str, bytes]]], candidates: list[int], verdicts: list[Decision]
) -> list[dict[str, Any]]:
    """One JSON row per group of a shard: id, clean flag, misaligned truth, decision (None for S_h), caption."""
    by_index = dict(zip(candidates, verdicts, strict=True))
    rows = []
    for i, (group, _) in enumerate(samples):
        verdict = by_index.get(i)
        rows.append(
            {
                "id": group.id,
                "clean": verdict is None,
                "misaligned": group.misaligned,
                "decision": verdict.to_json() if verdict else None,
                "caption": verdict.caption if verdict else group.caption,
            }
        )
    return rows


def _with_caption(group: Group, images: dict[str, bytes], caption: str) -> tuple[Group, dict[str, bytes]]:
    """The sample with its caption set (images untouched)."""
    return (group if caption == group.caption else group.model_copy(update={"caption": caption})), images


def copy_shard(source: Manifest, entry: ShardEntry, output: Manifest) -> None:
    """Copies a non-train shard byte for byte (atomically) and lists it, unless already there."""
    done = output.get(entry.split, entry.index)
    if done is not None and output.problem(done) is None:
        return
    with (
        open(source.shard_path(entry), "rb") as reader,
        atomic_open(output.dataset_dir / entry.path) as writer,
    ):
        shutil.copyfileobj(reader, writer)
    output.add(entry)
    output.save()


# ----------------------------------------------------------------------------- summary


def build_summary(
    cfg: RunConfig,
    src: Path,
    selection: str,
    per_shard: dict[str, list[dict[str, Any]]],
    dst: Path,
    captioner: Captioner,
    source: Manifest,
) -> dict[str, Any]:
    """The numbers of a recaption run (see the module docstring, step 6)."""
    rows = [row for shard_rows in per_shard.values() for row in shard_rows]
    decided = [row["decision"] for row in rows if row["decision"] is not None]
    replaced = [d["replaced"] for d in decided]
    summary: dict[str, Any] = {
        "source": str(src),
        "captioner": cfg.recaption.captioner,
        "alpha": cfg.recaption.alpha,
        "seed": cfg.seed,
        "clean_selection": selection,
        "train_groups": len(rows),
        "clean_groups": len(rows) - len(decided),
        "candidates": len(decided),
        "replaced": sum(replaced),
        "replaced_share": sum(replaced) / len(decided) if decided else None,
        "new_equals_old": sum(d["new"] == d["old"] for d in decided),
        "mean_old_score": _mean([d["old_score"] for d in decided]),
        "mean_new_score": _mean([d["new_score"] for d in decided]),
        "per_shard": {path: _shard_counts(shard_rows) for path, shard_rows in per_shard.items()},
        "captioner_fit": _read_optional(dst / STATE_DIR / "captioner" / "fit.json"),
        "captioner_heldout": evaluate_captioner(
            captioner, source, cfg, dst / STATE_DIR / "captioner_eval.json"
        ),
    }
    truth = [row for row in rows if row["decision"] is not None]
    if truth and any(row["misaligned"] for row in truth):
        summary["misaligned"] = filter_quality(
            [row["decision"]["replaced"] for row in truth], [bool(row["misaligned"]) for row in truth]
        )
    return summary


def _shard_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """groups / candidates / replaced of one shard."""
    decided = [row["decision"] for row in rows if row["decision"] is not None]
    return {"groups": len(rows), "candidates": len(decided), "replaced": sum(d["replaced"] for d in decided)}


def _mean(values: list[float]) -> float | None:
    """The mean, or None for no values."""
    return sum(values) / len(values) if values else None


def _read_optional(path: Path) -> Any:
    """JSON content of `path`, or None when it does not exist."""
    return read_json(path) if path.exists() else None


def evaluate_captioner(
    captioner: Captioner, source: Manifest, cfg: RunConfig, cache: Path
) -> dict[str, Any] | None:
    """Exact match and subject accuracy of the captioner on the base images of the first heldout groups.

    The heldout split has unseen captions drawn by the training styles, so it measures how the captioner
    generalises. The result is cached in `cache` (a resumed run does not caption again).
    """
    n = cfg.recaption.eval_groups
    entries = source.entries("heldout")
    if n == 0 or not entries:
        return None
    if cache.exists() and read_json(cache).get("groups_asked") == n:
        return read_json(cache)
    groups = 0
    images, references, subjects = [], [], []
    for entry in entries:
        for group, data in read_shard(source.shard_path(entry)):
            if groups >= n or group.spec is None:
                break
            groups += 1
            for record in group.images:
                images.append(decode_image(data[record.key]))
                references.append(group.caption)
                subjects.append(group.spec.subject)
    if not images:
        return None
    result = {
        **caption_metrics(captioner.caption(images), references, subjects),
        "groups": groups,
        "groups_asked": n,
    }
    atomic_write_json(cache, result)
    return result
