"""Dataset loaders: real digits, ImageFolder, CSV, WebDataset shards, class-name/template files, bad input."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthmphn.config import UserDatasetConfig
from synthmphn.eval.datasets import CAPTION_TEMPLATES, digit_image, load_user_dataset, real_digits
from synthmphn.eval.groups import read_classes


def test_real_digits() -> None:
    data = real_digits()
    assert len(data.images) == len(data.labels) == 1797
    assert data.classnames == [f"digit {d}" for d in range(10)]
    assert sorted(set(data.labels.tolist())) == list(range(10))
    assert data.templates == list(CAPTION_TEMPLATES)
    image = data.images[0]
    assert image.mode == "RGB" and image.size == (32, 32)
    pixels = np.asarray(image)
    assert pixels[0, 0].tolist() == [255, 255, 255] and pixels.min() < 60  # white paper, dark ink


def test_digit_image_ink_is_dark() -> None:
    ink = np.zeros((8, 8))
    ink[3:5, 3:5] = 16
    pixels = np.asarray(digit_image(ink, size=8))
    assert pixels[0, 0, 0] == 255 and pixels[3, 3, 0] == 0


def save(path: Path, colour: tuple[int, int, int] = (10, 20, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (5, 5), colour).save(path)


def test_imagefolder(tmp_path: Path) -> None:
    for cls, n in (("cat_face", 2), ("dog", 3)):
        for i in range(n):
            save(tmp_path / "data" / cls / f"{i}.png")
    data = load_user_dataset(UserDatasetConfig(name="pets", kind="imagefolder", path=tmp_path / "data"))
    assert data.classnames == ["cat face", "dog"]
    assert data.labels.tolist() == [0, 0, 1, 1, 1]
    assert data.images[4].size == (5, 5) and len(data.images[1:3]) == 2


def test_imagefolder_names_file_must_match(tmp_path: Path) -> None:
    for cls in ("a", "b"):
        save(tmp_path / "data" / cls / "x.jpg")
    names = tmp_path / "names.txt"
    names.write_text("apple\nbanana\ncherry\n")
    cfg = UserDatasetConfig(name="fruit", kind="imagefolder", path=tmp_path / "data", classnames=names)
    with pytest.raises(ValueError, match=r"names\.txt: 3 class names, but the dataset has 2 classes"):
        load_user_dataset(cfg)
    names.write_text("apple\nbanana\n")
    templates = tmp_path / "templates.txt"
    templates.write_text("a photo of {c}.\na {c}\n")
    data = load_user_dataset(cfg.model_copy(update={"templates": templates}))
    assert data.classnames == ["apple", "banana"] and data.templates == ["a photo of {c}.", "a {c}"]
    templates.write_text("no placeholder\n")
    with pytest.raises(ValueError, match=r"templates\.txt: template 1 .* no \{c\}"):
        load_user_dataset(cfg.model_copy(update={"templates": templates}))


def test_empty_dir_names_the_dir(tmp_path: Path) -> None:
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(ValueError, match=rf"{tmp_path / 'empty'}: no images found"):
        load_user_dataset(UserDatasetConfig(name="e", kind="imagefolder", path=tmp_path / "empty"))


def test_csv_relative_paths_and_labels(tmp_path: Path) -> None:
    save(tmp_path / "img" / "a.png")
    save(tmp_path / "img" / "b.png")
    csv_path = tmp_path / "set.csv"
    csv_path.write_text("path,label\nimg/a.png,zebra\nimg/b.png,ant\n")
    data = load_user_dataset(UserDatasetConfig(name="c", kind="csv", path=csv_path))
    assert data.classnames == ["ant", "zebra"] and data.labels.tolist() == [1, 0]
    csv_path.write_text("filepath,label\nimg/a.png,1\nimg/b.png,0\n")
    with pytest.raises(ValueError, match="class-names file"):
        load_user_dataset(UserDatasetConfig(name="c", kind="csv", path=csv_path))
    names = tmp_path / "n.txt"
    names.write_text("zero\none\n")
    data = load_user_dataset(UserDatasetConfig(name="c", kind="csv", path=csv_path, classnames=names))
    assert data.classnames == ["zero", "one"] and data.labels.tolist() == [1, 0]
    csv_path.write_text("path,label\nimg/missing.png,0\n")
    with pytest.raises(FileNotFoundError, match=r"set\.csv: 1 of 1 images not found, e\.g\. .*missing\.png"):
        load_user_dataset(UserDatasetConfig(name="c", kind="csv", path=csv_path, classnames=names))
    csv_path.write_text("file_name,y\nimg/a.png,0\n")
    with pytest.raises(ValueError, match="needs a path column"):
        load_user_dataset(UserDatasetConfig(name="c", kind="csv", path=csv_path))


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_webdataset_with_clip_benchmark_files(tmp_path: Path) -> None:
    shards = tmp_path / "wds"
    shards.mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(buffer, "PNG")
    with tarfile.open(shards / "test-0.tar", "w") as tar:
        for i, label in enumerate((1, 0, 1)):
            add(tar, f"s{i}.png", buffer.getvalue())
            add(tar, f"s{i}.cls", str(label).encode())
    (shards / "classnames.txt").write_text("cat\ndog\n")
    (shards / "zeroshot_classification_templates.txt").write_text("a blurry photo of a {c}.\n")
    data = load_user_dataset(UserDatasetConfig(name="w", kind="webdataset", path=shards))
    assert data.labels.tolist() == [1, 0, 1] and data.classnames == ["cat", "dog"]
    assert data.templates == ["a blurry photo of a {c}."] and data.images[0].size == (4, 4)
    (shards / "classnames.txt").write_text("cat\n")
    with pytest.raises(ValueError, match=r"classnames\.txt: 1 class names, but the dataset has 2 classes"):
        load_user_dataset(UserDatasetConfig(name="w", kind="webdataset", path=shards))


def test_read_classes_formats(tmp_path: Path) -> None:
    (tmp_path / "classes.json").write_text(
        '[{"index": 0, "name": "digit 0", "category": "digit", "display": "zero"}]'
    )
    assert [(c.subject, c.name) for c in read_classes(tmp_path)] == [("digit 0", "zero")]
    (tmp_path / "classes.json").write_text('[{"subject": "cat", "name": "a cat"}, "dog"]')
    assert [(c.subject, c.name) for c in read_classes(tmp_path)] == [("cat", "a cat"), ("dog", "dog")]
