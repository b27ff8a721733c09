"""Batched random resized crops: hand-checkable boxes and resizes, and the crop sampling's ranges."""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

from synthmphn.data.crop import CropSpec, centre_box, crop_box, resized_crops

SPEC = CropSpec(size=16, scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3))


def noise(n: int = 3, size: int = 16) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )


def test_the_whole_image_at_its_own_size_is_unchanged() -> None:
    pixels = noise()
    boxes = torch.tensor([[0, 0, 16, 16]] * 3)
    assert torch.equal(resized_crops(pixels, boxes, 16), pixels.float())


def test_a_box_at_its_own_size_is_the_sub_image() -> None:
    pixels = noise()
    boxes = torch.tensor([[4, 2, 8, 8], [0, 8, 8, 8], [8, 0, 8, 8]])
    crops = resized_crops(pixels, boxes, 8)
    for k, (top, left, h, w) in enumerate(boxes.tolist()):
        assert torch.equal(crops[k], pixels[k, :, top : top + h, left : left + w].float())


def test_enlarging_the_whole_image_is_bicubic_upsampling() -> None:
    """Same pixel-centre mapping and cubic kernel as torch's bicubic interpolate (which repeats the border)."""
    pixels = noise()
    crops = resized_crops(pixels, torch.tensor([[0, 0, 16, 16]] * 3), 32)
    reference = (
        F.interpolate(pixels.float(), size=32, mode="bicubic", align_corners=False).round().clamp(0, 255)
    )
    assert (crops - reference).abs().max() <= 1  # rounding of values within float error of .5
    assert (crops == reference).float().mean() > 0.99


def test_crop_boxes_fit_and_follow_the_scale_and_aspect_ranges() -> None:
    rng = random.Random(0)
    boxes = [crop_box(rng, 32, 32, SPEC) for _ in range(2000)]
    for top, left, h, w in boxes:
        assert 0 <= top <= 32 - h and 0 <= left <= 32 - w
        # w, h are rounded, so area and aspect may leave the ranges by the rounding of one pixel
        assert 0.8 * 1024 - 2 * 32 <= h * w <= 1024
        assert 3 / 4 * (h - 1) / (h + 1) <= w / h <= 4 / 3 * (h + 1) / (h - 1)
    fractions = [h * w / 1024 for _, _, h, w in boxes]
    assert 0.85 < sum(fractions) / len(fractions) < 0.95  # uniform in 0.8..1, boxes over 32 px redrawn
    assert len(set(boxes)) > 50  # offsets and sizes vary
    assert [crop_box(random.Random(7), 32, 32, SPEC) for _ in range(3)] == [
        crop_box(random.Random(7), 32, 32, SPEC) for _ in range(3)
    ]


def test_without_a_fitting_try_the_crop_is_the_centre_box_of_clamped_aspect() -> None:
    never_fits = CropSpec(size=16, scale=(2.0, 2.0), ratio=(3 / 4, 4 / 3))  # twice the area never fits
    assert crop_box(random.Random(0), 10, 20, never_fits) == centre_box(10, 20, never_fits.ratio)
    assert centre_box(10, 20, (3 / 4, 4 / 3)) == (0, 3, 10, 13)  # aspect 2 > 4/3: w = round(10 * 4/3)
    assert centre_box(20, 10, (3 / 4, 4 / 3)) == (3, 0, 13, 10)  # aspect 1/2 < 3/4: h = round(10 / (3/4))
    assert centre_box(12, 12, (3 / 4, 4 / 3)) == (0, 0, 12, 12)


def test_the_separable_resize_equals_grid_samples_bicubic_with_border_padding() -> None:
    pixels = noise(64, 32)
    rng = random.Random(1)
    boxes = torch.tensor([crop_box(rng, 32, 32, CropSpec(32, (0.5, 1.0), (3 / 4, 4 / 3))) for _ in range(64)])
    top, left, h, w = (boxes[:, k, None].float() for k in range(4))
    steps = (torch.arange(32) + 0.5) / 32
    xs, ys = (2 * (left + steps * w) / 32 - 1), (2 * (top + steps * h) / 32 - 1)
    grid = torch.stack((xs[:, None, :].expand(-1, 32, -1), ys[:, :, None].expand(-1, -1, 32)), dim=-1)
    reference = F.grid_sample(
        pixels.float(), grid, mode="bicubic", padding_mode="border", align_corners=False
    )
    crops = resized_crops(pixels, boxes, 32)
    assert (crops - reference.round().clamp(0, 255)).abs().max() <= 1
    assert (crops == reference.round().clamp(0, 255)).float().mean() > 0.999
