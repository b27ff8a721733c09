"""MSM strategies at an equal budget, negatives planned like their base, and pool creation errors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from synthmphn.config import ImagesConfig
from synthmphn.data.records import CaptionSpec
from synthmphn.images import STRATEGIES, ImageJob, create_pool, plan_group, plan_images, render_jobs

POOL = [
    "procedural:flat",
    "procedural:sketch",
    "procedural:photo",
    "procedural:pixel",
    "procedural:painterly",
]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_equal_budget_and_determinism(strategy):
    pool = POOL[:1] if strategy == "single" else POOL
    plan = plan_images("g0000001", pool, strategy, per_caption=5, seed=0)
    assert len(plan) == 5
    assert plan == plan_images("g0000001", pool, strategy, per_caption=5, seed=0)
    assert plan != plan_images("g0000002", pool, strategy, per_caption=5, seed=0)
    assert len({seed for _, seed in plan}) == 5
    assert all(name in pool for name, _ in plan)


def test_single_uses_its_one_generator_and_rejects_bigger_pools():
    plan = plan_images("g1", ["procedural:flat"], "single", 4, seed=1)
    assert {name for name, _ in plan} == {"procedural:flat"}
    with pytest.raises(ValueError, match="images.pool"):
        plan_images("g1", POOL, "single", 4, seed=1)


def test_msm_all_uses_every_member_equally():
    plan = plan_images("g1", POOL, "msm-all", 10, seed=3)
    assert Counter(name for name, _ in plan) == dict.fromkeys(POOL, 2)
    assert [name for name, _ in plan[:5]] == POOL  # cycled in pool order
    with pytest.raises(ValueError, match="images.per_caption"):
        plan_images("g1", POOL, "msm-all", 7, seed=3)


def test_msm_random_spreads_over_the_pool():
    counts = Counter(
        name for g in range(400) for name, _ in plan_images(f"g{g}", POOL, "msm-random", 5, seed=0)
    )
    assert set(counts) == set(POOL)
    assert min(counts.values()) > 0.15 * 2000


def test_unknown_strategy_lists_strategies():
    with pytest.raises(ValueError, match="msm-all"):
        plan_images("g1", POOL, "round-robin", 5, seed=0)


def test_negatives_reuse_base_generators_and_seeds():
    plans = plan_group("g7", POOL, "msm-random", 5, seed=2, n_negatives=2)
    assert set(plans) == {"base", "neg0", "neg1"}
    assert plans["neg0"] == plans["base"] == plans["neg1"]
    # an independent role gives independent seeds (for uncontrolled negatives)
    other = plan_images("g7", POOL, "msm-random", 5, seed=2, role="neg0")
    assert [s for _, s in other] != [s for _, s in plans["base"]]


def test_create_pool_builds_named_generators():
    pool = create_pool(POOL + ["procedural:mosaic"], 32, ImagesConfig())
    assert list(pool) == POOL + ["procedural:mosaic"]
    assert all(pool[name].name == name for name in pool)


def test_create_pool_unknown_kind_lists_known_kinds():
    with pytest.raises(KeyError, match="diffusers.*procedural"):
        create_pool(["procedural:flat", "gan:stylegan"], 32, ImagesConfig())


def test_create_pool_unknown_style_lists_styles():
    with pytest.raises(KeyError, match="flat.*mosaic.*painterly.*photo.*pixel.*sketch"):
        create_pool(["procedural:cubist"], 32, ImagesConfig())


def test_create_pool_entry_without_kind():
    with pytest.raises(ValueError, match="<kind>:<arg>"):
        create_pool(["flat"], 32, ImagesConfig())


def test_create_pool_missing_diffusers_path(tmp_path):
    missing = tmp_path / "no-such-pipeline"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        create_pool([f"diffusers:{missing}"], 32, ImagesConfig())


def test_render_jobs_match_per_image_generation_and_negative_is_controlled():
    generators = create_pool(POOL, 32, ImagesConfig())
    base_spec = CaptionSpec(
        subject="fish", category="object", attributes={"colour": "red", "position": "left"}
    )
    neg_spec = base_spec.with_change("attribute:colour", "blue")
    plans = plan_group("g3", POOL, "msm-all", 5, seed=0, n_negatives=1)
    base = render_jobs(
        [ImageJob(g, "a red fish on the left", base_spec, s) for g, s in plans["base"]], generators
    )
    neg = render_jobs(
        [ImageJob(g, "a blue fish on the left", neg_spec, s) for g, s in plans["neg0"]], generators
    )
    assert len(base) == len(neg) == 5
    for (name, seed), image in zip(plans["base"], base, strict=True):
        alone = generators[name].generate([""], [base_spec], [seed])[0]
        assert alone.tobytes() == image.tobytes()
    for b, n in zip(base, neg, strict=True):  # right half (away from the fish) is unchanged
        assert np.array_equal(np.asarray(b)[:, 24:], np.asarray(n)[:, 24:])
