"""Dataset loaders: real digits, ImageFolder, CSV, WebDataset shards, class-name/template files, bad input."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthmphn.config import UserDatasetConfig
from synthmphn.eval.datasets import CAPTION_TEMPLATES, digit_image, real_digits
from synthmphn.eval.groups import read_classes
from synthmphn.eval.user_datasets import load_user_dataset


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


# ----------------------------------------------------------------------------- MNIST and Fashion-MNIST


def test_real_mnist_is_dark_ink_on_white() -> None:
    from synthmphn.eval.datasets import real_mnist

    data = real_mnist()
    assert len(data.images) == 5000 and data.classnames == [f"digit {d}" for d in range(10)]
    assert np.bincount(data.labels).tolist() == [500] * 10
    grey = np.asarray(data.images[0].convert("L"), dtype=np.float32)
    assert data.images[0].size == (32, 32)
    assert grey[0].mean() > 250 and grey.min() < 60  # white paper border, dark strokes


def _write_idx(path: Path, array: np.ndarray) -> None:
    import gzip

    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_idx_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthmphn.eval.datasets import FASHION_CLASSNAMES, read_idx, real_fashion_mnist

    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[:, 8:20, 8:20] = 255  # a light item on black, as Fashion-MNIST stores it
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([9, 0, 4]))
    assert read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz").tolist() == [9, 0, 4]
    monkeypatch.setenv("SYNTHMPHN_FASHION_MNIST", str(tmp_path))
    data = real_fashion_mnist()
    assert data.labels.tolist() == [9, 0, 4] and data.classnames == list(FASHION_CLASSNAMES)
    grey = np.asarray(data.images[1].convert("L"))
    assert grey[0, 0] == 255 and grey[16, 16] == 0  # drawn dark on white


def test_fashion_mnist_missing_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from synthmphn.eval.datasets import DatasetUnavailable, real_fashion_mnist

    monkeypatch.setenv("SYNTHMPHN_FASHION_MNIST", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match=r"make fashion-mnist"):
        real_fashion_mnist()


def test_installed_fashion_mnist() -> None:
    from synthmphn.eval.datasets import DatasetUnavailable, real_fashion_mnist

    try:
        data = real_fashion_mnist()
    except DatasetUnavailable as err:
        pytest.skip(f"Fashion-MNIST is not installed here ({err})")
    assert len(data.images) == 10_000 and np.bincount(data.labels).tolist() == [1000] * 10


def test_bad_idx_file_names_it(tmp_path: Path) -> None:
    from synthmphn.eval.datasets import read_idx

    (tmp_path / "x.idx").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00")
    with pytest.raises(ValueError, match=r"x\.idx: not an unsigned-byte IDX file"):
        read_idx(tmp_path / "x.idx")
