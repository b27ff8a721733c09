"""One train shard through the gate: score every image, act on the failures, write the gated shard.

Every image is scored against its own caption and its partners (`scoring`), judged by `rule.verdict` (or by
its recorded failure for `oracle`), then:

- drop / oracle: failed images leave their caption (`rule.prune_group`);
- downweight: failed images stay with `ImageRecord.weight = gate.weight`;
- rerender: a failed image's *column* (the image of the same index of the base caption and of every
  negative: negatives reuse their base's generator and seed, so the pair differs in the edited slot only)
  is drawn again with seed `derive_seed(seed, "gate", try)` for try = 1..`gate.max_tries`, and taken at
  the first try where every image of the column passes; its records get the new seed (and the failure the
  generator's profile records for it). A column that never passes keeps its images and drops the failed
  ones, as `drop` does.

The decision rows (one per source image: scores, verdict, recorded failure, outcome, seeds tried) are
written before the shard, the manifest after it, each atomically, so a rerun skips exactly the shards that
are finished (`pipeline`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from synthmphn.config import GateConfig, ImagesConfig
from synthmphn.data.manifest import Manifest, ShardEntry
from synthmphn.data.records import Group, ImageRecord
from synthmphn.data.shards import read_shard, write_shard
from synthmphn.gate.rule import prune_group, verdict, weigh_group
from synthmphn.gate.scoring import Caption, GateScorer, Score
from synthmphn.images import ImageGenerator, ImageJob, encode_image, render_jobs
from synthmphn.images.procedural import drawn_record
from synthmphn.io import atomic_write_json, read_json
from synthmphn.seeding import derive_seed

Samples = list[tuple[Group, dict[str, bytes]]]


@dataclass
class Item:
    """One image of a shard: where it sits, its record, the caption it shows and the partners it must beat."""

    group: int
    role: str  # "base" or "neg<j>"
    record: ImageRecord
    own: Caption
    partners: list[Caption]
    score: Score | None = None
    failed: str | None = None  # "own" | "partner" | "recorded" (oracle) | None
    seeds: list[int] = field(default_factory=list)  # re-render seeds tried
    final: Score | None = None  # the score of the image that was kept after re-rendering

    @property
    def column(self) -> tuple[int, str]:
        """(group, image index): the images drawn with one generator and seed across a group's captions."""
        return self.group, self.record.key.split(".")[1]


@dataclass
class RenderContext:
    """What re-rendering needs: the dataset's images section and its generators by name."""

    images: ImagesConfig
    generators: dict[str, ImageGenerator]


def decode(data: bytes) -> Image.Image:
    """An RGB PIL image from encoded bytes."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def shard_items(samples: Samples) -> list[Item]:
    """Every image of the samples with its own caption and partners (base <-> each negative)."""
    items = []
    for g, (group, _) in enumerate(samples):
        base = Caption(group.caption, group.spec)
        negatives = [Caption(n.text, n.spec) for n in group.negatives]
        items += [Item(g, "base", r, base, negatives) for r in group.images]
        for j, negative in enumerate(group.negatives):
            items += [Item(g, f"neg{j}", r, negatives[j], [base]) for r in negative.images]
    return items


def score_items(scorer: GateScorer, items: Sequence[Item], pictures: Sequence[Image.Image]) -> list[Score]:
    """The scorer's Score of each item's picture, in chunks of 512 images (bounded memory)."""
    scores: list[Score] = []
    for start in range(0, len(items), 512):
        chunk = items[start : start + 512]
        scores += scorer.score(
            pictures[start : start + 512], [i.own for i in chunk], [i.partners for i in chunk]
        )
    return scores


def judge(items: Sequence[Item], samples: Samples, scorer: GateScorer, cfg: GateConfig) -> None:
    """Scores every item's stored image and sets its verdict (the oracle's: its recorded failure)."""
    pictures = [decode(samples[i.group][1][i.record.key]) for i in items]
    for item, score in zip(items, score_items(scorer, items, pictures), strict=True):
        item.score = score
        if cfg.action == "oracle":
            item.failed = "recorded" if item.record.failure is not None else None
        else:
            item.failed = verdict(score, cfg)


def rerender(
    items: Sequence[Item], samples: Samples, scorer: GateScorer, cfg: GateConfig, ctx: RenderContext
) -> dict[tuple[int, str], list[Item]]:
    """Re-renders every column holding a failed image (module doc); returns the columns that passed, with
    their images replaced in `samples` and their records updated; failed items keep `failed` set."""
    columns: dict[tuple[int, str], list[Item]] = {}
    for item in items:
        columns.setdefault(item.column, []).append(item)
    pending = {key: col for key, col in columns.items() if any(i.failed for i in col)}
    passed: dict[tuple[int, str], list[Item]] = {}
    for attempt in range(1, cfg.max_tries + 1):
        if not pending:
            break
        flat = [item for col in pending.values() for item in col]
        seeds = [derive_seed(item.record.seed, "gate", attempt) for item in flat]
        jobs = [
            ImageJob(i.record.generator, i.own.text, i.own.spec, s) for i, s in zip(flat, seeds, strict=True)
        ]
        pictures = render_jobs(jobs, ctx.generators)
        scores = score_items(scorer, flat, pictures)
        for item, seed in zip(flat, seeds, strict=True):
            if item.failed:
                item.seeds.append(seed)
        by_item = {
            id(item): (pic, sc, s) for item, pic, sc, s in zip(flat, pictures, scores, seeds, strict=True)
        }
        for key in list(pending):
            col = pending[key]
            if all(verdict(by_item[id(i)][1], cfg) is None for i in col):
                for item in col:
                    picture, score, seed = by_item[id(item)]
                    _replace(item, samples, picture, score, seed, ctx)
                passed[key] = col
                del pending[key]
    return passed


def _replace(
    item: Item, samples: Samples, picture: Image.Image, score: Score, seed: int, ctx: RenderContext
) -> None:
    """Puts a re-rendered picture in place of an item's image (bytes and record)."""
    record = item.record
    ext = record.key.rsplit(".", 1)[-1]
    samples[item.group][1][record.key] = encode_image(picture, ext, ctx.images.size, record.generator)
    failure, drawn = drawn_record(record.generator, item.own.spec, seed)
    item.record = record.model_copy(update={"seed": seed, "failure": failure, "drawn": drawn})
    item.final = score


def _with_records(group: Group, items: Sequence[Item]) -> Group:
    """The group with each image record replaced by its item's (re-rendered) record."""
    by_key = {i.record.key: i.record for i in items}
    return group.model_copy(
        update={
            "images": [by_key[r.key] for r in group.images],
            "negatives": [
                n.model_copy(update={"images": [by_key[r.key] for r in n.images]}) for n in group.negatives
            ],
        }
    )


def apply_action(
    samples: Samples, items: Sequence[Item], cfg: GateConfig, rerendered: set[tuple[int, str]]
) -> Samples:
    """The gated samples: failed images dropped (or weighed), groups and negatives pruned (`rule`)."""
    by_group: dict[int, list[Item]] = {}
    for item in items:
        by_group.setdefault(item.group, []).append(item)
    out: Samples = []
    for g, (group, images) in enumerate(samples):
        members = by_group.get(g, [])
        group = _with_records(group, members)
        failed = {i.record.key for i in members if i.failed and i.column not in rerendered}
        if cfg.action == "downweight":
            out.append((weigh_group(group, lambda r, f=failed: r.key in f, cfg.weight), images))
            continue
        pruned = prune_group(group, lambda r, f=failed: r.key in f, cfg.min_images)
        if pruned is None:
            continue
        kept = {r.key for r in pruned.images} | {r.key for n in pruned.negatives for r in n.images}
        out.append((pruned, {k: v for k, v in images.items() if k in kept}))
    return out


def decision_rows(
    samples: Samples, gated: Samples, items: Sequence[Item], rerendered: set
) -> list[dict[str, Any]]:
    """One JSON row per source image: scores, verdict, recorded failure, outcome and seeds tried."""
    kept = {(g.id, r.key) for g, _ in gated for r in g.images} | {
        (g.id, r.key) for g, _ in gated for n in g.negatives for r in n.images
    }
    rows = []
    for item in items:
        group = samples[item.group][0]
        present = (group.id, item.record.key) in kept
        if item.failed and item.column in rerendered:
            outcome = "rerendered"
        elif item.column in rerendered:
            outcome = "redrawn-with-column"
        elif item.failed:
            outcome = "downweighted" if present else "dropped"
        else:
            outcome = "kept" if present else "removed-with-caption"
        assert item.score is not None
        rows.append(
            {
                "group": group.id,
                "key": item.record.key,
                "role": item.role,
                "generator": item.record.generator,
                "failure": _source_failure(group, item.record.key),
                "own": round(item.score.own, 6),
                "margin": None if item.score.margin is None else round(item.score.margin, 6),
                "flagged": item.failed,
                "outcome": outcome,
                "seeds": item.seeds,
                "final_failure": item.record.failure if present else None,
                "final_own": None if item.final is None else round(item.final.own, 6),
            }
        )
    return rows


def _source_failure(group: Group, key: str) -> str | None:
    """The failure the source record of `key` names (before any re-render)."""
    records = list(group.images) + [r for n in group.negatives for r in n.images]
    return next(r.failure for r in records if r.key == key)


def finished(output: Manifest, entry: ShardEntry, decisions: Path) -> bool:
    """Whether an output shard is done: listed, file matches its sha256, decisions written."""
    done = output.get(entry.split, entry.index)
    return done is not None and output.problem(done) is None and decisions.is_file()


def gate_shard(
    source: Manifest,
    entry: ShardEntry,
    output: Manifest,
    scorer: GateScorer,
    cfg: GateConfig,
    ctx: RenderContext | None,
    decisions_dir: Path,
) -> list[dict[str, Any]]:
    """Gates one train shard into the output (or skips it when finished); returns its decision rows."""
    decisions_path = decisions_dir / f"{Path(entry.path).stem}.json"
    if finished(output, entry, decisions_path):
        return read_json(decisions_path)
    samples = list(read_shard(source.shard_path(entry)))
    original = [(g, dict(images)) for g, images in samples]
    items = shard_items(samples)
    judge(items, samples, scorer, cfg)
    rerendered: set[tuple[int, str]] = set()
    if cfg.action == "rerender":
        if ctx is None:
            raise ValueError("gate.action=rerender needs the dataset's generators (no render context given)")
        rerendered = set(rerender(items, samples, scorer, cfg, ctx))
    gated = apply_action(samples, items, cfg, rerendered)
    if not gated:
        raise ValueError(
            f"{source.shard_path(entry)}: the gate dropped every group of this shard; lower gate.threshold "
            "or gate.min_images, or check that gate.model can judge these images"
        )
    rows = decision_rows(original, gated, items, rerendered)
    atomic_write_json(decisions_path, rows)
    sha = write_shard(output.dataset_dir / entry.path, gated)
    n_images = sum(len(images) for _, images in gated)
    output.add(entry.model_copy(update={"sha256": sha, "n_groups": len(gated), "n_images": n_images}))
    output.save()
    return rows
