"""The `ink` style: handwriting and product shots, centred and large, the look of MNIST and Fashion-MNIST.

Digits are always pen strokes (never a font): a wide pen with pressure variation, strong slant and
elastic distortion, the digit filling most of the frame when the caption names no size. Garments and other
subjects are filled silhouettes with soft shading, large and centred, like Fashion-MNIST's product shots.
Paper backgrounds are plain (white, cream, light grey) and the default ink is dark. A caption's colour,
size, position, count and background are honoured as in every style.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageFilter

from synthmphn.images.procedural.digits import DigitStyle
from synthmphn.images.procedural.raster import blur, mix, outline, smooth_noise
from synthmphn.images.procedural.render import (
    Style,
    behind,
    blends_in,
    contrast_colour,
    downsample,
    register_style,
)
from synthmphn.images.procedural.scene import Scene


@register_style
class InkStyle(Style):
    """Pen on paper: stroke digits with width, slant and elastic variation; shaded, centred silhouettes."""

    name = "ink"
    digits = DigitStyle(
        fonts=("DejaVuSans",),  # unused: hand_share is 1
        hand_share=1.0,
        hand_width=(0.17, 0.34),
        slant=0.4,
        rotation=14.0,
        aspect=(0.55, 1.0),
        wobble=0.05,
    )
    rotation = 12.0
    object_rotation = 5.0
    elastic = 0.02
    digit_elastic = 0.07
    backgrounds = ("white", "white", "white", "cream", "light grey", "paper")
    background_detail = 0.0
    sizes = (0.78, 0.95)
    garment_sizes = (0.78, 0.95)
    digit_sizes = (0.8, 0.96)

    def colour_choices(self, scene: Scene) -> tuple[str, ...]:
        """Dark inks by default (a caption's colour is still used when it names one)."""
        return ("black",) * 4 + ("dark grey", "navy", "dark blue", "brown", "grey")

    def paint_subject(self, canvas, mask, fill, colour, background, rng, scene):
        """Ink with pressure variation (digits) or a shaded fill with a darker rim (everything else)."""
        res = canvas.shape[1]
        shade = 0.72 + 0.28 * smooth_noise(rng, res, res, 4)
        if scene.category == "digit":
            out = mix(canvas, fill * (0.85 + 0.15 * shade), blur(mask, res / 96) * rng.uniform(0.85, 1.0))
        else:
            out = mix(canvas, fill * shade, mask)
            out = mix(out, fill * 0.55, outline(mask, max(1, res // 40)) * 0.6)
        under = behind(canvas, mask)
        if blends_in(colour, under):
            out = mix(out, contrast_colour(under), outline(mask, max(1, res // 48)))
        return np.clip(out, 0, 1)

    def finish(self, canvas, rng, size):
        """Box downsample and the soft edge of a scan."""
        return downsample(canvas, size).filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.45)))
