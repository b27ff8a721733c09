"""Generator analysis: a faithful, uniform generator vs one drawing unrecognisable, varied images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eval_fakes import COLOURS, SUBJECTS, ConceptEncoder, World, make_group, subject_in

import synthmphn.eval.generators as generators_module
from synthmphn.config import EvalConfig
from synthmphn.data.manifest import Manifest, ShardEntry, shard_name
from synthmphn.data.shards import write_shard
from synthmphn.eval.generators import capped, class_diversity, generators_task, mean_pairwise_distance
from synthmphn.eval.reference import ClipReference


def test_pairwise_distance_by_hand() -> None:
    assert mean_pairwise_distance(np.eye(3)) == pytest.approx(1.0)
    assert mean_pairwise_distance(np.ones((4, 2)) / np.sqrt(2)) == pytest.approx(0.0)
    assert class_diversity(np.eye(3), np.array([0, 0, 1])) == pytest.approx(1.0)  # class 1 has 1 image
    assert class_diversity(np.eye(2), np.array([0, 1])) is None


def judge_with(monkeypatch: pytest.MonkeyPatch, encoder: ConceptEncoder) -> None:
    """Makes `encoder` the reference model (zero-shot) of the generators task."""
    monkeypatch.setattr(generators_module, "reference_for", lambda config: ClipReference(encoder, "fake"))


def test_tradeoff_table_and_plot(
    dataset: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = iter(range(10**6))

    def concept(image) -> str | None:
        # fake:a draws its subject exactly; fake:b draws every image differently and unrecognisably
        if world.about(image, "generator") == "fake:b":
            return f"noise {next(counter)}"
        return world.about(image, "subject")

    judge_with(monkeypatch, ConceptEncoder(concept, subject_in))
    evaluated = ConceptEncoder(lambda image: "anything", lambda text: "anything")  # never consulted
    result = generators_task(evaluated, dataset, tmp_path, EvalConfig())
    assert result.errors == []
    rows = {row["generator"]: row for row in result.tables["generators"]}
    assert set(rows) == {"fake:a", "fake:b", "fake:style"}
    assert rows["fake:a"]["recognizability"] == 1.0 and rows["fake:a"]["diversity"] == pytest.approx(0.0)
    assert rows["fake:b"]["recognizability"] == pytest.approx(1 / len(SUBJECTS))  # all tied -> chance
    assert rows["fake:b"]["diversity"] == pytest.approx(1.0)
    assert rows["fake:style"]["heldout_style"] and not rows["fake:a"]["heldout_style"]
    assert rows["fake:a"]["n_images"] == 18  # 6 groups x (base + 2 negatives)
    assert result.metrics["fake:b/diversity"] == pytest.approx(1.0)
    assert result.plots["generators"].read_bytes()[:4] == b"\x89PNG"


def test_the_evaluated_model_does_not_move_the_map(
    dataset: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two very different evaluated models give the same recognizability and diversity (the reference's)."""
    judge_with(monkeypatch, ConceptEncoder(lambda image: world.about(image, "subject"), subject_in))
    blind = ConceptEncoder(lambda image: "same", lambda text: "same")
    sighted = ConceptEncoder(lambda image: world.about(image, "subject"), subject_in)
    a = generators_task(blind, dataset, tmp_path / "a", EvalConfig())
    b = generators_task(sighted, dataset, tmp_path / "b", EvalConfig())
    assert a.tables["generators"] == b.tables["generators"]
    assert all(row["recognizability"] == 1.0 for row in a.tables["generators"])


def add_train_split(dataset: Path, world: World, generator: str, n_groups: int) -> None:
    """Adds a `train` shard drawn by `generator` alone to a fake dataset (its own pool, unlike `heldout`)."""
    samples = [
        make_group(world, f"g{n:04d}", SUBJECTS[n % 3], COLOURS[n % 2], [generator], "train")
        for n in range(n_groups)
    ]
    path = dataset / shard_name("train", 0)
    sha = write_shard(path, samples)
    manifest = Manifest.load(dataset)
    n_images = sum(len(images) for _, images in samples)
    manifest.add(
        ShardEntry(path=path.name, split="train", index=0, n_groups=n_groups, n_images=n_images, sha256=sha)
    )
    manifest.save()


def test_the_map_shows_the_training_pool_not_the_reference_pool(
    dataset: Path, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a train split, the map's rows are its generators (capped per generator) and the held-out style;
    `heldout` (drawn by the reference pool, fake:a / fake:b here) is not the run's pool."""
    add_train_split(dataset, world, "fake:own", n_groups=5)
    monkeypatch.setattr(generators_module, "MAP_IMAGES", 4)
    judge_with(monkeypatch, ConceptEncoder(lambda image: world.about(image, "subject"), subject_in))
    result = generators_task(ConceptEncoder(str, str), dataset, tmp_path, EvalConfig())
    assert result.errors == []
    rows = {row["generator"]: row for row in result.tables["generators"]}
    assert set(rows) == {"fake:own", "fake:style"}
    assert rows["fake:own"]["n_images"] == 4 and not rows["fake:own"]["heldout_style"]  # 15 images, 4 kept
    assert rows["fake:style"]["n_images"] == 4 and rows["fake:style"]["heldout_style"]
    assert capped(["x", "y", "x", "x"], limit=2).tolist() in ([0, 1, 2], [0, 1, 3], [1, 2, 3])
