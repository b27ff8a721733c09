"""Contact sheet of the procedural styles (rows) over a few caption specs (columns), plus throughput.

    python benchmarks/render_styles.py --out sheet.png [--size 64] [--scale 2] [--bench 200]

`--bench N` renders N random specs per style at 32 and 64 px in this one process and prints images per
CPU-second (process time, so other load on the machine does not skew it) and per wall-second.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from synthmphn.data.records import CaptionSpec  # noqa: E402
from synthmphn.images.procedural import (  # noqa: E402
    STYLES,
    SUBJECT_CATEGORIES,
    SUPPORTED_SUBJECTS,
    create_procedural_generator,
)

SHEET_SPECS = [
    ("digit 7", {}),
    ("digit 3", {"colour": "black", "background": "white"}),
    ("circle", {"colour": "red"}),
    ("star", {"colour": "blue", "count": "three", "texture": "striped"}),
    ("house", {"colour": "green", "background": "blue sky", "position": "left"}),
    ("fish", {"colour": "orange", "size": "small", "position": "top right", "background": "night"}),
    ("heart", {"colour": "pink", "texture": "dotted", "background": "green grass", "count": "2"}),
    ("car", {"colour": "yellow", "background": "brick wall", "size": "large"}),
    ("umbrella", {"colour": "purple", "background": "sand", "texture": "checkered"}),
    ("triangle", {"colour": "teal", "count": "4", "size": "small"}),
    ("digit 5", {"colour": "white", "background": "black", "position": "bottom"}),
    ("key", {"colour": "gold", "background": "gradient", "texture": "metallic"}),
]


def spec(subject: str, attributes: dict[str, str]) -> CaptionSpec:
    """A CaptionSpec for a subject name and its attributes."""
    return CaptionSpec(subject=subject, category=SUBJECT_CATEGORIES[subject], attributes=attributes)


def contact_sheet(size: int, scale: int, seed: int) -> Image.Image:
    """Rows = styles, columns = SHEET_SPECS; a label column names each style."""
    specs = [spec(s, a) for s, a in SHEET_SPECS]
    label_w = 70
    styles = STYLES.names()
    sheet = Image.new("RGB", (label_w + size * scale * len(specs), size * scale * len(styles)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, name in enumerate(styles):
        images = create_procedural_generator(name, size).generate(
            [""] * len(specs), specs, [seed + i for i in range(len(specs))]
        )
        y = row * size * scale
        draw.text((4, y + size * scale // 2 - 6), name, fill="black")
        for col, image in enumerate(images):
            sheet.paste(
                image.resize((size * scale, size * scale), Image.Resampling.NEAREST),
                (label_w + col * size * scale, y),
            )
    return sheet


def random_specs(n: int, seed: int) -> list[CaptionSpec]:
    """Random specs over every subject and common attribute values (for throughput)."""
    rng = np.random.default_rng(seed)
    values = {
        "colour": ["red", "green", "blue", "yellow", "black", "purple", "orange"],
        "size": ["small", "medium", "large"],
        "position": ["left", "right", "top", "bottom", "center", "top left", "bottom right"],
        "count": ["one", "two", "three", "4"],
        "texture": ["plain", "striped", "dotted", "checkered"],
        "background": ["white", "blue sky", "green grass", "sand", "night", "gradient"],
    }
    out = []
    for _ in range(n):
        attrs = {k: str(rng.choice(v)) for k, v in values.items() if rng.random() < 0.5}
        out.append(spec(str(rng.choice(SUPPORTED_SUBJECTS)), attrs))
    return out


def throughput(n: int, sizes: tuple[int, ...] = (32, 64)) -> dict[str, dict[int, tuple[float, float]]]:
    """(images per CPU-second, images per wall-second) per style and size, rendering `n` random specs."""
    specs = random_specs(n, 0)
    result: dict[str, dict[int, tuple[float, float]]] = {}
    for name in STYLES.names():
        result[name] = {}
        for size in sizes:
            gen = create_procedural_generator(name, size)
            gen.generate([""] * 10, specs[:10], list(range(10)))  # warm caches (fonts, glyphs)
            cpu, wall = time.process_time(), time.perf_counter()
            gen.generate([""] * n, specs, list(range(n)))
            result[name][size] = (n / (time.process_time() - cpu), n / (time.perf_counter() - wall))
    return result


def main() -> None:
    """Writes the contact sheet and optionally prints throughput."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="PNG path of the contact sheet")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--scale", type=int, default=2, help="nearest-neighbour zoom of each tile")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench", type=int, default=0, help="images per style for the throughput table")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(args.size, args.scale, args.seed).save(args.out)
    print(f"wrote {args.out}")
    if args.bench:
        table = throughput(args.bench)
        print(
            f"{'style':<10} {'32px cpu':>9} {'64px cpu':>9} {'32px wall':>10} {'64px wall':>10}  (images/s)"
        )
        for name, row in table.items():
            print(f"{name:<10} {row[32][0]:>9.0f} {row[64][0]:>9.0f} {row[32][1]:>10.0f} {row[64][1]:>10.0f}")


if __name__ == "__main__":
    main()
