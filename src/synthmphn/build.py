"""`synthmphn build`: captions -> hard negatives -> images from the generator pool -> WebDataset shards.

The job, like img2dataset's, is sharded, resumable and reports throughput:

1. Validate up front (generators exist, strategy fits the pool, output folder writable, an existing dataset
   folder was built with the same config) so a mistake fails in seconds, not after an hour of rendering.
2. Write captions for three splits with the caption backend (cached in `dataset/captions/`, so a resumed
   build reuses them even when the backend is a non-deterministic LLM):
   `train` (ids g...), `heldout` (h..., unseen captions, the training pool) and `heldout_style` (s..., unseen
   captions, drawn only by `images.heldout_style`, one image per caption).
3. Render each shard as one task: plan (generator, seed) per image with `images.pool.plan_images`, render
   negatives with the SAME generators and seeds as their base (so only the edited slot changes), batch per
   generator, encode without metadata, write the shard atomically. Tasks run in this process, in
   `images.workers` spawned processes, or as Ray tasks; a shard's bytes depend only on the config and seed.
4. After each shard, rewrite `manifest.jsonl` atomically. A rerun skips shards the manifest lists whose file
   still has the listed sha256, so a killed build resumes to byte-identical shards.
5. Write `build_summary.json` (counts per split, generator, negative kind, rejections, throughput),
   `classes.json`, provenance, and the run's resolved `config.yaml`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from synthmphn.captions.base import create_caption_backend
from synthmphn.captions.misalign import apply_misalignment
from synthmphn.config import ImagesConfig, RunConfig, flatten_config
from synthmphn.data.manifest import Manifest, ShardEntry, shard_name
from synthmphn.data.records import CaptionDraft, Group, ImageRecord, NegativeCaption
from synthmphn.data.shards import check_group_id, index_shard, write_shard
from synthmphn.images.base import GENERATORS
from synthmphn.io import atomic_write_json, atomic_write_text, read_json
from synthmphn.progress import progress
from synthmphn.provenance import write_run_info
from synthmphn.seeding import derive_seed

SPLIT_PREFIXES = {"train": "g", "heldout": "h", "heldout_style": "s"}
BUILD_SECTIONS = ("seed", "captions", "images", "shards", "splits")
# Fields that change how a build runs but not what it writes; a resume may change them freely.
EXECUTION_ONLY_FIELDS = frozenset(
    {
        "images.workers",
        "images.engine",
        "captions.concurrency",
        "captions.timeout_s",
        "captions.api_key_env",
        "captions.cache_dir",
        "captions.max_retries",
    }
)
BUILD_CONFIG_NAME = "build_config.json"
SUMMARY_NAME = "build_summary.json"
CLASSES_NAME = "classes.json"
CAPTIONS_DIR = "captions"
RENDER_BATCH_IMAGES = 64  # images rendered per block of groups (bounds memory; batches each generator)


class BuildError(ValueError):
    """The build cannot start or continue; the message says what is wrong and what would be right."""


# ----------------------------------------------------------------------------- plans and tasks


@dataclass(frozen=True)
class RenderPlan:
    """How the images of a split are drawn: generator pool, MSM strategy and images per caption."""

    pool: tuple[str, ...]
    strategy: str
    per_caption: int


@dataclass
class ShardTask:
    """Everything needed to render and write one shard, picklable for worker processes and Ray."""

    split: str
    index: int
    path: Path
    drafts: list[CaptionDraft]
    plan: RenderPlan
    seed: int
    source: str
    images: ImagesConfig
    plugin_modules: tuple[str, ...] = ()


@dataclass
class BuildStats:
    """Counts over groups: per split (groups, images, shards), per generator and per negative kind."""

    groups: Counter[str] = field(default_factory=Counter)
    images: Counter[str] = field(default_factory=Counter)
    shards: Counter[str] = field(default_factory=Counter)
    generators: Counter[str] = field(default_factory=Counter)
    negative_kinds: Counter[str] = field(default_factory=Counter)

    def add_shard(self, split: str, groups: Sequence[Group]) -> None:
        """Counts one shard's groups."""
        self.shards[split] += 1
        for group in groups:
            records = list(group.images) + [r for n in group.negatives for r in n.images]
            self.groups[split] += 1
            self.images[split] += len(records)
            self.generators.update(r.generator for r in records)
            self.negative_kinds.update(n.kind for n in group.negatives)

    def merge(self, other: BuildStats) -> None:
        """Adds another shard's counts to these."""
        for name in ("groups", "images", "shards", "generators", "negative_kinds"):
            getattr(self, name).update(getattr(other, name))


@dataclass
class ShardResult:
    """What a finished shard task reports back: its manifest entry and counts."""

    entry: ShardEntry
    stats: BuildStats


def split_plans(images: ImagesConfig) -> dict[str, RenderPlan]:
    """The render plan of each split; held-out captions use the training pool, the style split its own style."""
    train = RenderPlan(tuple(images.pool), images.strategy, images.per_caption)
    plans = {"train": train, "heldout": train}
    if images.heldout_style is not None:
        if images.heldout_style in images.pool:
            raise BuildError(
                f"images.heldout_style {images.heldout_style!r} is also in images.pool; the held-out style must "
                "never be trained on: pick a style outside the pool (or set images.heldout_style=null)"
            )
        plans["heldout_style"] = RenderPlan((images.heldout_style,), "single", 1)
    return plans


def split_sizes(cfg: RunConfig) -> dict[str, int]:
    """Groups wanted per split."""
    return {
        "train": cfg.captions.n_groups,
        "heldout": cfg.splits.heldout_groups,
        "heldout_style": cfg.splits.heldout_style_groups,
    }


# ----------------------------------------------------------------------------- parts (registries)


def import_parts() -> None:
    """Imports the caption and image packages, which register the built-in backends and generators."""
    for module in ("synthmphn.captions", "synthmphn.images"):
        importlib.import_module(module)


def _pool_module() -> Any:
    """`synthmphn.images.pool` (plan_images, create_pool), imported late so workers register parts first."""
    return importlib.import_module("synthmphn.images.pool")


def generator_kind(name: str) -> str:
    """The registry kind of a pool entry: `procedural` for `procedural:flat`."""
    kind, sep, _ = name.partition(":")
    if not sep or not kind:
        raise BuildError(f"generator {name!r} must look like '<kind>:<arg>', e.g. 'procedural:flat'")
    return kind


def plugin_modules(plans: dict[str, RenderPlan]) -> tuple[str, ...]:
    """Modules defining the pool's generator factories; workers import them so plugins register there too."""
    modules = []
    for plan in plans.values():
        for name in plan.pool:
            module = getattr(GENERATORS.get(generator_kind(name)), "__module__", None)
            if module and module != "__main__" and module not in modules:
                modules.append(module)
    return tuple(modules)


def check_generators(plans: dict[str, RenderPlan]) -> None:
    """Fails (KeyError listing the known kinds) when a pool entry names an unregistered generator kind."""
    for plan in plans.values():
        for name in plan.pool:
            GENERATORS.get(generator_kind(name))


def check_strategies(plans: dict[str, RenderPlan], seed: int) -> None:
    """Plans one probe group per split so a strategy that does not fit the pool fails before any work."""
    for split, plan in plans.items():
        slots = _pool_module().plan_images(
            f"{SPLIT_PREFIXES[split]}probe", list(plan.pool), plan.strategy, plan.per_caption, seed, "base"
        )
        if not slots:
            raise BuildError(f"images: strategy {plan.strategy!r} planned no image for a {split} caption")


_POOLS: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}


def generator_pool(names: Sequence[str], images: ImagesConfig) -> dict[str, Any]:
    """This process's generators for `names`, created once (model loading is the slow part)."""
    key = (tuple(names), images.model_dump_json())
    if key not in _POOLS:
        _POOLS[key] = _pool_module().create_pool(list(names), images.size, images)
    return _POOLS[key]


# ----------------------------------------------------------------------------- folders


def check_writable(folder: Path, what: str) -> None:
    """Creates `folder` and writes a probe file in it; fails naming the folder when either is impossible."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except PermissionError as err:
        raise PermissionError(
            f"{folder}: the {what} is not writable ({err.strerror}); choose another output.dir"
        ) from None
    except OSError as err:
        raise OSError(
            f"{folder}: cannot create or write the {what} ({err.strerror}); choose another output.dir"
        ) from None


@contextlib.contextmanager
def build_lock(dataset_dir: Path) -> Iterator[None]:
    """Holds an exclusive lock on the dataset folder, waiting for another build of the same folder to finish."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: no locking
        yield
        return
    with open(dataset_dir / ".build.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of {dataset_dir} to finish...", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temp_files(dataset_dir: Path) -> None:
    """Deletes temp files a killed build left behind (atomic writes that never got renamed)."""
    for pattern in (".*.tar.*.tmp", ".manifest.jsonl.*.tmp", f"{CAPTIONS_DIR}/.*.tmp"):
        for path in dataset_dir.glob(pattern):
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- config of an existing dataset


def build_config_of(cfg: RunConfig) -> dict[str, Any]:
    """The sections that decide a dataset's bytes, without execution-only fields (workers, engine, ...)."""
    tree = cfg.model_dump(mode="json", include=set(BUILD_SECTIONS))
    for dotted in EXECUTION_ONLY_FIELDS:
        section, name = dotted.split(".")
        tree.get(section, {}).pop(name, None)
    return tree


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Lines `field: old -> new` for every leaf that differs between two build configs."""
    before, after = flatten_config(old), flatten_config(new)
    missing = object()
    return [
        f"{name}: {before.get(name, '(unset)')!r} -> {after.get(name, '(unset)')!r}"
        for name in sorted(set(before) | set(after))
        if before.get(name, missing) != after.get(name, missing)
    ]


def check_existing_dataset(dataset_dir: Path, build_config: dict[str, Any]) -> bool:
    """Refuses to add to a dataset folder built with a different config; True when there is one to resume."""
    path = dataset_dir / BUILD_CONFIG_NAME
    if not path.exists():
        if (dataset_dir / "manifest.jsonl").exists():
            raise BuildError(
                f"{dataset_dir}: holds shards but no {BUILD_CONFIG_NAME}, so they may come from another config; "
                "delete the folder or choose another output.dir"
            )
        return False
    differences = config_differences(read_json(path), build_config)
    if differences:
        raise BuildError(
            f"{dataset_dir}: holds a dataset built with a different config; differing fields:\n  "
            + "\n  ".join(differences)
            + "\nRerun with the original values, or choose another output.dir (or delete the folder) to rebuild."
        )
    return True


# ----------------------------------------------------------------------------- captions


@dataclass
class Captions:
    """Caption drafts per split and rejected-negative counts by reason."""

    drafts: dict[str, list[CaptionDraft]]
    rejections: Counter[str] = field(default_factory=Counter)


def generate_captions(cfg: RunConfig) -> Captions:
    """Writes every split's captions; held-out splits drop captions that also occur in train (unseen captions)."""
    backend = create_caption_backend(cfg.captions)
    sizes = split_sizes(cfg)
    result = Captions({})
    train_texts: set[str] = set()
    for split, n in sizes.items():
        if n == 0 or (split == "heldout_style" and cfg.images.heldout_style is None):
            continue
        # Oversample held-out splits a little so dropping captions seen in train still leaves n.
        wanted = n if split == "train" else n + n // 4 + 8
        out = backend.generate(wanted, derive_seed(cfg.seed, "captions", split), prefix=SPLIT_PREFIXES[split])
        result.rejections.update(out.rejections)
        drafts = list(out.drafts)
        if split == "train":
            drafts = apply_misalignment(
                drafts, cfg.captions, cfg.seed
            )  # no-op unless captions.misalign_p > 0
            train_texts = {d.caption for d in drafts}
        else:
            unseen = [d for d in drafts if d.caption not in train_texts]
            if len(unseen) < len(drafts):
                result.rejections[f"{split}: caption also in train"] += min(len(drafts) - len(unseen), n)
            drafts = unseen
        result.drafts[split] = drafts[:n]
    return result


def _caption_cache_paths(dataset_dir: Path, splits: Sequence[str]) -> dict[str, Path]:
    """Where each split's drafts are cached."""
    return {split: dataset_dir / CAPTIONS_DIR / f"{split}.jsonl" for split in splits}


def save_captions(dataset_dir: Path, captions: Captions) -> None:
    """Caches drafts (one JSON line each) and rejections, atomically; the rejections file is written last."""
    for split, path in _caption_cache_paths(dataset_dir, list(captions.drafts)).items():
        atomic_write_text(path, "".join(d.model_dump_json() + "\n" for d in captions.drafts[split]))
    atomic_write_json(
        dataset_dir / CAPTIONS_DIR / "rejections.json",
        {"splits": sorted(captions.drafts), "rejections": dict(captions.rejections)},
    )


def load_captions(dataset_dir: Path) -> Captions | None:
    """The cached drafts of an earlier (possibly killed) run of the same config, or None if incomplete."""
    marker = dataset_dir / CAPTIONS_DIR / "rejections.json"
    if not marker.exists():
        return None
    saved = read_json(marker)
    drafts = {}
    for split, path in _caption_cache_paths(dataset_dir, saved["splits"]).items():
        lines = path.read_text(encoding="utf-8").splitlines()
        drafts[split] = [CaptionDraft.model_validate_json(line) for line in lines if line.strip()]
    return Captions(drafts, Counter(saved["rejections"]))


def check_draft_ids(captions: Captions) -> None:
    """Every group id must be a valid shard key and unique across splits."""
    seen: set[str] = set()
    for split, drafts in captions.drafts.items():
        for draft in drafts:
            try:
                check_group_id(draft.id)
            except ValueError as err:
                raise BuildError(f"captions ({split}): {err}") from None
            if draft.id in seen:
                raise BuildError(f"captions ({split}): group id {draft.id!r} is used twice")
            seen.add(draft.id)


def class_rows(cfg: RunConfig, captions: Captions) -> list[dict[str, Any]]:
    """Class names for eval: the concept bank's table, else the subjects seen in the captions."""
    try:
        from synthmphn.captions.concepts import class_table

        rows = class_table(cfg.captions)
    except (ImportError, AttributeError, ValueError, FileNotFoundError) as err:
        print(
            f"note: the caption backend offers no class table ({err}); classes.json lists caption subjects",
            file=sys.stderr,
        )
        rows = []
    if rows:
        return rows
    subjects = sorted(
        {(d.spec.subject, d.spec.category) for ds in captions.drafts.values() for d in ds if d.spec}
    )
    if not subjects:
        print(
            "warning: no class table and no caption specs; classes.json is empty, so eval has no synthetic "
            "class names",
            file=sys.stderr,
        )
    return [{"index": i, "name": s, "category": c, "display": s} for i, (s, c) in enumerate(subjects)]


# ----------------------------------------------------------------------------- rendering one shard


@dataclass
class _ImageJob:
    """One image to render: which group and key it fills, from which generator, prompt, spec and seed."""

    group: int
    key: str
    generator: str
    prompt: str
    spec: Any
    seed: int


def group_record(draft: CaptionDraft, task: ShardTask) -> Group:
    """The group record of a draft with every image planned; negatives reuse the base's generators and seeds."""
    plans = _pool_module().plan_group(
        draft.id,
        list(task.plan.pool),
        task.plan.strategy,
        task.plan.per_caption,
        task.seed,
        len(draft.negatives),
    )
    ext = task.images.format

    specs = {"base": draft.spec, **{f"neg{j}": neg.spec for j, neg in enumerate(draft.negatives)}}

    def records(role: str) -> list[ImageRecord]:
        return [image_record(f"{role}.{i}.{ext}", g, s, specs[role]) for i, (g, s) in enumerate(plans[role])]

    negatives = [
        NegativeCaption(text=neg.text, kind=neg.kind, spec=neg.spec, images=records(f"neg{j}"))
        for j, neg in enumerate(draft.negatives)
    ]
    return Group(
        id=draft.id,
        caption=draft.caption,
        spec=draft.spec,
        images=records("base"),
        negatives=negatives,
        split=task.split,
        source=task.source,
        misaligned=draft.misaligned,
    )


def image_record(key: str, generator: str, seed: int, spec: Any) -> ImageRecord:
    """An image's record; a profiled procedural generator's failure (what it really draws) goes in it too."""
    from synthmphn.images.procedural.failures import drawn_record

    failure, drawn = drawn_record(generator, spec, seed)
    return ImageRecord(key=key, generator=generator, seed=seed, failure=failure, drawn=drawn)


def image_jobs(groups: Sequence[Group], offset: int = 0) -> list[_ImageJob]:
    """Every image of some groups as jobs (base then negatives), numbered from group `offset`."""
    jobs = []
    for number, group in enumerate(groups, start=offset):
        for record in group.images:
            jobs.append(
                _ImageJob(number, record.key, record.generator, group.caption, group.spec, record.seed)
            )
        for negative in group.negatives:
            for record in negative.images:
                jobs.append(
                    _ImageJob(number, record.key, record.generator, negative.text, negative.spec, record.seed)
                )
    return jobs


def encode_image(image: Image.Image, fmt: str, size: int, generator: str) -> bytes:
    """Encodes an RGB image as PNG/JPEG with fixed options and no metadata (deterministic bytes)."""
    if image.size != (size, size):
        raise BuildError(f"generator {generator!r} returned a {image.size} image; expected {size}x{size}")
    rgb = image.convert("RGB")
    rgb.info = {}
    buffer = io.BytesIO()
    if fmt == "png":
        rgb.save(buffer, format="PNG", compress_level=6)
    else:
        rgb.save(buffer, format="JPEG", quality=95, subsampling=0, optimize=False, progressive=False)
    return buffer.getvalue()


def render_jobs(jobs: Sequence[_ImageJob], generators: dict[str, Any], images: ImagesConfig) -> list[bytes]:
    """Renders jobs batched per generator; returns encoded bytes in job order."""
    encoded: list[bytes | None] = [None] * len(jobs)
    by_generator: dict[str, list[int]] = {}
    for position, job in enumerate(jobs):
        by_generator.setdefault(job.generator, []).append(position)
    for name, positions in by_generator.items():
        chosen = [jobs[p] for p in positions]
        pictures = generators[name].generate(
            [j.prompt for j in chosen], [j.spec for j in chosen], [j.seed for j in chosen]
        )
        if len(pictures) != len(chosen):
            raise BuildError(f"generator {name!r} returned {len(pictures)} images for {len(chosen)} prompts")
        for position, picture in zip(positions, pictures, strict=True):
            encoded[position] = encode_image(picture, images.format, images.size, name)
    return [data for data in encoded if data is not None]


def render_shard(task: ShardTask, on_groups: Callable[[int, int], None] | None = None) -> ShardResult:
    """Renders every image of a shard's groups and writes the shard; the unit of work of every engine.

    `on_groups(n_groups, n_images)` is called after each rendered block (for progress bars).
    """
    for module in task.plugin_modules:  # a fresh worker process registers plugin generators first
        importlib.import_module(module)
    generators = generator_pool(task.plan.pool, task.images)
    groups = [group_record(draft, task) for draft in task.drafts]
    per_group = max(1, len(groups[0].images) * (1 + len(groups[0].negatives))) if groups else 1
    block = max(1, RENDER_BATCH_IMAGES // per_group)
    images: list[dict[str, bytes]] = [{} for _ in groups]
    for start in range(0, len(groups), block):
        jobs = image_jobs(groups[start : start + block], offset=start)
        for job, data in zip(jobs, render_jobs(jobs, generators, task.images), strict=True):
            images[job.group][job.key] = data
        if on_groups is not None:
            on_groups(len(groups[start : start + block]), len(jobs))
    sha = write_shard(task.path, list(zip(groups, images, strict=True)))
    stats = BuildStats()
    stats.add_shard(task.split, groups)
    entry = ShardEntry(
        path=task.path.name,
        split=task.split,
        index=task.index,
        n_groups=len(groups),
        n_images=stats.images[task.split],
        sha256=sha,
    )
    return ShardResult(entry, stats)


def shard_tasks(cfg: RunConfig, captions: Captions, plans: dict[str, RenderPlan]) -> list[ShardTask]:
    """One task per shard: each split's drafts cut into `shards.groups_per_shard` groups, in split order."""
    size = cfg.shards.groups_per_shard
    modules = plugin_modules(plans)
    tasks = []
    for split, drafts in captions.drafts.items():
        for index, start in enumerate(range(0, len(drafts), size)):
            tasks.append(
                ShardTask(
                    split=split,
                    index=index,
                    path=cfg.dataset_dir / shard_name(split, index),
                    drafts=drafts[start : start + size],
                    plan=plans[split],
                    seed=cfg.seed,
                    source=cfg.captions.backend,
                    images=cfg.images,
                    plugin_modules=modules,
                )
            )
    return tasks


# ----------------------------------------------------------------------------- engines


def run_tasks_inline(
    tasks: Sequence[ShardTask],
    on_result: Callable[[ShardResult], None],
    on_groups: Callable[[int, int], None],
) -> None:
    """Renders shards one after another in this process (progress per block of groups)."""
    for task in tasks:
        on_result(render_shard(task, on_groups))


def run_tasks_processes(
    tasks: Sequence[ShardTask], workers: int, on_result: Callable[[ShardResult], None]
) -> None:
    """Renders shards in `workers` spawned processes (safe with CUDA/OpenMP; plugins re-import there)."""
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        pending = {pool.submit(render_shard, task) for task in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_result(future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def run_tasks_ray(tasks: Sequence[ShardTask], workers: int, on_result: Callable[[ShardResult], None]) -> None:
    """Renders shards as Ray tasks (RAY_ADDRESS joins a cluster; the dataset folder must be shared storage)."""
    import ray

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=workers)
    remote = ray.remote(num_cpus=1)(render_shard)
    pending = [remote.remote(task) for task in tasks]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        on_result(ray.get(done[0]))


def check_engine(images: ImagesConfig) -> None:
    """Fails early when `images.engine: ray` is asked for but Ray is not installed."""
    if images.engine == "ray" and importlib.util.find_spec("ray") is None:
        raise BuildError(
            "images.engine=ray needs Ray: pip install 'synthmphn[ray]' (or set images.engine=local)"
        )


# ----------------------------------------------------------------------------- summary


def summary_of(stats: BuildStats, captions: Captions, run: dict[str, Any], cfg: RunConfig) -> dict[str, Any]:
    """The build summary: dataset counts, rejections, and this run's throughput."""
    splits = {
        s: {"groups": stats.groups[s], "images": stats.images[s], "shards": stats.shards[s]}
        for s in captions.drafts
    }
    skipped = {}
    if cfg.images.heldout_style is None and cfg.splits.heldout_style_groups > 0:
        skipped["heldout_style"] = "images.heldout_style is not set"
    return {
        "dataset_dir": str(cfg.dataset_dir),
        "splits": splits,
        "skipped_splits": skipped,
        "generators": dict(sorted(stats.generators.items())),
        "negative_kinds": dict(sorted(stats.negative_kinds.items())),
        "rejections": dict(sorted(captions.rejections.items())),
        "workers": cfg.images.workers,
        "engine": cfg.images.engine,
        "this_run": run,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A few readable lines of the summary for the terminal."""
    run = summary["this_run"]
    lines = [
        f"build summary: {summary['dataset_dir']}",
        f"  {'split':<15}{'groups':>8}{'images':>9}{'shards':>8}",
    ]
    for split, row in summary["splits"].items():
        lines.append(f"  {split:<15}{row['groups']:>8}{row['images']:>9}{row['shards']:>8}")
    for title, key in (
        ("generators", "generators"),
        ("negative kinds", "negative_kinds"),
        ("rejections", "rejections"),
    ):
        items = ", ".join(f"{k} {v}" for k, v in summary[key].items()) or "none"
        lines.append(f"  {title}: {items}")
    lines.append(
        f"  this run: {run['shards_rendered']} shards rendered, {run['shards_skipped']} already done; "
        f"{run['groups_rendered']} groups, {run['images_rendered']} images in {run['wall_s']:.1f} s "
        f"({run['groups_per_s']:.1f} groups/s, {run['images_per_s']:.1f} images/s)"
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the job


def prepare(cfg: RunConfig) -> dict[str, RenderPlan]:
    """Every check that needs no caption or image: generators, strategies, engine, folders."""
    import_parts()
    plans = split_plans(cfg.images)
    check_generators(plans)
    check_strategies(plans, cfg.seed)
    check_engine(cfg.images)
    check_writable(cfg.dataset_dir, "dataset folder")
    check_writable(cfg.output.dir, "run folder")
    return plans


def write_metadata(cfg: RunConfig, captions: Captions, fresh_captions: bool) -> None:
    """Writes the build config, caption cache, classes, provenance and the run's config.yaml."""
    dataset_dir = cfg.dataset_dir
    atomic_write_json(dataset_dir / BUILD_CONFIG_NAME, build_config_of(cfg))
    if fresh_captions:
        save_captions(dataset_dir, captions)
    atomic_write_json(dataset_dir / CLASSES_NAME, class_rows(cfg, captions))
    config = cfg.model_dump(mode="json")
    write_run_info(dataset_dir, config, cfg.seed, "build")
    atomic_write_text(cfg.output.dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))


def pending_tasks(tasks: Sequence[ShardTask], manifest: Manifest, stats: BuildStats) -> list[ShardTask]:
    """Tasks whose shard is not yet listed with a matching file; counts the finished ones into `stats`."""
    todo = []
    for task in tasks:
        entry = manifest.get(task.split, task.index)
        if entry is not None and entry.n_groups == len(task.drafts) and manifest.problem(entry) is None:
            stats.add_shard(task.split, [s.group for s in index_shard(manifest.shard_path(entry))])
        else:
            todo.append(task)
    return todo


def run_build(cfg: RunConfig) -> Path:
    """Builds (or resumes) the dataset of `cfg` in `cfg.dataset_dir` and returns that folder."""
    started = time.perf_counter()
    plans = prepare(cfg)
    dataset_dir = cfg.dataset_dir
    with build_lock(dataset_dir):
        resuming = check_existing_dataset(dataset_dir, build_config_of(cfg))
        remove_stale_temp_files(dataset_dir)
        for plan in plans.values():  # creating the pool validates models and paths before any captions
            generator_pool(plan.pool, cfg.images)
        cached = load_captions(dataset_dir) if resuming else None  # a resumed LLM build keeps its captions
        captions = cached if cached is not None else generate_captions(cfg)
        check_draft_ids(captions)
        write_metadata(cfg, captions, fresh_captions=cached is None)
        setup_s = time.perf_counter() - started  # validation, generator pools, captions
        summary = render_all(cfg, captions, plans, started, setup_s)
    print(format_summary(summary), file=sys.stderr)
    return dataset_dir


def render_all(
    cfg: RunConfig, captions: Captions, plans: dict[str, RenderPlan], started: float, setup_s: float
) -> dict[str, Any]:
    """Renders every pending shard, keeping the manifest current, and writes the summary."""
    manifest = Manifest.load(cfg.dataset_dir, missing_ok=True)
    tasks = shard_tasks(cfg, captions, plans)
    stats = BuildStats()
    todo = pending_tasks(tasks, manifest, stats)
    total = sum(len(t.drafts) for t in tasks)
    rendered = {"groups": 0, "images": 0}
    render_start = time.perf_counter()
    bar = progress(total=total, initial=total - sum(len(t.drafts) for t in todo), desc="build", unit="group")

    def on_groups(n_groups: int, n_images: int) -> None:
        rendered["groups"] += n_groups
        rendered["images"] += n_images
        bar.update(n_groups)
        elapsed = max(time.perf_counter() - render_start, 1e-9)
        bar.set_postfix_str(f"{rendered['images'] / elapsed:.0f} images/s", refresh=False)

    def on_result(result: ShardResult, counted: bool = True) -> None:
        manifest.add(result.entry)
        manifest.save()
        stats.merge(result.stats)
        if not counted:
            on_groups(result.entry.n_groups, result.entry.n_images)

    workers = min(cfg.images.workers, len(todo))
    try:
        if cfg.images.engine == "ray" and todo:
            run_tasks_ray(todo, cfg.images.workers, lambda r: on_result(r, counted=False))
        elif workers > 1:
            run_tasks_processes(todo, workers, lambda r: on_result(r, counted=False))
        else:
            run_tasks_inline(todo, on_result, on_groups)
    finally:
        bar.close()
    wall = time.perf_counter() - started
    run = {
        "shards_rendered": len(todo),
        "shards_skipped": len(tasks) - len(todo),
        "groups_rendered": rendered["groups"],
        "images_rendered": rendered["images"],
        "wall_s": round(wall, 3),
        "setup_s": round(setup_s, 3),
        "render_s": round(time.perf_counter() - render_start, 3),
        "groups_per_s": round(rendered["groups"] / wall, 2),
        "images_per_s": round(rendered["images"] / wall, 2),
    }
    summary = summary_of(stats, captions, run, cfg)
    atomic_write_json(cfg.dataset_dir / SUMMARY_NAME, summary)
    return summary
