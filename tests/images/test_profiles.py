"""Generator profiles: parsing, each failure mode at its configured rate and recorded truthfully, diversity."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from synthmphn.data.records import CaptionSpec, Group, ImageRecord
from synthmphn.images.procedural import create_procedural_generator, drawn_record
from synthmphn.images.procedural.render import render_scene
from synthmphn.images.procedural.scene import parse_scene
from synthmphn.images.profiles import DIVERSITY_PRESETS, FAILURE_MODES, parse_profile, split_profile

SPEC = CaptionSpec(subject="digit 3", category="digit", attributes={"colour": "red", "count": "two"})


def test_fidelity_splits_evenly_and_single_modes_override() -> None:
    profile = parse_profile("fidelity=0.8&swap=0.1")
    assert profile.failures == pytest.approx(
        {"omission": 0.04, "count": 0.04, "binding": 0.04, "swap": 0.1, "small": 0.04}
    )
    assert profile.fidelity == pytest.approx(0.74)
    assert split_profile("photo?diversity=low") == ("photo", parse_profile("diversity=low"))
    assert split_profile("photo")[1].is_default and parse_profile("fidelity=1&diversity=medium").is_default
    assert parse_profile("diversity=low&modes=2").diversity == replace(DIVERSITY_PRESETS["low"], modes=2)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("fidelty=0.8", r"unknown profile key\(s\) \['fidelty'\]"),
        ("fidelity=1.5", r"fidelity='1.5' must lie in \[0.0, 1.0\]"),
        ("omission=0.6&swap=0.6", r"failure rates sum to 1.200 > 1"),
        ("diversity=wild", r"diversity='wild' must be one of collapsed, low, medium, high"),
    ],
)
def test_bad_profiles_name_the_entry_and_key(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        create_procedural_generator(f"flat?{query}", 32)
    assert f"procedural:flat?{query}" in str(err.value)


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_each_failure_mode_at_its_rate_and_recorded(mode: str) -> None:
    """Over n seeds the mode is drawn k ~ Binomial(n, r) times (|k - nr| <= 4 sd) and every record says so."""
    rate, n = 0.3, 600
    name = f"procedural:flat?{mode}={rate}"
    generator = create_procedural_generator(name.partition(":")[2], 32)
    decisions = [generator.decision(SPEC, seed) for seed in range(n)]
    k = sum(d.failure == mode for d in decisions)
    assert abs(k - n * rate) <= 4 * math.sqrt(n * rate * (1 - rate))
    assert {d.failure for d in decisions} == {None, mode}  # no other mode is ever drawn
    for seed, decision in list(enumerate(decisions))[:40]:
        assert drawn_record(name, SPEC, seed) == (decision.failure, decision.drawn)
        assert (decision.drawn is None) == (decision.failure is None)


def test_recorded_scene_is_what_the_image_shows() -> None:
    """A swap/count/binding image equals a faithful render of what its record says was drawn."""
    style = create_procedural_generator("flat", 32).style
    generator = create_procedural_generator("flat?count=0.3&swap=0.3&binding=0.3", 32)
    seen = set()
    for seed in range(60):
        decision = generator.decision(SPEC, seed)
        if decision.failure is None:
            continue
        seen.add(decision.failure)
        attributes = {**SPEC.attributes, **{k: v for k, v in decision.drawn.items() if k != "subject"}}
        subject = decision.drawn.get("subject", SPEC.subject)
        drawn_spec = CaptionSpec(subject=subject, category="digit", attributes=attributes)
        expected = render_scene(style, parse_scene(drawn_spec, "x"), seed, 32)
        image = generator.generate([""], [SPEC], [seed])[0]
        assert np.array_equal(np.asarray(image), np.asarray(expected)), (seed, decision)
    assert seen == {"count", "swap", "binding"}


def test_omission_and_small_change_the_image_and_faithful_profiles_do_not() -> None:
    plain = create_procedural_generator("flat", 32)
    same = create_procedural_generator("flat?fidelity=1&diversity=medium", 32)
    seeds = list(range(8))
    faithful = [np.asarray(im) for im in plain.generate([""] * 8, [SPEC] * 8, seeds)]
    assert all(
        np.array_equal(a, np.asarray(b))
        for a, b in zip(faithful, same.generate([""] * 8, [SPEC] * 8, seeds), strict=True)
    )
    for mode in ("omission", "small"):
        failed = create_procedural_generator(f"flat?{mode}=1", 32).generate([""] * 8, [SPEC] * 8, seeds)
        assert all(not np.array_equal(a, np.asarray(b)) for a, b in zip(faithful, failed, strict=True))


def test_collapsed_diversity_is_one_render_per_caption() -> None:
    collapsed = create_procedural_generator("photo?diversity=collapsed", 32)
    images = [np.asarray(im) for im in collapsed.generate([""] * 5, [SPEC] * 5, [3, 77, 1000, 5, 2**40])]
    assert all(np.array_equal(images[0], im) for im in images[1:])
    low = create_procedural_generator("photo?diversity=low", 32)  # 4 modes: at most 4 distinct renders
    renders = {np.asarray(im).tobytes() for im in low.generate([""] * 12, [SPEC] * 12, list(range(12)))}
    assert 1 < len(renders) <= 4


def test_image_records_keep_old_readers_working() -> None:
    faithful = ImageRecord(key="base.0.png", generator="procedural:flat", seed=1)
    failed = ImageRecord(
        key="base.1.png", generator="g", seed=2, failure="swap", drawn={"subject": "digit 8"}
    )
    assert faithful.model_dump(mode="json") == {
        "key": "base.0.png",
        "generator": "procedural:flat",
        "seed": 1,
    }
    group = Group(id="g0", caption="c", images=[faithful, failed])
    assert Group.model_validate_json(group.model_dump_json()) == group  # round trip
