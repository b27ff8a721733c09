"""Compositional: per-kind accuracy (perfect = 1, constant = 0.5), pairing by index, SugarCrepe files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_fakes import COLOURS, ConceptEncoder, World, caption_encoder, constant_encoder, id_image

from synthmphn.config import EvalConfig
from synthmphn.eval.compositional import compositional_task
from synthmphn.eval.sugarcrepe import read_sugarcrepe


def test_perfect_encoder_scores_one_per_kind(dataset: Path, world: World, tmp_path: Path) -> None:
    result = compositional_task(caption_encoder(world), dataset, tmp_path, EvalConfig())
    assert result.errors == []
    m = result.metrics
    assert m["text_acc"] == m["image_acc"] == 1.0
    assert m["text/colour"] == m["text/subject"] == m["image/colour"] == m["image/subject"] == 1.0
    # 6 groups x 2 negatives x 2 paired images, each side
    assert m["n_text"] == m["n_image"] == 24
    assert [row["kind"] for row in result.tables["per_kind"]] == ["colour", "subject"]


def test_constant_encoder_is_half(dataset: Path, tmp_path: Path) -> None:
    m = compositional_task(constant_encoder(), dataset, tmp_path, EvalConfig()).metrics
    assert m["text_acc"] == m["image_acc"] == m["text/subject"] == m["image/colour"] == 0.5


def test_colour_blind_encoder_fails_only_colour(dataset: Path, world: World, tmp_path: Path) -> None:
    def blind(text: str | None) -> str | None:
        for colour in COLOURS:
            text = text.replace(colour, "?") if text else text
        return text

    encoder = ConceptEncoder(lambda image: blind(world.about(image, "text")), blind)
    m = compositional_task(encoder, dataset, tmp_path, EvalConfig()).metrics
    assert m["text/subject"] == m["image/subject"] == 1.0
    assert m["text/colour"] == m["image/colour"] == 0.5  # ties
    assert m["text_acc"] == pytest.approx(0.75)


def write_sugarcrepe(folder: Path, world: World, entries: int = 3, as_dict: bool = False) -> Path:
    """A SugarCrepe-style file: image i shows 'a red square'; the negative is 'a blue square'."""
    items = []
    for i in range(entries):
        world.meta[1000 + i] = {"text": "a red square"}
        id_image(1000 + i).save(folder / f"{i:012d}.png")
        items.append(
            {"filename": f"{i:012d}.png", "caption": "a red square", "negative_caption": "a blue square"}
        )
    path = folder / "replace_att.json"
    path.write_text(json.dumps({str(i): item for i, item in enumerate(items)} if as_dict else items))
    return path


def test_sugarcrepe_files_per_category_and_micro_average(dataset: Path, world: World, tmp_path: Path) -> None:
    first = write_sugarcrepe(tmp_path, world)
    other = tmp_path / "swap"
    other.mkdir()
    second = write_sugarcrepe(other, world, entries=1, as_dict=True).rename(other / "swap_obj.json")
    config = EvalConfig(sugarcrepe=[first, second])
    m = compositional_task(caption_encoder(world), dataset, tmp_path, config).metrics
    assert (
        m["sugarcrepe/replace_att"] == 1.0 and m["sugarcrepe/swap_obj"] == 1.0 and m["sugarcrepe/acc"] == 1.0
    )
    m = compositional_task(constant_encoder(), dataset, tmp_path, config).metrics
    assert m["sugarcrepe/acc"] == 0.5


def test_sugarcrepe_missing_image_is_an_error_naming_both(
    dataset: Path, world: World, tmp_path: Path
) -> None:
    path = write_sugarcrepe(tmp_path, world)
    (tmp_path / "000000000001.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"replace_att\.json: image .*000000000001\.png not found"):
        read_sugarcrepe(path)
    result = compositional_task(caption_encoder(world), dataset, tmp_path, EvalConfig(sugarcrepe=[path]))
    assert result.metrics["text_acc"] == 1.0  # the held-out part still ran
    assert "sugarcrepe/acc" not in result.metrics
    assert (
        len(result.errors) == 1
        and "000000000001.png" in result.errors[0]
        and "replace_att.json" in result.errors[0]
    )


def test_sugarcrepe_images_dir_and_bad_entries(world: World, tmp_path: Path) -> None:
    path = write_sugarcrepe(tmp_path, world)
    moved = tmp_path / "json"
    moved.mkdir()
    path = path.rename(moved / path.name)
    assert len(read_sugarcrepe(path, images_dir=tmp_path)) == 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"filename": "x.png", "caption": "c"}]))
    with pytest.raises(ValueError, match="negative_caption"):
        read_sugarcrepe(bad)
