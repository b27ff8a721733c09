"""The caption stage of a build: every split's caption drafts, cached so a resumed build reuses them.

Splits: `train` (ids g...), `heldout` (h..., unseen captions, drawn by `splits.reference_pool`, or the
training pool when that is null) and `heldout_style` (s..., unseen captions, drawn only by
`images.heldout_style`). Held-out captions depend on the caption config and seed alone, never on the images
section, so every variant of a grid that shares the caption config gets the same held-out texts. The cache in `dataset/captions/` keeps a resumed
build on the same captions even when the backend is a non-deterministic LLM.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthmphn.build.plan import CAPTIONS_DIR, SPLIT_PREFIXES, BuildError, split_sizes
from synthmphn.captions import class_table, create_caption_backend
from synthmphn.captions.llm import LLMBackend
from synthmphn.captions.misalign import apply_misalignment
from synthmphn.captions.unseen import SEEN_IN_TRAIN, generate_unseen, train_texts
from synthmphn.config import RunConfig
from synthmphn.data.records import CaptionDraft
from synthmphn.data.shards import check_group_id
from synthmphn.io import atomic_write_json, atomic_write_text, read_json
from synthmphn.seeding import derive_seed


@dataclass
class Captions:
    """Caption drafts per split and rejected-negative counts by reason."""

    drafts: dict[str, list[CaptionDraft]]
    rejections: Counter[str] = field(default_factory=Counter)


def generate_captions(cfg: RunConfig) -> Captions:
    """Writes every split's captions: train without duplicate base captions, held-out splits without any
    text (base or HN) seen in train (`captions.unseen`)."""
    backend = create_caption_backend(cfg.captions)
    result = Captions({})
    seen: set[str] = set()
    oversample = not isinstance(backend, LLMBackend)  # an LLM is asked for n, then only the shortfall
    for split, n in split_sizes(cfg).items():
        if n == 0 or (split == "heldout_style" and cfg.images.heldout_style is None):
            continue
        seed = derive_seed(cfg.seed, "captions", split)
        train = split == "train"
        out = generate_unseen(backend, n, seed, SPLIT_PREFIXES[split], seen, oversample, distinct=train)
        drafts = list(out.drafts)
        if train:
            drafts = apply_misalignment(drafts, cfg.captions, cfg.seed)  # no-op unless misalign_p > 0
            seen = train_texts(drafts)
        n_seen = out.rejections.pop(SEEN_IN_TRAIN, 0)
        if n_seen:
            result.rejections[f"{split}: caption also in train"] += min(n_seen, n)
        result.rejections.update(out.rejections)
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
