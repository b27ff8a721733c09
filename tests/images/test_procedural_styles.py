"""Every registered procedural style: determinism, size, faithfulness to each attribute, every subject."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from synthmphn.data.records import CaptionSpec
from synthmphn.images import GENERATORS
from synthmphn.images.procedural import (
    HELDOUT_STYLES,
    STYLES,
    SUBJECT_CATEGORIES,
    SUPPORTED_SUBJECTS,
    TRAINING_STYLES,
    create_procedural_generator,
)

ALL_STYLES = STYLES.names()


def spec(subject: str, **attributes: str) -> CaptionSpec:
    return CaptionSpec(
        subject=subject, category=SUBJECT_CATEGORIES.get(subject, "object"), attributes=attributes
    )


def render(style: str, s: CaptionSpec, seed: int = 0, size: int = 64) -> np.ndarray:
    image = create_procedural_generator(style, size).generate([""], [s], [seed])[0]
    return np.asarray(image, dtype=np.float32)


def subject_map(style: str, seed: int = 0, px: int = 64, **attributes: str) -> np.ndarray:
    """Where the subject is: |black version - white version| on a grey background (same layout, seed)."""
    dark = render(style, spec("circle", colour="black", background="grey", **attributes), seed, px)
    light = render(style, spec("circle", colour="white", background="grey", **attributes), seed, px)
    return np.abs(dark - light).mean(axis=-1)


def test_styles_registered_with_heldout_mosaic():
    assert set(TRAINING_STYLES) >= {"flat", "sketch", "photo", "pixel", "painterly"}
    assert HELDOUT_STYLES == ("mosaic",)
    assert "procedural" in GENERATORS and "diffusers" in GENERATORS


@pytest.mark.parametrize("style", ALL_STYLES)
@pytest.mark.parametrize("size", [32, 40])
def test_deterministic_rgb_of_requested_size(style, size):
    s = spec("star", colour="green", count="two", texture="striped", background="blue sky")
    gen = create_procedural_generator(style, size)
    first, second = gen.generate(["", ""], [s, s], [7, 7])
    again = create_procedural_generator(style, size).generate([""], [s], [7])[0]
    assert first.mode == "RGB" and first.size == (size, size)
    assert first.tobytes() == second.tobytes() == again.tobytes()


@pytest.mark.parametrize("style", ALL_STYLES)
def test_different_seeds_differ(style):
    s = spec("digit 4")
    assert not np.array_equal(render(style, s, seed=1), render(style, s, seed=2))


@pytest.mark.parametrize("style", ALL_STYLES)
def test_colour_is_rendered(style):
    red = render(style, spec("circle", colour="red", size="large", background="white"), seed=3)
    blue = render(style, spec("circle", colour="blue", size="large", background="white"), seed=3)
    changed = np.abs(red - blue).sum(axis=-1) > 30
    assert changed.mean() > 0.02, "the colour edit should repaint the subject"
    red_rb = (red[changed][:, 0] - red[changed][:, 2]).mean()
    blue_rb = (blue[changed][:, 0] - blue[changed][:, 2]).mean()
    assert red_rb > 20 and blue_rb < -20


@pytest.mark.parametrize("style", ALL_STYLES)
def test_colour_edit_keeps_layout_and_background(style):
    """A hard negative rendered with its base's seed changes only the edited slot."""
    base = render(
        style, spec("house", colour="red", size="small", position="top left", background="sand"), seed=5
    )
    edit = render(
        style, spec("house", colour="blue", size="small", position="top left", background="sand"), seed=5
    )
    same = np.all(base == edit, axis=-1)
    assert same[32:, 32:].mean() > 0.95  # far from the subject nothing moves
    assert not same.all()


@pytest.mark.parametrize("style", ALL_STYLES)
@pytest.mark.parametrize(
    ("position", "expect"),
    [("left", (None, "low")), ("top", ("low", None)), ("bottom right", ("high", "high"))],
)
def test_position_puts_mass_in_region(style, position, expect):
    diff = subject_map(style, seed=11, position=position, size="medium")
    ys, xs = np.mgrid[0:64, 0:64]
    total = diff.sum()
    assert total > 0
    cy, cx = (diff * ys).sum() / total, (diff * xs).sum() / total
    for centre, want in zip((cy, cx), expect, strict=True):
        if want == "low":
            assert centre < 28
        elif want == "high":
            assert centre > 36


@pytest.mark.parametrize("style", ALL_STYLES)
def test_size_orders_subject_area(style):
    areas = [
        (subject_map(style, seed=4, size=s, position="center") > 40).mean()
        for s in ("small", "medium", "large")
    ]
    assert areas[0] < areas[1] < areas[2]


@pytest.mark.parametrize("count", [1, 2, 3, 4])
@pytest.mark.parametrize("subject", ["circle", "square", "star", "heart"])
def test_flat_count_gives_that_many_blobs(count, subject):
    for seed in range(3):
        words = {1: "one", 2: "two", 3: "three", 4: "4"}
        image = render(
            "flat", spec(subject, colour="black", background="white", count=words[count]), seed=seed
        )
        labels, n = ndimage.label(image.mean(axis=-1) < 128, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel())[1:]
        assert (sizes >= 4).sum() == count, (subject, count, seed, sizes)  # ignore antialiased tip pixels


def test_count_words_and_digits_agree():
    words = render("photo", spec("circle", count="three"), seed=9)
    digits = render("photo", spec("circle", count="3"), seed=9)
    assert np.array_equal(words, digits)


@pytest.mark.parametrize("style", ALL_STYLES)
def test_texture_changes_the_fill(style):
    plain = render(style, spec("square", colour="red", size="large", texture="plain"), seed=2)
    striped = render(style, spec("square", colour="red", size="large", texture="striped"), seed=2)
    assert np.abs(plain - striped).mean() > 1.0


@pytest.mark.parametrize("style", ALL_STYLES)
def test_every_subject_renders(style):
    gen = create_procedural_generator(style, 32)
    specs = [spec(s) for s in SUPPORTED_SUBJECTS]
    images = gen.generate([""] * len(specs), specs, list(range(len(specs))))
    for name, image in zip(SUPPORTED_SUBJECTS, images, strict=True):
        assert image.size == (32, 32), name
        assert np.asarray(image).std() > 2, f"{style} drew a blank for {name!r}"


def test_subject_is_visible_for_every_subject():
    """The subject changes the picture: black vs white subject differ for every subject (flat, 32 px)."""
    gen = create_procedural_generator("flat", 32)
    for name in SUPPORTED_SUBJECTS:
        dark, light = gen.generate(
            ["", ""],
            [spec(name, colour="black", background="grey"), spec(name, colour="white", background="grey")],
            [0, 0],
        )
        changed = np.abs(np.asarray(dark, np.float32) - np.asarray(light, np.float32)).max(axis=-1) > 60
        assert changed.sum() >= 12, name


@pytest.mark.parametrize(
    "background", ["white", "black", "grey", "blue sky", "green grass", "sand", "gradient", "night"]
)
def test_named_backgrounds_render(background):
    image = render("photo", spec("circle", background=background), seed=1, size=32)
    assert image.shape == (32, 32, 3)


def test_background_changes_pixels_and_unknown_names_are_deterministic():
    sky = render("flat", spec("circle", colour="red", background="blue sky"), seed=1)
    night = render("flat", spec("circle", colour="red", background="night"), seed=1)
    assert sky[:, :, 2].mean() > night[:, :, 2].mean() + 50
    odd = render("flat", spec("circle", colour="red", background="zorblax meadow"), seed=1)
    assert np.array_equal(
        odd, render("flat", spec("circle", colour="red", background="zorblax meadow"), seed=1)
    )
    other = render("flat", spec("circle", colour="red", background="quux field"), seed=1)
    assert not np.array_equal(odd, other)


def test_colour_names_from_matplotlib_and_hash():
    navy = render("flat", spec("square", colour="midnight blue", size="large", position="center"), seed=0)
    centre = navy[28:36, 28:36].reshape(-1, 3).mean(axis=0)
    assert centre[2] > centre[0] + 40  # matplotlib's midnightblue
    made_up = render("flat", spec("square", colour="blorange", size="large"), seed=0)
    assert np.array_equal(made_up, render("flat", spec("square", colour="blorange", size="large"), seed=0))


def test_unknown_subject_names_subject_and_generator():
    gen = create_procedural_generator("sketch", 32)
    with pytest.raises(ValueError, match=r"procedural:sketch.*'zebra unicorn'"):
        gen.generate([""], [spec("zebra unicorn")], [0])


def test_missing_spec_is_an_error():
    with pytest.raises(ValueError, match="CaptionSpec"):
        create_procedural_generator("flat", 32).generate(["a red circle"], [None], [0])


def test_unknown_style_lists_styles():
    with pytest.raises(KeyError, match="flat.*mosaic"):
        create_procedural_generator("cubist", 32)


def test_pixel_style_is_low_resolution():
    """Pixel images come from <= 32 px renders: few distinct 2x2 blocks when upsampled by nearest."""
    image = Image.fromarray(render("pixel", spec("digit 8"), seed=0, size=64).astype(np.uint8))
    small = image.resize((32, 32), Image.Resampling.BOX).resize((64, 64), Image.Resampling.BILINEAR)
    assert np.abs(np.asarray(small, np.float32) - np.asarray(image, np.float32)).mean() < 12
