"""Colour and background names -> RGB, with deterministic fallbacks for names we have never seen.

Colours resolve in order: our own palette (tuned to read well at 32 px), matplotlib's named colours
(CSS4, then xkcd, which has spaced names like "sky blue"), then a colour hashed from the name, so any
word an LLM writes still renders the same way every time. Backgrounds are small recipes (a kind plus
colours) that each style paints at its own level of detail.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass
from functools import lru_cache

RGB = tuple[float, float, float]


def _rgb(r: int, g: int, b: int) -> RGB:
    return (r / 255.0, g / 255.0, b / 255.0)


COLOURS: dict[str, RGB] = {
    "red": _rgb(220, 38, 38),
    "green": _rgb(34, 160, 60),
    "blue": _rgb(35, 85, 225),
    "yellow": _rgb(248, 212, 35),
    "orange": _rgb(245, 135, 25),
    "purple": _rgb(135, 55, 185),
    "pink": _rgb(245, 125, 180),
    "brown": _rgb(125, 78, 38),
    "black": _rgb(22, 22, 22),
    "white": _rgb(246, 246, 246),
    "grey": _rgb(128, 128, 128),
    "gray": _rgb(128, 128, 128),
    "cyan": _rgb(35, 200, 225),
    "magenta": _rgb(220, 35, 200),
    "teal": _rgb(18, 128, 128),
    "navy": _rgb(22, 32, 110),
    "gold": _rgb(212, 172, 50),
    "silver": _rgb(190, 192, 200),
    "beige": _rgb(228, 212, 176),
    "maroon": _rgb(120, 22, 40),
    "lime": _rgb(150, 220, 40),
    "olive": _rgb(118, 118, 30),
    "turquoise": _rgb(60, 208, 190),
    "violet": _rgb(150, 90, 220),
    "indigo": _rgb(75, 40, 150),
    "lavender": _rgb(190, 170, 232),
    "crimson": _rgb(190, 20, 55),
    "dark blue": _rgb(20, 40, 140),
    "light blue": _rgb(150, 200, 245),
    "dark green": _rgb(20, 95, 40),
    "light green": _rgb(150, 225, 140),
    "dark red": _rgb(140, 15, 20),
    "light grey": _rgb(205, 205, 205),
    "light gray": _rgb(205, 205, 205),
    "dark grey": _rgb(64, 64, 64),
    "dark gray": _rgb(64, 64, 64),
    "sky blue": _rgb(110, 180, 240),
    "light yellow": _rgb(252, 244, 190),
    "cream": _rgb(250, 242, 215),
    "peach": _rgb(250, 190, 150),
    "tan": _rgb(210, 180, 140),
    "coral": _rgb(250, 120, 95),
    "salmon": _rgb(245, 140, 120),
    "mint": _rgb(160, 235, 200),
    "amber": _rgb(255, 190, 20),
    "bronze": _rgb(175, 115, 55),
    "copper": _rgb(185, 100, 55),
    "rainbow": _rgb(200, 80, 160),
}


def hashed_colour(name: str, purpose: str = "colour") -> RGB:
    """A fixed, saturated colour derived from the name's hash (stable across processes and runs)."""
    digest = hashlib.blake2b(f"{purpose}:{name}".encode(), digest_size=8).digest()
    hue = digest[0] / 255.0
    sat = 0.45 + 0.45 * digest[1] / 255.0
    val = 0.45 + 0.45 * digest[2] / 255.0
    return colorsys.hsv_to_rgb(hue, sat, val)


def normalise_name(name: str) -> str:
    """Lower case, single spaces, hyphens and underscores as spaces: 'Sky-Blue' -> 'sky blue'."""
    return " ".join(name.lower().replace("-", " ").replace("_", " ").split())


@lru_cache(maxsize=4096)
def known_colour(name: str) -> RGB | None:
    """The RGB of a colour name we or matplotlib know, else None (matplotlib is imported only here)."""
    key = normalise_name(name)
    if key in COLOURS:
        return COLOURS[key]
    from matplotlib.colors import to_rgb  # lazy: keeps `import synthmphn.images` fast

    for candidate in (key, key.replace(" ", ""), f"xkcd:{key}"):
        try:
            return tuple(float(c) for c in to_rgb(candidate))  # type: ignore[return-value]
        except ValueError:
            continue
    return None


def resolve_colour(name: str) -> RGB:
    """RGB in [0, 1] for any colour name; unknown names get a deterministic hashed colour."""
    return known_colour(name) or hashed_colour(normalise_name(name))


def luminance(rgb: RGB) -> float:
    """Relative luminance (Rec. 709 weights) of an RGB in [0, 1]."""
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]


@dataclass(frozen=True)
class Background:
    """A background recipe: `kind` says how to paint it, `colours` what with, `mean` its average colour."""

    name: str
    kind: str  # solid | vgradient | speckle | grass | stars | water | wood | brick | clouds | gradient
    colours: tuple[RGB, ...]

    @property
    def mean(self) -> RGB:
        """Average colour (used to keep the subject readable against it); mid-light grey for 'gradient'."""
        n = len(self.colours)
        if n == 0:  # colours drawn per image (gradient): light, mid-saturated on average
            return (0.72, 0.72, 0.72)
        return tuple(sum(c[i] for c in self.colours) / n for i in range(3))  # type: ignore[return-value]


BACKGROUNDS: dict[str, tuple[str, tuple[RGB, ...]]] = {
    "white": ("solid", (_rgb(250, 250, 250),)),
    "black": ("solid", (_rgb(14, 14, 16),)),
    "grey": ("solid", (_rgb(128, 128, 128),)),
    "gray": ("solid", (_rgb(128, 128, 128),)),
    "light grey": ("solid", (_rgb(212, 212, 212),)),
    "dark": ("solid", (_rgb(35, 35, 40),)),
    "paper": ("speckle", (_rgb(244, 238, 222),)),
    "blue sky": ("vgradient", (_rgb(95, 160, 235), _rgb(195, 225, 252))),
    "sky": ("vgradient", (_rgb(95, 160, 235), _rgb(195, 225, 252))),
    "cloudy sky": ("clouds", (_rgb(140, 170, 205), _rgb(235, 238, 242))),
    "clouds": ("clouds", (_rgb(140, 170, 205), _rgb(235, 238, 242))),
    "green grass": ("grass", (_rgb(62, 140, 45), _rgb(120, 190, 70))),
    "grass": ("grass", (_rgb(62, 140, 45), _rgb(120, 190, 70))),
    "forest": ("grass", (_rgb(25, 75, 35), _rgb(60, 115, 50))),
    "sand": ("speckle", (_rgb(226, 200, 150),)),
    "beach": ("speckle", (_rgb(232, 208, 160),)),
    "desert": ("vgradient", (_rgb(240, 190, 120), _rgb(215, 160, 95))),
    "snow": ("speckle", (_rgb(242, 246, 252),)),
    "gradient": ("gradient", ()),
    "night": ("stars", (_rgb(6, 10, 38), _rgb(30, 36, 80))),
    "night sky": ("stars", (_rgb(6, 10, 38), _rgb(30, 36, 80))),
    "space": ("stars", (_rgb(2, 2, 8), _rgb(14, 10, 30))),
    "sunset": ("vgradient", (_rgb(120, 60, 140), _rgb(250, 150, 60))),
    "water": ("water", (_rgb(30, 105, 170), _rgb(80, 160, 215))),
    "ocean": ("water", (_rgb(20, 80, 150), _rgb(60, 140, 200))),
    "sea": ("water", (_rgb(20, 80, 150), _rgb(60, 140, 200))),
    "wood": ("wood", (_rgb(150, 100, 58), _rgb(185, 135, 85))),
    "wooden table": ("wood", (_rgb(150, 100, 58), _rgb(185, 135, 85))),
    "brick wall": ("brick", (_rgb(160, 68, 48), _rgb(205, 195, 180))),
    "bricks": ("brick", (_rgb(160, 68, 48), _rgb(205, 195, 180))),
}
"""Named scenes. Any other name that is a colour (e.g. 'yellow', 'pastel pink') paints a solid of it."""


@lru_cache(maxsize=4096)
def resolve_background(name: str) -> Background:
    """The recipe for a background name: a named scene, a colour name (solid), or a hashed solid colour."""
    key = normalise_name(name)
    key = key.removesuffix(" background").strip()
    if key in BACKGROUNDS:
        kind, colours = BACKGROUNDS[key]
        return Background(key, kind, colours)
    colour = known_colour(key)
    if colour is not None:
        return Background(key, "solid", (colour,))
    return Background(key, "solid", (hashed_colour(key, "background"),))


def supported_colours() -> list[str]:
    """Colour names with a tuned palette entry (matplotlib's named colours are accepted too)."""
    return sorted(COLOURS)


def supported_backgrounds() -> list[str]:
    """Named background scenes (any colour name is also a solid background)."""
    return sorted(BACKGROUNDS)
