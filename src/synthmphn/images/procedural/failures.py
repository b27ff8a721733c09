"""A profile applied to a procedural style: its failure modes drawn per image, its diversity as style ranges.

`decide` picks an image's failure (see `images.profiles`) from the image seed's own `failure` stream and
returns the scene really drawn, so `images.procedural.drawn_record` can tell the image record what is in
the picture without rendering it. `diverse_style` scales a style's ranges (pose, size, palette, jitter, layout, clutter).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from synthmphn.images.procedural.palette import known_colour, resolve_background
from synthmphn.images.procedural.render import NO_TWEAKS, Style, Tweaks, stream
from synthmphn.images.procedural.scene import MAX_COUNT, Scene
from synthmphn.images.procedural.subjects import SUBJECT_CATEGORIES
from synthmphn.images.profiles import Diversity, Profile

LOOKALIKES: dict[str, tuple[str, ...]] = {
    "digit 0": ("digit 6", "digit 8"), "digit 1": ("digit 7",), "digit 2": ("digit 7", "digit 3"),
    "digit 3": ("digit 8", "digit 5"), "digit 4": ("digit 9",), "digit 5": ("digit 6", "digit 3"),
    "digit 6": ("digit 5", "digit 0"), "digit 7": ("digit 1", "digit 2"), "digit 8": ("digit 3", "digit 0"),
    "digit 9": ("digit 4", "digit 7"),
    "circle": ("oval", "ring"), "oval": ("circle",), "square": ("diamond", "rectangle"),
    "rectangle": ("square",), "triangle": ("diamond", "pentagon"), "star": ("hexagram", "cross"),
    "hexagram": ("star",), "hexagon": ("pentagon", "octagon"), "pentagon": ("hexagon",),
    "octagon": ("hexagon",), "heart": ("teardrop",), "cross": ("star",), "diamond": ("square",),
    "ring": ("circle",),
    "t shirt": ("shirt", "pullover"), "trouser": ("dress",), "pullover": ("coat", "shirt"),
    "dress": ("coat", "trouser"), "coat": ("pullover", "shirt"), "sandal": ("sneaker",),
    "shirt": ("t shirt", "coat"), "sneaker": ("sandal", "ankle boot"), "bag": ("pullover",),
    "ankle boot": ("sneaker", "sandal"),
    "house": ("tree",), "cup": ("bell",), "sun": ("moon", "flower"), "moon": ("sun",),
}  # fmt: skip
"""Subjects a generator confuses a subject with (Fashion-MNIST's and MNIST's common confusions); any other
subject swaps with a random subject of its category."""

TINY = (0.06, 0.1)  # diameter share of the image side for the `small` failure: 2-3 px at 32 px


@dataclass(frozen=True)
class Decision:
    """What one image really shows: the scene drawn, render tweaks, the failure and what it changed."""

    scene: Scene
    tweaks: Tweaks = NO_TWEAKS
    failure: str | None = None
    drawn: dict[str, str] | None = None


def lookalike(subject: str, rng: np.random.Generator) -> str:
    """A subject easily mistaken for `subject`: from `LOOKALIKES`, else another of its category."""
    choices = LOOKALIKES.get(subject)
    if not choices:
        category = SUBJECT_CATEGORIES[subject]
        choices = tuple(s for s, c in SUBJECT_CATEGORIES.items() if c == category and s != subject)
    return choices[int(rng.integers(len(choices)))]


def _binding(scene: Scene, style: Style, rng: np.random.Generator, render_seed: int) -> Decision:
    """The caption's colour (or a palette colour) leaks into the background; the subject gets another."""
    leaked = scene.colour or style.colours[int(rng.integers(len(style.colours)))]
    swapped = scene.background if scene.background and known_colour(scene.background) else None
    if swapped is not None and known_colour(swapped) == known_colour(leaked):
        swapped = None
    if swapped is None:  # the colour the style's default choice gives on the leaked background
        under = resolve_background(leaked)
        swapped = style.pick_colour(scene, under, stream(render_seed, "colour", 2))
    drawn = replace(scene, colour=swapped, background=leaked)
    return Decision(drawn, NO_TWEAKS, "binding", {"colour": swapped, "background": leaked})


def decide(
    profile: Profile, scene: Scene, seed: int, style: Style, render_seed: int | None = None
) -> Decision:
    """The failure of the image with this seed (None for a faithful one) and the scene it really shows."""
    if profile.fidelity >= 1.0:
        return Decision(scene)
    rng = stream(seed, "failure")
    mode = profile.choose_failure(float(rng.random()))
    if mode is None:
        return Decision(scene)
    if mode == "omission":
        return Decision(scene, Tweaks(omit=True), mode, {"subject": "none"})
    if mode == "count":
        n = scene.count
        new = 2 if n == 1 else n - 1 if n == MAX_COUNT else n + int(rng.choice([-1, 1]))
        return Decision(replace(scene, count=new), NO_TWEAKS, mode, {"count": str(new)})
    if mode == "binding":
        return _binding(scene, style, rng, seed if render_seed is None else render_seed)
    if mode == "swap":
        other = lookalike(scene.subject, rng)
        return Decision(replace(scene, subject=other), NO_TWEAKS, mode, {"subject": other})
    tiny = float(rng.uniform(*TINY))
    return Decision(scene, Tweaks(tiny=tiny), "small", {"size": "tiny"})


def render_seed_of(seed: int, diversity: Diversity) -> int:
    """The seed the picture is drawn from: with `modes` = k the caption has only k appearances."""
    return seed if diversity.modes is None else seed % diversity.modes


def _narrow(bounds: tuple[float, float], factor: float, low: float = 0.08, high: float = 0.98) -> tuple:
    mid, half = (bounds[0] + bounds[1]) / 2, (bounds[1] - bounds[0]) / 2 * factor
    return (max(low, mid - half), min(high, mid + half))


def _share(values: tuple, share: float) -> tuple:
    return values[: max(1, round(len(values) * min(share, 1.0)))]


def diverse_style(style: Style, diversity: Diversity) -> Style:
    """A copy of `style` with its ranges scaled by `diversity` (the style itself for the default)."""
    if diversity.is_default:
        return style
    out = copy.copy(style)
    pose = diversity.pose
    for name in ("rotation", "object_rotation", "aspect_jitter", "elastic", "digit_elastic"):
        setattr(out, name, getattr(style, name) * pose)
    out.sizes = _narrow(style.sizes, diversity.scale)  # type: ignore[misc]
    out.digit_sizes = _narrow(style.digit_sizes, diversity.scale)  # type: ignore[misc]
    out.garment_sizes = _narrow(style.garment_sizes, diversity.scale)  # type: ignore[misc]
    out.colours = _share(style.colours, diversity.palette)  # type: ignore[misc]
    out.backgrounds = _share(style.backgrounds, diversity.palette)  # type: ignore[misc]
    digits = style.digits
    out.digits = replace(  # type: ignore[misc]
        digits,
        fonts=_share(digits.fonts, diversity.palette),
        rotation=digits.rotation * pose,
        slant=digits.slant * pose,
        wobble=digits.wobble * pose,
        aspect=_narrow(digits.aspect, pose, 0.5, 1.5),
        hand_width=_narrow(digits.hand_width, diversity.scale, 0.04, 0.6),
    )
    out.spread, out.layout_shuffle, out.clutter = diversity.jitter, diversity.layout, diversity.clutter
    return out
