"""One train shard recaptioned, or one other shard copied (steps 4-5 of `recaption.pipeline`).

Only `Group.caption` changes; images are copied byte for byte. The decisions are written before the shard,
the manifest after it, each atomically, so a rerun skips exactly the shards that are finished.
"""

from __future__ import annotations

import io
import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from synthmphn.captions.concepts import bank_for
from synthmphn.captions.misalign import true_caption
from synthmphn.config import RunConfig
from synthmphn.data.manifest import Manifest, ShardEntry
from synthmphn.data.records import Group
from synthmphn.data.shards import read_shard, write_shard
from synthmphn.io import atomic_open, atomic_write_json, read_json
from synthmphn.recaption.base import Captioner
from synthmphn.recaption.filter import Decision, Scorer, filter_captions


def decode_image(data: bytes) -> Image.Image:
    """An RGB PIL image from encoded bytes."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


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
    decisions_dir: Path,
) -> list[dict[str, Any]]:
    """Recaptions one train shard into the output (or skips it when finished); returns its decision rows.

    The rows are written to `decisions_dir/<shard stem>.json` before the shard itself.
    """
    decisions_path = decisions_dir / f"{Path(entry.path).stem}.json"
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
    truth = true_caption_verdicts(samples, candidates, images, scorer, cfg)
    rows = decision_rows(samples, candidates, verdicts, truth)
    atomic_write_json(decisions_path, rows)
    written = [_with_caption(group, data, rows[i]["caption"]) for i, (group, data) in enumerate(samples)]
    path = output.dataset_dir / entry.path
    sha = write_shard(path, written)
    output.add(entry.model_copy(update={"sha256": sha}))
    output.save()
    return rows


def true_caption_verdicts(
    samples: list[tuple[Group, dict[str, bytes]]],
    candidates: list[int],
    images: list[list[Image.Image]],
    scorer: Scorer,
    cfg: RunConfig,
) -> dict[int, Decision]:
    """sample index -> the filter's verdict on each misaligned candidate's TRUE caption (`true_caption`).

    The filter alone, as if the captioner were perfect: the testbed knows the truth, so a recaption run can
    tell a filter that cannot catch a misaligned caption from a captioner that never proposes the right one.
    Nothing here changes the written shards."""
    bank = bank_for(cfg.captions)
    chosen, fixed = [], []
    for j, i in enumerate(candidates):
        group = samples[i][0]
        text = (
            true_caption(group.caption, group.spec.subject, bank) if group.misaligned and group.spec else None
        )
        if text is not None:
            chosen.append(j)
            fixed.append(text)
    verdicts = filter_captions(
        scorer,
        [images[j] for j in chosen],
        [samples[candidates[j]][0].caption for j in chosen],
        fixed,
        cfg.recaption.alpha,
    )
    return {candidates[j]: verdict for j, verdict in zip(chosen, verdicts, strict=True)}


def decision_rows(
    samples: list[tuple[Group, dict[str, bytes]]],
    candidates: list[int],
    verdicts: list[Decision],
    truth: dict[int, Decision] | None = None,
) -> list[dict[str, Any]]:
    """One JSON row per group of a shard: id, clean flag, misaligned truth, decision (None for S_h), caption,
    and for a misaligned candidate the filter's verdict on its true caption (`true_caption_verdicts`)."""
    by_index = dict(zip(candidates, verdicts, strict=True))
    rows = []
    for i, (group, _) in enumerate(samples):
        verdict = by_index.get(i)
        row = {
            "id": group.id,
            "clean": verdict is None,
            "misaligned": group.misaligned,
            "decision": verdict.to_json() if verdict else None,
            "caption": verdict.caption if verdict else group.caption,
        }
        if truth and i in truth:
            row["true_caption_decision"] = truth[i].to_json()
        rows.append(row)
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
