"""From a `CaptionSpec` to a `Scene` (validated, canonical values) and from a scene to instance slots.

Size is the instance diameter as a share of the image side; position is a placement region; count
instances are laid out on a grid of cells inside that region, one per cell, so they never overlap.
When several instances or a small region force a shrink, every size shrinks by the same factor, so
small < medium < large holds in every layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthmphn.data.records import CaptionSpec
from synthmphn.images.procedural.palette import normalise_name
from synthmphn.images.procedural.subjects import DIGIT_WORDS, SUBJECT_CATEGORIES, canonical_subject
from synthmphn.images.procedural.textures import canonical_texture

SIZES: dict[str, float] = {"small": 0.24, "medium": 0.38, "large": 0.58}
SIZE_ALIASES = {
    "tiny": "small", "little": "small", "small sized": "small", "mini": "small",
    "medium sized": "medium", "mid sized": "medium", "average": "medium", "normal": "medium", "mid": "medium",
    "big": "large", "huge": "large", "giant": "large", "large sized": "large", "enormous": "large",
}  # fmt: skip

POSITIONS: dict[str, tuple[float, float, float, float]] = {
    # name: (centre x, centre y, half-width, half-height) of the placement region, unit canvas coordinates
    "center": (0.5, 0.5, 0.32, 0.32),
    "left": (0.28, 0.5, 0.26, 0.34),
    "right": (0.72, 0.5, 0.26, 0.34),
    "top": (0.5, 0.28, 0.34, 0.26),
    "bottom": (0.5, 0.72, 0.34, 0.26),
    "top left": (0.27, 0.27, 0.25, 0.25),
    "top right": (0.73, 0.27, 0.25, 0.25),
    "bottom left": (0.27, 0.73, 0.25, 0.25),
    "bottom right": (0.73, 0.73, 0.25, 0.25),
}
ANYWHERE = (0.5, 0.5, 0.47, 0.47)  # region when the caption names no position

COUNT_WORDS = {w: i for i, w in enumerate(DIGIT_WORDS)} | {
    "a": 1, "an": 1, "single": 1, "a single": 1, "pair": 2, "a pair of": 2, "couple": 2, "a couple of": 2,
    "ten": 10, "several": 3, "a few": 3, "few": 3,
}  # fmt: skip
MAX_COUNT = 9

ATTRIBUTE_ALIASES = {
    "color": "colour",
    "material": "texture",
    "pattern": "texture",
    "location": "position",
    "place": "position",
    "number": "count",
    "quantity": "count",
    "scale": "size",
    "setting": "background",
    "scene": "background",
}


@dataclass(frozen=True)
class Scene:
    """What to draw, validated: a canonical subject and attribute values (None = the style chooses)."""

    subject: str
    category: str  # digit | shape | object
    colour: str | None = None
    size: str | None = None
    position: str | None = None
    count: int = 1
    texture: str = "plain"
    background: str | None = None


def canonical_size(value: str) -> str:
    """'big' -> 'large'; raises ValueError listing the sizes for an unknown word."""
    key = normalise_name(value)
    key = SIZE_ALIASES.get(key, key)
    if key not in SIZES:
        raise ValueError(f"unknown size {value!r}; known: {', '.join(SIZES)} (or {', '.join(SIZE_ALIASES)})")
    return key


def canonical_position(value: str) -> str:
    """'upper-left corner' -> 'top left'; raises ValueError listing the positions for an unknown phrase."""
    key = normalise_name(value)
    for prefix in ("on the ", "at the ", "in the ", "to the ", "the ", "in ", "at ", "on "):
        key = key.removeprefix(prefix)
    key = key.removesuffix(" corner").removesuffix(" side").removesuffix(" of the image").strip()
    words = {"upper": "top", "lower": "bottom", "centre": "center", "middle": "center", "centered": "center"}
    key = " ".join(words.get(w, w) for w in key.split())
    if key in ("left top", "right top", "left bottom", "right bottom"):
        key = " ".join(reversed(key.split()))
    if key not in POSITIONS:
        raise ValueError(f"unknown position {value!r}; known: {', '.join(POSITIONS)}")
    return key


def canonical_count(value: str | int) -> int:
    """'three' or '3' -> 3 (1..MAX_COUNT); raises ValueError for anything else."""
    key = normalise_name(str(value))
    n = int(key) if key.isdigit() else COUNT_WORDS.get(key)
    if n is None or not 1 <= n <= MAX_COUNT:
        raise ValueError(f"count {value!r} must be 1..{MAX_COUNT} as digits or words (one, two, ...)")
    return n


def parse_scene(spec: CaptionSpec, generator: str) -> Scene:
    """Validates a spec into a Scene; an unknown subject raises ValueError naming it and the generator."""
    subject = canonical_subject(spec.subject)
    if subject is None:
        raise ValueError(
            f"generator {generator!r} cannot draw subject {spec.subject!r}; it draws "
            f"{len(SUBJECT_CATEGORIES)} subjects (see synthmphn.images.procedural.SUPPORTED_SUBJECTS)"
        )
    attrs: dict[str, str] = {}
    for key, value in spec.attributes.items():
        name = normalise_name(key)
        attrs[ATTRIBUTE_ALIASES.get(name, name)] = value
    return Scene(
        subject=subject,
        category=SUBJECT_CATEGORIES[subject],
        colour=attrs.get("colour"),
        size=canonical_size(attrs["size"]) if "size" in attrs else None,
        position=canonical_position(attrs["position"]) if "position" in attrs else None,
        count=canonical_count(attrs["count"]) if "count" in attrs else 1,
        texture=canonical_texture(attrs.get("texture")),
        background=attrs.get("background"),
    )


@dataclass(frozen=True)
class Slot:
    """Where one instance goes: centre and diameter in pixels of the render canvas."""

    cx: float
    cy: float
    diameter: float


def _grid_shape(n: int, width: float, height: float) -> tuple[int, int]:
    """Rows x columns for n cells that maximise the smaller cell side in a width x height region."""
    best, best_side = (1, n), -1.0
    for rows in range(1, n + 1):
        cols = math.ceil(n / rows)
        side = min(width / cols, height / rows)
        if side > best_side + 1e-9:
            best, best_side = (rows, cols), side
    return best


def layout(
    scene: Scene,
    rng: np.random.Generator,
    res: int,
    default_size: tuple[float, float],
    spread: float = 1.0,
    shuffle: float = 1.0,
) -> list[Slot]:
    """Slots for `scene.count` instances inside the scene's region; one instance per grid cell.

    `spread` (<= 1) scales how far an instance strays from its cell's centre (0: exactly at the centre);
    `shuffle` is the chance that the instances take random cells rather than the first ones.
    """
    cx, cy, hw, hh = POSITIONS[scene.position] if scene.position else ANYWHERE
    rows, cols = _grid_shape(scene.count, 2 * hw, 2 * hh)
    cell_w, cell_h = 2 * hw / cols, 2 * hh / rows
    fit = min(1.0, 0.9 * min(cell_w, cell_h) / SIZES["large"])
    drawn = rng.uniform(*default_size)  # always drawn, so a size edit leaves the rest of the layout alone
    base = SIZES[scene.size] if scene.size else drawn
    shuffled = shuffle >= 1.0 or rng.random() < shuffle  # no draw at the default: renders stay as they were
    cells = rng.permutation(rows * cols)[: scene.count] if shuffled else np.arange(scene.count)
    slots = []
    for cell in sorted(cells.tolist()):
        r, c = divmod(cell, cols)
        d = min(base * fit * rng.uniform(0.92, 1.08), 0.92 * min(cell_w, cell_h))
        slack_x, slack_y = max(cell_w - d, 0.0), max(cell_h - d, 0.0)
        x = cx - hw + (c + 0.5) * cell_w + rng.uniform(-0.45, 0.45) * slack_x * min(spread, 1.0)
        y = cy - hh + (r + 0.5) * cell_h + rng.uniform(-0.45, 0.45) * slack_y * min(spread, 1.0)
        slots.append(Slot(x * res, y * res, d * res))
    return slots
