"""The procedural styles: five training styles and the held-out `mosaic` (`ink` lives in `ink.py`).

Each style owns its digit fonts (no two styles share a family), its default palette and backgrounds,
and its biases (rotation, elastic distortion, stroke widths), so a style is more than a filter:
- flat: clean vector art, solid or pastel backgrounds, thin outlines.
- sketch: pencil line drawing on paper, outline only with a doubled jittery stroke, hatching, light wash.
- photo: textured scene backgrounds, vignette, drop shadow, bevel lighting, sensor noise, lens blur.
- pixel: rendered at 8-24 px and upsampled (nearest or smooth): low-res blurry digits like sklearn's 8x8 set.
- painterly: brush strokes on background and subject, strong elastic distortion, handwritten digits.
- mosaic (held out, never trained on): the scene laid as irregular Voronoi tesserae with grout.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

from synthmphn.images.procedural.digits import DigitStyle
from synthmphn.images.procedural.effects import brush_strokes, pattern_of, voronoi_mosaic
from synthmphn.images.procedural.palette import RGB, luminance
from synthmphn.images.procedural.raster import (
    blur,
    elastic,
    grid,
    mix,
    outline,
    smooth_noise,
    to_image,
    to_uint8,
)
from synthmphn.images.procedural.render import (
    Style,
    behind,
    blends_in,
    colour_distance,
    contrast_colour,
    downsample,
    register_style,
)
from synthmphn.images.procedural.scene import Scene


def _edge_ink(colour: RGB, under: RGB) -> tuple[float, ...]:
    """An outline colour: the subject colour darkened (or lightened if dark), or the contrast colour
    when the subject would vanish into what lies behind it."""
    if blends_in(colour, under):
        return contrast_colour(under)
    c = np.asarray(colour, dtype=np.float32)
    return tuple(c * 0.55) if luminance(colour) > 0.25 else tuple(c + (1 - c) * 0.35)


@register_style
class FlatStyle(Style):
    """Flat vector art: exact colours, clean edges, plain or pastel backgrounds, optional outline."""

    name = "flat"
    digits = DigitStyle(
        fonts=("DejaVuSans", "DejaVuSans-Bold", "cmss10"),
        hand_share=0.75,
        hand_width=(0.18, 0.32),
        font_weights=(1, 2),
        slant=0.3,
        rotation=10.0,
        aspect=(0.6, 1.05),
        wobble=0.04,
    )
    digit_elastic = 0.04
    rotation = 20.0
    backgrounds = (
        "white",
        "white",
        "white",
        "light grey",
        "cream",
        "light blue",
        "light yellow",
        "lavender",
        "mint",
    )
    background_detail = 0.0

    def paint_subject(self, canvas, mask, fill, colour, background, rng, scene):
        """Flat fill; a thin darker outline on half the images (always when the subject would blend in)."""
        under = behind(canvas, mask)
        out = mix(canvas, fill, mask)
        if rng.random() < 0.5 or blends_in(colour, under):
            width = max(1, canvas.shape[1] // 48)
            out = mix(out, _edge_ink(colour, under), outline(mask, width))
        return out


@register_style
class SketchStyle(Style):
    """Pencil sketch on paper: doubled jittery outlines, hatching for texture, a light colour wash."""

    name = "sketch"
    digits = DigitStyle(
        fonts=("DejaVuSerif", "DejaVuSerif-Italic", "cmr10", "STIXGeneral"),
        hand_share=0.8,
        hand_width=(0.16, 0.3),
        font_weights=(1, 2),
        slant=0.3,
        rotation=12.0,
        aspect=(0.6, 1.05),
        wobble=0.05,
    )
    rotation = 25.0
    object_rotation = 10.0
    elastic = 0.015
    digit_elastic = 0.03
    backgrounds = ("paper", "paper", "paper", "white", "cream")
    background_detail = 0.4
    paper = np.asarray((0.96, 0.94, 0.88), dtype=np.float32)[:, None, None]

    def paint_background(self, background, rng, res):
        """The scene washed into paper, with grain and sometimes notebook rules."""
        base = super().paint_background(background, rng, res)
        canvas = base * 0.65 + self.paper * 0.35
        grain = smooth_noise(rng, res, res, max(8, res // 3)) - 0.5
        canvas = canvas + 0.06 * grain
        if rng.random() < 0.25:  # ruled notebook paper
            y, _ = grid(res, res)
            rules = ((y * res) % (res / 6.0) < max(1.0, res / 96)).astype(np.float32)
            canvas = mix(canvas, (0.55, 0.7, 0.9), rules * 0.5)
        return np.clip(canvas, 0, 1)

    def paint_subject(self, canvas, mask, fill, colour, background, rng, scene):
        """Light colour wash, hatching or pattern lines, then a doubled jittery outline (digits: the strokes)."""
        res = canvas.shape[1]
        under = behind(canvas, mask)
        # Ink keeps the named colour unless it is nearly the paper's; the wash carries it too.
        close = colour_distance(colour, under) < 0.3
        ink = contrast_colour(under) if close else tuple(np.asarray(colour, dtype=np.float32) * 0.85)
        out = mix(canvas, fill, mask * rng.uniform(0.25, 0.45))  # watercolour wash shows colour and pattern
        if scene.texture != "plain":
            lines = mask * (1.0 - pattern_of(fill, colour)) * 0.7
            out = mix(out, ink, lines)
        elif rng.random() < 0.5:
            y, x = grid(res, res)
            hatch = (((x + y) * res) % max(3.0, res / 16) < max(1.0, res / 64)).astype(np.float32)
            out = mix(out, ink, hatch * mask * 0.35)
        if scene.category == "digit":
            strokes = mask  # a digit is already line art
        else:
            width = int(rng.integers(1, 3)) * max(1, res // 64)
            first = outline(mask, width)
            second = outline(elastic(mask, rng, res / 64.0, cells=5), max(1, res // 96)) * 0.6
            strokes = np.maximum(first, second)
        return mix(out, ink, strokes * rng.uniform(0.75, 1.0))

    def finish(self, canvas, rng, size):
        """Box downsample and a slight pencil softness."""
        return downsample(canvas, size).filter(ImageFilter.GaussianBlur(0.3))


@register_style
class PhotoStyle(Style):
    """Photo-like: scene backgrounds with vignette, drop shadow, bevel lighting, noise and lens blur."""

    name = "photo"
    digits = DigitStyle(
        fonts=("DejaVuSerif-Bold", "STIXGeneralBol", "cmb10", "DejaVuSans-BoldOblique"),
        hand_share=0.75,
        hand_width=(0.2, 0.34),
        font_weights=(1, 2),
        slant=0.3,
        rotation=12.0,
        aspect=(0.6, 1.05),
        wobble=0.05,
    )
    digit_elastic = 0.04
    rotation = 30.0
    object_rotation = 12.0
    aspect_jitter = 0.12
    backgrounds = (
        "blue sky", "green grass", "sand", "wood", "gradient", "grey", "white", "water", "brick wall",
        "light grey", "clouds", "snow",
    )  # fmt: skip
    background_detail = 1.0
    plain_backgrounds = ("white", "light grey", "grey", "gradient", "sand", "snow", "clouds", "blue sky")
    plain_categories = ("digit", "garment")  # a written digit, a product shot: a plain or smooth backdrop

    def pick_background(self, scene: Scene, rng: np.random.Generator) -> str:
        """A scene background; a digit or garment on a plain or smooth one."""
        choices = self.plain_backgrounds if scene.category in self.plain_categories else self.backgrounds
        return str(rng.choice(choices))

    def paint_subject(self, canvas, mask, fill, colour, background, rng, scene):
        """The lit subject, then an off-centre vignette over the whole picture (fainter for digits, garments)."""
        out = self.lit_subject(canvas, mask, fill, colour, rng, scene)
        y, x = grid(*mask.shape)
        vx, vy = rng.uniform(0.3, 0.7, size=2)
        strength = rng.uniform(0.3, 0.8) * (0.3 if scene.category in self.plain_categories else 1.0)
        return out * (1.0 - strength * ((x - vx) ** 2 + (y - vy) ** 2))

    def lit_subject(self, canvas, mask, fill, colour, rng, scene):
        """Drop shadow, then the fill lit from one side with a bevel and a specular rim.

        A digit (ink on a page) or garment (a product shot) gets a faint, close shadow and a shallow bevel,
        so its outline stays its shape.
        """
        res = canvas.shape[1]
        digit = scene.category in self.plain_categories
        angle = rng.uniform(0, 2 * math.pi)
        dist = rng.uniform(0.02, 0.06) * res * (0.3 if digit else 1.0)
        shift = (int(round(math.sin(angle) * dist)), int(round(math.cos(angle) * dist)))
        shadow = blur(np.roll(mask, shift, axis=(0, 1)), rng.uniform(0.01, 0.03) * res)
        canvas = canvas * (1.0 - rng.uniform(0.3, 0.55) * (0.3 if digit else 1.0) * shadow)
        soft = blur(mask, 0.03 * res)
        k = max(1, int(round(0.02 * res)))
        relief = soft - np.roll(
            soft, (-int(round(math.sin(angle) * k)), -int(round(math.cos(angle) * k))), axis=(0, 1)
        )
        y, x = grid(res, res)
        light = 0.9 - 0.25 * ((x - 0.5) * math.cos(angle) + (y - 0.5) * math.sin(angle))
        bevel = 0.2 if digit else 0.8
        lit = fill * (light + bevel * relief)
        lit = lit + bevel * 0.6 * np.clip(-relief, 0, 1) ** 2  # specular rim on the lit side
        under = behind(canvas, mask)
        out = mix(canvas, lit, mask)
        if blends_in(colour, under):
            out = mix(out, contrast_colour(under), outline(mask, max(1, res // 64)))
        return out

    def finish(self, canvas, rng, size):
        """Exposure/contrast jitter, sensor noise and lens blur, then the box downsample."""
        contrast, brightness = rng.uniform(0.85, 1.15), rng.uniform(-0.06, 0.06)
        canvas = (canvas - 0.5) * contrast + 0.5 + brightness
        sigma = rng.uniform(0.01, 0.035)
        canvas = canvas + rng.standard_normal(canvas.shape, dtype=np.float32) * sigma
        res = canvas.shape[1]
        image = to_image(canvas).filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.9) * res / size))
        return (
            image.reduce(res // size) if res % size == 0 else image.resize((size, size), Image.Resampling.BOX)
        )


@register_style
class PixelStyle(Style):
    """Low resolution: rendered at 8-24 px and upsampled; digits are mostly dark handwriting on light paper."""

    name = "pixel"
    digits = DigitStyle(
        fonts=("DejaVuSansMono", "DejaVuSansMono-Oblique", "cmtt10"),
        hand_share=0.85,
        hand_width=(0.2, 0.36),
        font_weights=(1, 2),
        slant=0.25,
        rotation=15.0,
        aspect=(0.7, 1.0),  # tall digits that fill the frame, like scanned forms
        wobble=0.06,
    )
    rotation = 20.0
    elastic = 0.02
    digit_elastic = 0.05
    backgrounds = ("white", "white", "white", "light grey", "black", "cream", "grey", "light blue")
    background_detail = 0.2
    low_res = (8, 8, 10, 12, 12, 16, 16, 20, 24)  # digits: sklearn's 8x8 and MNIST-like 16-24 px
    low_res_other = (16, 20, 24, 32)  # shapes and objects need a few more pixels to stay readable
    digit_sizes = (0.75, 0.95)

    def resolution(self, size, scene, rng):
        """A low resolution (8-24 px for digits, 16-32 px otherwise), never above `size`.

        Several or small instances need more pixels each: the floor grows with sqrt(count) and doubles
        for 'small', so every instance keeps about 8 px (digits) or 16 px (others) across.
        """
        choices = self.low_res if scene.category == "digit" else self.low_res_other
        floor = min(choices) * math.ceil(math.sqrt(scene.count)) * (2 if scene.size == "small" else 1)
        res = max(int(rng.choice(choices)), min(floor, 32))
        return min(res, size) * self.supersample

    def colour_choices(self, scene: Scene) -> tuple[str, ...]:
        """Digits default to dark ink (most real digit scans are dark on light)."""
        if scene.category == "digit":
            return ("black",) * 6 + ("dark grey", "navy", "dark blue", "white", "red", "blue")
        return self.colours

    def finish(self, canvas, rng, size):
        """Down to the low resolution, maybe fewer grey levels, then nearest/bilinear/bicubic upsampling."""
        low = downsample(canvas, canvas.shape[1] // self.supersample)
        if rng.random() < 0.4:  # few grey levels, like 4-bit scans (sklearn's digits have 17)
            levels = int(rng.integers(4, 17))
            arr = np.asarray(low, dtype=np.float32) / 255.0
            low = Image.fromarray(to_uint8(np.round(arr * (levels - 1)) / (levels - 1)))
        method = rng.choice([Image.Resampling.NEAREST, Image.Resampling.BILINEAR, Image.Resampling.BICUBIC])
        return low.resize((size, size), int(method))


@register_style
class PainterlyStyle(Style):
    """Painting: brush strokes on background and subject, wobbly shapes, thick handwritten digits."""

    name = "painterly"
    digits = DigitStyle(
        fonts=("cmti10", "STIXGeneralItalic", "DejaVuSans-Oblique", "cmmi10"),
        hand_share=0.85,
        hand_width=(0.2, 0.34),
        font_weights=(1, 2),
        slant=0.3,
        rotation=12.0,
        aspect=(0.6, 1.05),
        wobble=0.06,
    )
    rotation = 25.0
    object_rotation = 10.0
    elastic = 0.05
    digit_elastic = 0.06
    backgrounds = (
        "cream",
        "paper",
        "light blue",
        "beige",
        "gradient",
        "blue sky",
        "green grass",
        "sand",
        "sunset",
    )
    background_detail = 0.6

    def paint_background(self, background, rng, res):
        """The scene overpainted with strokes that pick up its colours."""
        canvas = super().paint_background(background, rng, res)
        return brush_strokes(canvas, rng, n=int(res * 0.5), width=(0.04 * res, 0.09 * res), jitter=0.035)

    def paint_subject(self, canvas, mask, fill, colour, background, rng, scene):
        """The fill repainted with brush strokes inside the (elastically distorted) mask."""
        res = canvas.shape[1]
        layer = brush_strokes(
            np.ascontiguousarray(fill),
            rng,
            n=int(res * 0.3),
            width=(0.02 * res, 0.05 * res),
            jitter=0.08,
            within=mask,
        )
        under = behind(canvas, mask)
        out = mix(canvas, layer, mask)
        if blends_in(colour, under):
            out = mix(out, contrast_colour(under), outline(mask, max(1, res // 48)))
        return out

    def finish(self, canvas, rng, size):
        """A faint canvas weave and a soft blur."""
        res = canvas.shape[1]
        y, x = grid(res, res)
        weave = 1.0 + 0.03 * np.sin(x * res * 1.7) * np.sin(y * res * 1.7)
        return downsample(canvas * weave, size).filter(ImageFilter.GaussianBlur(0.35))


@register_style
class MosaicStyle(Style):
    """Held-out style (never trained on): the scene as irregular Voronoi tesserae with grout lines."""

    name = "mosaic"
    heldout = True
    digits = DigitStyle(
        fonts=(
            "DejaVuSansMono-Bold",
            "DejaVuSerif-BoldItalic",
            "STIXGeneralBolIta",
            "DejaVuSansMono-BoldOblique",
        ),
        hand_share=0.3,
        hand_width=(0.22, 0.32),
        font_weights=(1, 2),
        rotation=10.0,
    )
    rotation = 20.0
    backgrounds = ("white", "light grey", "cream", "sand", "blue sky", "gradient", "black", "beige")
    background_detail = 0.5

    def finish(self, canvas, rng, size):
        """The picture laid as irregular tesserae (8-16 per side) with grout."""
        tiles = int(np.clip(round(size / rng.uniform(4.0, 6.0)), 8, 16))  # >= 8 keeps digits legible at 32 px
        return downsample(voronoi_mosaic(canvas, rng, tiles, grout=rng.uniform(0.06, 0.12)), size)
