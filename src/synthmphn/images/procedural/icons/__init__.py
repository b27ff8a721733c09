"""Everyday objects as simple silhouette icons (category 'object'), built from the parts in `shapes`.

Each icon is a handful of polygons, circles and strokes in unit coordinates (y down, inside the unit
disc); erased parts cut details (windows, holes) so a silhouette stays readable at 32 px. One file per
theme (nature, food, vehicles, objects); `ICONS` is their union (a name may appear in only one).
"""

from __future__ import annotations

from synthmphn.images.procedural.icons.food import FOOD_ICONS
from synthmphn.images.procedural.icons.nature import NATURE_ICONS
from synthmphn.images.procedural.icons.objects import OBJECT_ICONS
from synthmphn.images.procedural.icons.vehicles import VEHICLE_ICONS
from synthmphn.images.procedural.shapes import Subject


def _union(*themes: dict[str, Subject]) -> dict[str, Subject]:
    """The themes' icons in one table; a name drawn by two themes is a mistake, so it fails at import."""
    icons: dict[str, Subject] = {}
    for theme in themes:
        twice = sorted(set(icons) & set(theme))
        if twice:
            raise ValueError(f"icons defined in two themes: {twice}")
        icons.update(theme)
    return icons


ICONS: dict[str, Subject] = _union(OBJECT_ICONS, NATURE_ICONS, FOOD_ICONS, VEHICLE_ICONS)
"""Icon name -> its parts, for every object subject the procedural styles draw."""
