"""Users' own labelled image sets for zero-shot and linear probes, as `LabelledImages`.

- `load_user_dataset(cfg)`: ImageFolder (class = sub-folder, sorted), CSV (path,label columns; relative
  paths resolve against the CSV's folder) or WebDataset shards (image jpg/jpeg/png/webp + `cls` integer
  or `txt` label; CLIP_benchmark's `classnames.txt` / `zeroshot_classification_templates.txt` beside the
  shards are used when the config names no files).
Class-names files hold one name per line; templates files one template per line containing `{c}`.
"""

from __future__ import annotations

import csv
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from synthmphn.config import UserDatasetConfig
from synthmphn.eval.datasets import (
    CAPTION_TEMPLATES,
    IMAGE_EXTENSIONS,
    WDS_IMAGE_KEYS,
    LabelledImages,
    LazyImages,
    decode_rgb,
    open_rgb,
)

# ----------------------------------------------------------------------------- names and templates files


def read_lines(path: Path, what: str) -> list[str]:
    """Non-empty stripped lines of a text file; errors name the file."""
    try:
        lines = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: {what} file not found") from None
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"{path}: {what} file is empty")
    return lines


def read_templates(path: Path) -> list[str]:
    """Prompt templates, one per line, each containing `{c}`."""
    templates = read_lines(path, "templates")
    for number, template in enumerate(templates, 1):
        if "{c}" not in template:
            raise ValueError(
                f"{path}: template {number} {template!r} has no {{c}} placeholder for the class name"
            )
    return templates


def checked_classnames(path: Path, n_classes: int, labels_desc: str) -> list[str]:
    """Class names from `path`, which must hold exactly one name per class."""
    names = read_lines(path, "class-names")
    if len(names) != n_classes:
        raise ValueError(
            f"{path}: {len(names)} class names, but the dataset has {n_classes} classes ({labels_desc}); "
            "give one name per line, in label order"
        )
    return names


# ----------------------------------------------------------------------------- user datasets


def _label_names(cfg: UserDatasetConfig, raw_labels: list[str], desc: str) -> tuple[np.ndarray, list[str]]:
    """Integer labels + class names from raw label strings (integers index the names file; strings sort)."""
    if all(label.lstrip("-").isdigit() for label in raw_labels):
        labels = np.array([int(label) for label in raw_labels])
        if labels.min() < 0:
            raise ValueError(f"{desc}: integer labels must be >= 0, found {labels.min()}")
        n_classes = int(labels.max()) + 1
        if cfg.classnames is None:
            raise ValueError(
                f"{desc}: labels are integers 0..{n_classes - 1}; name the classes with a class-names "
                f"file (datasets[].classnames, {n_classes} lines)"
            )
        return labels, checked_classnames(cfg.classnames, n_classes, f"integer labels 0..{n_classes - 1}")
    classes = sorted(set(raw_labels))
    index = {name: i for i, name in enumerate(classes)}
    labels = np.array([index[label] for label in raw_labels])
    if cfg.classnames is None:
        return labels, classes
    return labels, checked_classnames(cfg.classnames, len(classes), f"labels {', '.join(classes[:5])}...")


def _templates(cfg: UserDatasetConfig, fallback: Path | None = None) -> list[str]:
    if cfg.templates is not None:
        return read_templates(cfg.templates)
    if fallback is not None and fallback.exists():
        return read_templates(fallback)
    return list(CAPTION_TEMPLATES)


def load_imagefolder(cfg: UserDatasetConfig) -> LabelledImages:
    """ImageFolder layout: `root/<class>/<...>/<image>`; classes are sub-folders in sorted order."""
    root = Path(cfg.path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: ImageFolder dataset {cfg.name!r} is not a directory")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    paths: list[Path] = []
    raw: list[int] = []
    for index, class_dir in enumerate(class_dirs):
        files = sorted(
            p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        )
        paths += files
        raw += [index] * len(files)
    if not paths:
        raise ValueError(
            f"{root}: no images found for dataset {cfg.name!r} (expected <class>/<image> files with extensions "
            f"{', '.join(IMAGE_EXTENSIONS)})"
        )
    names = [d.name.replace("_", " ") for d in class_dirs]
    if cfg.classnames is not None:
        names = checked_classnames(cfg.classnames, len(class_dirs), f"sub-folders of {root}")
    return LabelledImages(cfg.name, LazyImages(paths, open_rgb), np.array(raw), names, _templates(cfg))


PATH_COLUMNS = ("path", "filepath", "filename", "image", "file")
LABEL_COLUMNS = ("label", "class", "target", "cls")


def load_csv(cfg: UserDatasetConfig) -> LabelledImages:
    """CSV with a header naming a path column and a label column (e.g. `path,label`)."""
    path = Path(cfg.path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
            header = [name.strip().lower() for name in (rows[0].keys() if rows else [])]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: CSV dataset {cfg.name!r} not found") from None
    if not rows:
        raise ValueError(
            f"{path}: CSV dataset {cfg.name!r} has no rows (expected a header and path,label rows)"
        )
    lookup = {name.strip().lower(): name for name in rows[0]}
    path_col = next((lookup[c] for c in PATH_COLUMNS if c in lookup), None)
    label_col = next((lookup[c] for c in LABEL_COLUMNS if c in lookup), None)
    if path_col is None or label_col is None:
        raise ValueError(
            f"{path}: needs a path column ({'/'.join(PATH_COLUMNS)}) and a label column "
            f"({'/'.join(LABEL_COLUMNS)}); header has {header}"
        )
    files = [(path.parent / row[path_col].strip()).resolve() for row in rows]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{path}: {len(missing)} of {len(files)} images not found, e.g. {missing[0]}")
    labels, names = _label_names(cfg, [row[label_col].strip() for row in rows], str(path))
    return LabelledImages(cfg.name, LazyImages(files, open_rgb), labels, names, _templates(cfg))


def _shard_paths(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        shards = sorted(path.glob("*.tar"))
        if shards:
            return shards
        raise ValueError(f"{path}: no .tar shards in this WebDataset folder")
    raise FileNotFoundError(f"{path}: WebDataset shards not found")


def read_wds_samples(shards: list[Path]) -> list[dict[str, bytes]]:
    """Samples of plain WebDataset tars: members grouped by key (the name up to the basename's first dot)."""
    samples: dict[str, dict[str, bytes]] = {}
    for shard in shards:
        with tarfile.open(shard) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                folder, _, base = member.name.rpartition("/")
                stem, dot, ext = base.partition(".")
                if not dot:
                    continue
                key = f"{shard}:{folder}/{stem}"
                data = tar.extractfile(member)
                samples.setdefault(key, {})[ext.lower()] = data.read() if data else b""
    return list(samples.values())


def load_webdataset(cfg: UserDatasetConfig) -> LabelledImages:
    """WebDataset classification shards: an image member plus a `cls` (integer) or `txt` label."""
    path = Path(cfg.path)
    shards = _shard_paths(path)
    samples = [s for s in read_wds_samples(shards) if any(k in s for k in WDS_IMAGE_KEYS)]
    if not samples:
        raise ValueError(
            f"{path}: no samples with an image ({'/'.join(WDS_IMAGE_KEYS)}) in {len(shards)} shard(s)"
        )
    raw, blobs = [], []
    for sample in samples:
        label = sample.get("cls", sample.get("txt"))
        if label is None:
            raise ValueError(f"{path}: a sample has no label member (cls or txt); members: {sorted(sample)}")
        raw.append(label.decode("utf-8").strip())
        blobs.append(next(sample[k] for k in WDS_IMAGE_KEYS if k in sample))
    root = path if path.is_dir() else path.parent
    if cfg.classnames is None and (root / "classnames.txt").exists():
        cfg = cfg.model_copy(update={"classnames": root / "classnames.txt"})
    labels, names = _label_names(cfg, raw, str(path))
    templates = _templates(cfg, root / "zeroshot_classification_templates.txt")
    return LabelledImages(cfg.name, LazyImages(blobs, decode_rgb), labels, names, templates)


USER_LOADERS: dict[str, Callable[[UserDatasetConfig], LabelledImages]] = {
    "imagefolder": load_imagefolder,
    "csv": load_csv,
    "webdataset": load_webdataset,
}


def load_user_dataset(cfg: UserDatasetConfig) -> LabelledImages:
    """Loads a user dataset by its `kind` (imagefolder, csv, webdataset)."""
    return USER_LOADERS[cfg.kind](cfg)
