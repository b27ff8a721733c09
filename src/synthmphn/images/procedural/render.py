"""The rendering pipeline shared by every procedural style, and the `Style` base class with its hooks.

    spec -> Scene -> slots (layout) -> instance masks -> background -> textured fill -> subject paint -> finish

Each stage draws from its own random stream, derived from the image seed and the stage name, so
a hard negative rendered with the base image's seed changes only what its edit touches: a colour edit
repaints the subject and keeps the layout and background pixel for pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from PIL import Image

from synthmphn.data.records import CaptionSpec
from synthmphn.images.procedural.backgrounds import paint_background
from synthmphn.images.procedural.digits import DigitStyle, digit_mask
from synthmphn.images.procedural.garments import garment_parts
from synthmphn.images.procedural.palette import RGB, Background, luminance, resolve_background, resolve_colour
from synthmphn.images.procedural.raster import elastic, mix, outline, to_image
from synthmphn.images.procedural.scene import Scene, Slot, layout, parse_scene
from synthmphn.images.procedural.shapes import SHAPES, linear_map, rasterize
from synthmphn.images.procedural.subjects import subject_parts
from synthmphn.images.procedural.textures import texture_pattern
from synthmphn.registry import Registry

STREAMS = {
    "layout": 1, "background": 2, "instance": 3, "texture": 4, "style": 5, "colour": 6, "finish": 7,
    "failure": 8, "clutter": 9,
}  # fmt: skip

DEFAULT_COLOURS = (
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "black", "teal", "navy",
    "magenta", "cyan", "grey", "gold", "maroon", "lime", "turquoise",
)  # fmt: skip


def stream(seed: int, name: str, *extra: int) -> np.random.Generator:
    """The random stream `name` of an image seed (independent of every other stream)."""
    return np.random.Generator(np.random.PCG64([seed % (1 << 64), STREAMS[name], *extra]))


def colour_distance(a: RGB | np.ndarray, b: RGB | np.ndarray) -> float:
    """Euclidean distance between two RGB colours in [0, 1] (max sqrt(3))."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)))


def contrast_colour(background: RGB) -> RGB:
    """Near-black on light backgrounds, near-white on dark ones."""
    return (0.08, 0.08, 0.08) if luminance(background) > 0.45 else (0.95, 0.95, 0.95)


def behind(canvas: np.ndarray, mask: np.ndarray) -> RGB:
    """Mean colour of the canvas under the mask: what the subject has to stand out from."""
    weight = float(mask.sum())
    if weight < 1e-6:
        return tuple(float(v) for v in canvas.mean(axis=(1, 2)))  # type: ignore[return-value]
    return tuple(float(v) for v in (canvas * mask).sum(axis=(1, 2)) / weight)  # type: ignore[return-value]


def blends_in(colour: RGB, background: RGB) -> bool:
    """True when a colour would be hard to see on a background (close in colour or in lightness)."""
    return colour_distance(colour, background) < 0.3 or abs(luminance(colour) - luminance(background)) < 0.2


def accent_colour(rgb: RGB) -> np.ndarray:
    """The second colour of a pattern: a darker shade of light colours, a lighter tint of dark ones."""
    c = np.asarray(rgb, dtype=np.float32)
    return c * 0.45 if luminance(rgb) > 0.55 else c + (1.0 - c) * 0.62


def fill_map(colour: RGB, pattern: np.ndarray | None, res: int) -> np.ndarray:
    """The subject's fill [3, res, res]: the colour where the pattern is 1, its accent where it is 0."""
    c = np.asarray(colour, dtype=np.float32)[:, None, None]
    if pattern is None:
        return np.broadcast_to(c, (3, res, res))
    accent = accent_colour(colour)[:, None, None]
    return accent + (c - accent) * pattern


def paste_max(canvas: np.ndarray, local: np.ndarray, cx: float, cy: float) -> None:
    """Pastes a local mask centred at (cx, cy) into `canvas` with max(), clipping at the borders."""
    side = local.shape[0]
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    h, w = canvas.shape
    ax0, ay0 = max(x0, 0), max(y0, 0)
    ax1, ay1 = min(x0 + side, w), min(y0 + side, h)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    region = local[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0]
    np.maximum(canvas[ay0:ay1, ax0:ax1], region, out=canvas[ay0:ay1, ax0:ax1])


class Style:
    """A procedural style: its own fonts, palette, biases and paint hooks. Subclasses override hooks.

    Class attributes are the style's biases: rotation ranges (degrees), elastic amplitude (share of the
    instance diameter), default colours/backgrounds when a caption names none, background detail.
    """

    name: ClassVar[str] = "base"
    heldout: ClassVar[bool] = False
    digits: ClassVar[DigitStyle] = DigitStyle(fonts=("DejaVuSans",))
    supersample: ClassVar[int] = 2
    rotation: ClassVar[float] = 15.0  # shapes
    object_rotation: ClassVar[float] = 6.0  # objects stay roughly upright
    aspect_jitter: ClassVar[float] = 0.08
    garment_flip: ClassVar[float] = 0.15  # share of garments mirrored (catalogue shots face one way)
    garment_aspect: ClassVar[float] = 2.5  # garments jitter their aspect this much more (cut and fit vary)
    elastic: ClassVar[float] = 0.0
    digit_elastic: ClassVar[float] = 0.0
    colours: ClassVar[tuple[str, ...]] = DEFAULT_COLOURS
    backgrounds: ClassVar[tuple[str, ...]] = ("white",)
    background_detail: ClassVar[float] = 0.5
    sizes: ClassVar[tuple[float, float]] = (0.35, 0.6)  # instance diameter range when no size is given
    digit_sizes: ClassVar[tuple[float, float]] = (0.6, 0.85)  # large, like MNIST (20 of 28 px)
    garment_sizes: ClassVar[tuple[float, float]] = (0.7, 0.92)  # a product shot fills the frame
    digit_contrast: ClassVar[float] = 0.4  # least lightness gap of a default digit colour (ink reads in grey)
    # Diversity knobs a profile sets (see `images.profiles.Diversity`); these values are the style as is.
    spread: float = 1.0  # position jitter multiplier
    layout_shuffle: float = 1.0  # chance that several instances take shuffled cells
    clutter: float = 0.0  # mean number of distractor shapes

    # ---------------------------------------------------------------- choices
    def resolution(self, size: int, scene: Scene, rng: np.random.Generator) -> int:
        """Side of the render canvas (the image is rendered at this size, then finished to `size`)."""
        return size * self.supersample

    def pick_background(self, scene: Scene, rng: np.random.Generator) -> str:
        """A background name when the caption names none."""
        return str(rng.choice(self.backgrounds))

    def colour_choices(self, scene: Scene) -> tuple[str, ...]:
        """Colour names to choose from when the caption names none."""
        return self.colours

    def pick_colour(self, scene: Scene, background: Background, rng: np.random.Generator) -> str:
        """A default subject colour that stands out from the background (a digit's in lightness too)."""
        choices = self.colour_choices(scene)
        bg = background.mean
        contrast = self.digit_contrast if scene.category == "digit" else 0.2
        readable = [
            c
            for c in choices
            if colour_distance(resolve_colour(c), bg) > 0.5
            and abs(luminance(resolve_colour(c)) - luminance(bg)) > contrast
        ]
        pool = readable or ["black" if luminance(background.mean) > 0.45 else "white"]
        return pool[int(rng.integers(len(pool)))]

    # ---------------------------------------------------------------- geometry
    def instance_mask(self, scene: Scene, slot: Slot, rng: np.random.Generator) -> np.ndarray:
        """One instance's mask on a local square canvas centred on the slot."""
        d = slot.diameter
        canvas = int(math.ceil(d * 1.2)) + 4
        if scene.category == "digit":
            mask = digit_mask(int(scene.subject[-1]), self.digits, rng, canvas, d, min_width=self.supersample)
            amplitude = self.digit_elastic
        else:
            p_flip = self.garment_flip if scene.category == "garment" else 0.5
            flip = -1.0 if scene.category in ("object", "garment") and rng.random() < p_flip else 1.0
            limit = self.rotation if scene.category == "shape" else self.object_rotation
            j = self.aspect_jitter * (self.garment_aspect if scene.category == "garment" else 1.0)
            matrix = linear_map(rng.uniform(-limit, limit), aspect=rng.uniform(1 - j, 1 + j))
            matrix = matrix @ np.diag([flip, 1.0]).astype(np.float32)
            parts = (
                garment_parts(scene.subject, rng)
                if scene.category == "garment"
                else subject_parts(scene.subject)
            )
            mask = rasterize(parts, canvas, d, matrix, min_width=self.supersample)
            amplitude = self.elastic
        return elastic(mask, rng, amplitude * d, cells=4)

    # ---------------------------------------------------------------- paint hooks
    def paint_background(self, background: Background, rng: np.random.Generator, res: int) -> np.ndarray:
        """The background canvas [3, res, res]."""
        return paint_background(background, rng, res, self.background_detail)

    def paint_subject(
        self,
        canvas: np.ndarray,
        mask: np.ndarray,
        fill: np.ndarray,
        colour: RGB,
        background: Background,
        rng: np.random.Generator,
        scene: Scene,
    ) -> np.ndarray:
        """Composites the subject onto the canvas; default: flat fill, outlined when it would blend in."""
        out = mix(canvas, fill, mask)
        under = behind(canvas, mask)
        if blends_in(colour, under):
            out = mix(out, contrast_colour(under), outline(mask, max(1, canvas.shape[1] // 48)))
        return out

    def finish(self, canvas: np.ndarray, rng: np.random.Generator, size: int) -> Image.Image:
        """Post-processing and the final size: by default a box downsample (antialiasing)."""
        return downsample(canvas, size)


STYLES: Registry[Style] = Registry("procedural style")
"""Style name -> Style instance (`procedural:<name>` in an images.pool); styles.py registers the built-ins."""


def register_style(cls: type[Style]) -> type[Style]:
    """Class decorator: registers one instance of a Style subclass under its `name`."""
    STYLES.register(cls.name)(cls())
    return cls


def downsample(canvas: np.ndarray, size: int) -> Image.Image:
    """Float canvas -> RGB image of `size`; an integer factor uses PIL's fast box `reduce`."""
    image = to_image(canvas)
    res = canvas.shape[1]
    if res == size:
        return image
    if res % size == 0:
        return image.reduce(res // size)
    return image.resize((size, size), Image.Resampling.BOX if res > size else Image.Resampling.BICUBIC)


@dataclass(frozen=True)
class Tweaks:
    """What a generator failure changes beyond the scene: no subject at all, or one too small to read."""

    omit: bool = False
    tiny: float | None = None  # instance diameter as a share of the image side


NO_TWEAKS = Tweaks()
CLUTTER_SHAPES = ("circle", "square", "triangle", "oval", "diamond", "pentagon", "crescent", "semicircle")


def paint_clutter(style: Style, canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distractor shapes (Poisson(style.clutter) of them) in the style's colours, behind the subject."""
    res = canvas.shape[1]
    for _ in range(int(rng.poisson(style.clutter))):
        d = rng.uniform(0.12, 0.24) * res
        side = int(math.ceil(d * 1.2)) + 4
        parts = SHAPES[CLUTTER_SHAPES[int(rng.integers(len(CLUTTER_SHAPES)))]]
        local = rasterize(parts, side, d, linear_map(rng.uniform(-30, 30)), min_width=style.supersample)
        mask = np.zeros((res, res), dtype=np.float32)
        paste_max(mask, local, rng.uniform(0.1, 0.9) * res, rng.uniform(0.1, 0.9) * res)
        colour = resolve_colour(style.colours[int(rng.integers(len(style.colours)))])
        canvas = mix(canvas, colour, mask * rng.uniform(0.5, 0.9))
    return canvas


def render_scene(style: Style, scene: Scene, seed: int, size: int, tweaks: Tweaks = NO_TWEAKS) -> Image.Image:
    """Renders a validated scene: the same (style, scene, seed, size, tweaks) always gives the same pixels."""
    res = style.resolution(size, scene, stream(seed, "finish", 1))
    # Streams for defaults are only made when needed (making one costs ~30 us).
    background = resolve_background(
        scene.background or style.pick_background(scene, stream(seed, "colour", 1))
    )
    colour = resolve_colour(scene.colour or style.pick_colour(scene, background, stream(seed, "colour", 2)))

    sizes = {"digit": style.digit_sizes, "garment": style.garment_sizes}.get(scene.category, style.sizes)
    slots = layout(scene, stream(seed, "layout"), res, sizes, style.spread, style.layout_shuffle)
    if tweaks.tiny is not None:
        slots = [Slot(s.cx, s.cy, tweaks.tiny * res) for s in slots]
    mask = np.zeros((res, res), dtype=np.float32)
    for i, slot in enumerate([] if tweaks.omit else slots):
        paste_max(mask, style.instance_mask(scene, slot, stream(seed, "instance", i)), slot.cx, slot.cy)

    canvas = style.paint_background(background, stream(seed, "background"), res)
    if style.clutter > 0:
        canvas = paint_clutter(style, canvas, stream(seed, "clutter"))
    period = float(np.mean([s.diameter for s in slots])) / 4.0
    pattern = texture_pattern(scene.texture, stream(seed, "texture"), res, res, period)
    fill = fill_map(colour, pattern, res)
    canvas = style.paint_subject(canvas, mask, fill, colour, background, stream(seed, "style"), scene)
    image = style.finish(canvas, stream(seed, "finish"), size)
    if image.size != (size, size) or image.mode != "RGB":
        raise AssertionError(
            f"style {style.name!r} returned {image.mode} {image.size}, expected RGB {size}x{size}"
        )
    return image


def render_spec(style: Style, spec: CaptionSpec, seed: int, size: int) -> Image.Image:
    """Renders a caption spec with a style (validates the spec first; see `parse_scene`)."""
    return render_scene(style, parse_scene(spec, f"procedural:{style.name}"), seed, size)
