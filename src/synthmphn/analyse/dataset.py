"""`synthmphn analyse DATASET`: what a dataset's generators offer, before any CLIP is trained on it.

1. The map (the thesis's figure): per generator of the training split, recognizability and diversity
   judged by the fixed reference model (`eval.generators`, `eval.reference`), plus the share of its images
   whose record says a profile failure was drawn (`failure_rate`, from the image records).
2. The transfer ceiling: per real set (sklearn digits, MNIST, Fashion-MNIST), the accuracy of a small
   supervised classifier (`eval.classifier`, grey with canonical polarity) trained on the dataset's own
   images of the set's classes with the spec's subject as label. One row per generator (its images only)
   and one for the pool (images of every generator), all at the same image budget (`budget`, or fewer when
   a generator drew fewer images of the set's classes), so a row
   measures the renders, not how many there are. Zero-shot transfer of a CLIP trained on the dataset is
   judged against this ceiling. Digit sets share one classifier (sklearn digits and MNIST).

Writes `analyse.json`, `analyse.png` (the map) and `ceiling.png` into the output folder and returns the
rows; `format_analysis` prints them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthmphn.eval.base import EVAL_SEED
from synthmphn.eval.classifier import TrainSettings, logits_and_embeddings, pixels, train_classifier
from synthmphn.eval.datasets import REAL_SETS, DatasetUnavailable, LabelledImages
from synthmphn.eval.generators import generator_rows
from synthmphn.eval.groups import GroupSource, open_split, read_classes, split_images
from synthmphn.eval.plots import save_figure, save_tradeoff_scatter
from synthmphn.eval.reference import Reference
from synthmphn.images.procedural import canonical_subject
from synthmphn.io import atomic_write_json

POOL = "pool"


@dataclass(frozen=True)
class AnalyseSettings:
    """How much work `analyse` does: images judged per generator, and the ceiling's budget and training."""

    map_images: int = 1500  # per generator, subsampled with EVAL_SEED
    budget: int = 1500  # ceiling training images per row (generator or pool)
    train: TrainSettings = TrainSettings(epochs=8, batch_size=64, width=16)
    side: int = 28
    centre: bool = (
        True  # MNIST's normalisation (ink box to 20/28, centred by mass) on renders and real images
    )


def dataset_folder(path: Path) -> Path:
    """A dataset folder, or the `dataset/` of a run folder."""
    path = Path(path)
    return path / "dataset" if (path / "config.yaml").exists() and (path / "dataset").is_dir() else path


def failure_rates(source: GroupSource) -> dict[str, dict[str, float]]:
    """Per generator: the share of its images whose record names a failure, and the share per mode."""
    totals: Counter[str] = Counter()
    modes: dict[str, Counter[str]] = {}
    for group in source.groups:
        for record in [*group.images, *(r for n in group.negatives for r in n.images)]:
            totals[record.generator] += 1
            if record.failure is not None:
                modes.setdefault(record.generator, Counter())[record.failure] += 1
    rates = {}
    for name, total in totals.items():
        counts = modes.get(name, Counter())
        rates[name] = {
            "failure_rate": sum(counts.values()) / total,
            **{m: c / total for m, c in counts.items()},
        }
    return rates


def _subsample(rows: np.ndarray, limit: int, seed: int = EVAL_SEED) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))


def generator_map(
    source: GroupSource, dataset_dir: Path, reference: Reference, settings: AnalyseSettings
) -> list[dict[str, Any]]:
    """The map's rows (see module doc): one per generator of the split."""
    classes = read_classes(dataset_dir, [source])
    split = split_images(source, classes, "train")
    names = np.array(split.generators)
    keep = np.concatenate(
        [_subsample(np.flatnonzero(names == g), settings.map_images) for g in np.unique(names)]
    )
    images = [split.labelled.images[int(i)] for i in keep]
    logits, features = reference.judge(images, [c.subject for c in classes])
    rows = generator_rows(
        features, logits, split.labelled.labels[keep], [split.generators[i] for i in keep], set()
    )
    rates = failure_rates(source)
    for row in rows:
        row.pop("heldout_style")
        row.update(rates.get(row["generator"], {"failure_rate": 0.0}))
    return rows


def _columns(real: LabelledImages, dataset_classes: list[str]) -> dict[int, int] | None:
    """Dataset class index -> real-set label, for the dataset classes that are real-set classes."""
    wanted = {canonical_subject(name) or name: label for label, name in enumerate(real.classnames)}
    mapping = {
        i: wanted[canonical_subject(c) or c]
        for i, c in enumerate(dataset_classes)
        if (canonical_subject(c) or c) in wanted
    }
    return mapping if len(set(mapping.values())) == len(real.classnames) else None


def ceiling_rows(
    source: GroupSource,
    dataset_dir: Path,
    real_sets: Sequence[tuple[str, Callable[[], LabelledImages]]],
    settings: AnalyseSettings,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Real-set accuracy of classifiers trained on each generator's (and the pool's) images; plus notes."""
    classes = read_classes(dataset_dir, [source])
    split = split_images(source, classes, "train")
    names = np.array(split.generators)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    trained: dict[tuple, Any] = {}
    for set_name, load in real_sets:
        try:
            real = load()
        except DatasetUnavailable as err:
            notes.append(str(err))
            continue
        mapping = _columns(real, [c.subject for c in classes])
        if mapping is None:
            notes.append(
                f"{set_name}: the dataset has no images of all {len(real.classnames)} classes; no ceiling"
            )
            continue
        in_set = np.isin(split.labelled.labels, list(mapping))
        x_real = pixels(real.images, settings.side, grey=True, centre=settings.centre)
        members = sorted(set(split.generators))
        budget = min([settings.budget, *(int((in_set & (names == g)).sum()) for g in members)])
        for generator in [POOL, *members]:
            chosen = np.flatnonzero(in_set & ((names == generator) | (generator == POOL)))
            chosen = _subsample(chosen, budget)
            key = (tuple(sorted(mapping.items())), generator)
            if key not in trained:
                images = [split.labelled.images[int(i)] for i in chosen]
                x = pixels(images, settings.side, grey=True, centre=settings.centre)
                y = np.array([mapping[int(c)] for c in split.labelled.labels[chosen]])
                trained[key] = train_classifier(x, y, len(real.classnames), settings.train)
            logits, _ = logits_and_embeddings(trained[key], x_real)
            accuracy = float((logits.argmax(axis=1) == real.labels).mean())
            rows.append(
                {"real_set": set_name, "generator": generator, "n_train": len(chosen), "accuracy": accuracy}
            )
    return rows, notes


def save_ceiling_plot(rows: list[dict[str, Any]], path: Path) -> Path:
    """Grouped bars: real-set accuracy of the ceiling classifier per generator (pool first)."""
    from matplotlib.figure import Figure

    sets = list(dict.fromkeys(r["real_set"] for r in rows))
    generators = list(dict.fromkeys(r["generator"] for r in rows))
    fig = Figure(figsize=(7.2, 4.2))
    ax = fig.subplots()
    width = 0.8 / max(len(generators), 1)
    for j, generator in enumerate(generators):
        values = [
            next((r["accuracy"] for r in rows if r["real_set"] == s and r["generator"] == generator), 0.0)
            for s in sets
        ]
        ax.bar(np.arange(len(sets)) + j * width, values, width, label=generator, color=f"C{j % 10}")
    ax.set_xticks(np.arange(len(sets)) + 0.4 - width / 2, sets)
    ax.set_ylabel("real-set accuracy (supervised on the dataset's renders)")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    ax.set_title("Transfer ceiling per generator")
    return save_figure(fig, path)


def run_analysis(
    dataset: Path,
    reference: Reference | Callable[[], Reference],
    out_dir: Path | None = None,
    settings: AnalyseSettings | None = None,
    real_sets: Sequence[tuple[str, Callable[[], LabelledImages]]] | None = None,
) -> dict[str, Any]:
    """The map and the ceilings of a built dataset (see module doc); written to `out_dir` (default DATASET/analyse).

    `reference` may be a loader, called once the dataset is found (training a reference takes minutes).
    """
    settings = settings or AnalyseSettings()
    dataset_dir = dataset_folder(dataset)
    source = open_split(dataset_dir, "train")
    if not hasattr(reference, "judge"):
        reference = reference()  # type: ignore[operator]
    out = Path(out_dir or dataset_dir / "analyse")
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"dataset": str(dataset_dir), "reference_model": reference.name}
    result["map"] = generator_map(source, dataset_dir, reference, settings)
    ceilings, notes = ceiling_rows(source, dataset_dir, list(real_sets or REAL_SETS.items()), settings)
    result["ceiling"], result["notes"] = ceilings, notes
    save_tradeoff_scatter(result["map"], out / "analyse.png", f"Generators (reference: {reference.name})")
    if ceilings:
        save_ceiling_plot(ceilings, out / "ceiling.png")
    atomic_write_json(out / "analyse.json", result)
    result["out_dir"] = str(out)
    return result


def format_analysis(result: dict[str, Any]) -> str:
    """The map and the ceilings as aligned plain-text tables."""
    lines = [f"reference model: {result['reference_model']}", "", "generator map (training split):"]
    lines.append(f"  {'generator':52s} {'images':>7s} {'recogn.':>8s} {'divers.':>8s} {'failures':>9s}")
    for row in result["map"]:
        diversity = "-" if row["diversity"] is None else f"{row['diversity']:.3f}"
        lines.append(
            f"  {row['generator']:52s} {row['n_images']:7d} {row['recognizability']:8.3f} {diversity:>8s} "
            f"{row['failure_rate']:9.3f}"
        )
    lines += ["", "transfer ceiling (supervised on the renders, accuracy on the real set):"]
    for row in result["ceiling"]:
        lines.append(
            f"  {row['real_set']:14s} {row['generator']:52s} n={row['n_train']:5d}  {row['accuracy']:.3f}"
        )
    lines += [f"  note: {note}" for note in result["notes"]]
    lines.append(f"\nwritten: {result['out_dir']}/analyse.json, analyse.png, ceiling.png")
    return "\n".join(lines)
