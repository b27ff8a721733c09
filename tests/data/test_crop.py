"""Batched random resized crops: hand-checkable boxes and resizes, and the crop sampling's ranges."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from synthmphn.data.crop import (
    BOX_DRAWS,
    CropSpec,
    SpanTable,
    centre_box,
    crop_boxes,
    resize_matrices,
    resized_crops,
)
from synthmphn.seeding import counter_uniforms, row_keys

SPEC = CropSpec(size=16, scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3))
ONE, ZERO = torch.ones(3, 1, 1), torch.zeros(3, 1, 1)  # resized_crops' affine map as the identity


def noise(n: int = 3, size: int = 16) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )


def test_the_whole_image_at_its_own_size_is_unchanged() -> None:
    pixels = noise()
    boxes = torch.tensor([[0, 0, 16, 16]] * 3)
    assert torch.equal(resized_crops(pixels, boxes, 16, ONE, ZERO), pixels.float())


def test_a_box_at_its_own_size_is_the_sub_image() -> None:
    pixels = noise()
    boxes = torch.tensor([[4, 2, 8, 8], [0, 8, 8, 8], [8, 0, 8, 8]])
    crops = resized_crops(pixels, boxes, 8, ONE, ZERO)
    for k, (top, left, h, w) in enumerate(boxes.tolist()):
        assert torch.equal(crops[k], pixels[k, :, top : top + h, left : left + w].float())


def test_enlarging_the_whole_image_is_bicubic_upsampling() -> None:
    """Same pixel-centre mapping and cubic kernel as torch's bicubic interpolate (which repeats the border)."""
    pixels = noise()
    crops = resized_crops(pixels, torch.tensor([[0, 0, 16, 16]] * 3), 32, ONE, ZERO)
    reference = F.interpolate(pixels.float(), size=32, mode="bicubic", align_corners=False).clamp(0, 255)
    assert (crops - reference).abs().max() < 1e-3  # float summation order only


def test_the_crop_is_clamped_to_the_pixel_range_then_mapped_per_channel() -> None:
    """A 0/255 checkerboard enlarged bicubically overshoots both ends; the clamp brings it back, and the
    affine map (Normalize after ToTensor) equals applying it after the clamp."""
    board = ((torch.arange(8)[:, None] + torch.arange(8)) % 2 * 255).to(torch.uint8).expand(2, 3, 8, 8)
    boxes = torch.tensor([[0, 0, 8, 8], [1, 2, 5, 6]])
    plain = resized_crops(board.contiguous(), boxes, 16, ONE, ZERO)
    assert plain.min() == 0 and plain.max() == 255
    reference = F.interpolate(board.float()[:1], size=16, mode="bicubic", align_corners=False)
    assert reference.min() < -10 and reference.max() > 265  # there was overshoot to clamp
    mean, std = torch.tensor([0.2, 0.5, 0.7]).view(3, 1, 1), torch.tensor([0.3, 0.25, 0.2]).view(3, 1, 1)
    mapped = resized_crops(board.contiguous(), boxes, 16, 1 / (255 * std), -mean / std)
    assert torch.allclose(mapped, (plain / 255 - mean) / std, atol=1e-5)


def boxes_of(count: int, spec: CropSpec, height: int = 32, width: int = 32, seed: int = 0) -> np.ndarray:
    keys = row_keys(seed, np.arange(count)[:, None])
    return crop_boxes(counter_uniforms(keys, BOX_DRAWS), height, width, spec)


def test_crop_boxes_fit_and_follow_the_scale_and_aspect_ranges() -> None:
    boxes = [tuple(box) for box in boxes_of(2000, SPEC).tolist()]
    for top, left, h, w in boxes:
        assert 0 <= top <= 32 - h and 0 <= left <= 32 - w
        # w, h are rounded, so area and aspect may leave the ranges by the rounding of one pixel
        assert 0.8 * 1024 - 2 * 32 <= h * w <= 1024
        assert 3 / 4 * (h - 1) / (h + 1) <= w / h <= 4 / 3 * (h + 1) / (h - 1)
    fractions = [h * w / 1024 for _, _, h, w in boxes]
    assert 0.85 < sum(fractions) / len(fractions) < 0.95  # uniform in 0.8..1, boxes over 32 px redrawn
    assert len(set(boxes)) > 50  # offsets and sizes vary
    tops = [top for top, _, h, _ in boxes if h == 28]  # offsets uniform over 0..32 - h
    assert set(tops) == set(range(5)) and max(map(tops.count, range(5))) < 2 * min(map(tops.count, range(5)))
    assert np.array_equal(boxes_of(3, SPEC, seed=7), boxes_of(3, SPEC, seed=7))


def test_the_first_fitting_try_wins() -> None:
    """Hand-worked: area 32·32·0.9 at aspect e^0 = 1 gives a 30 × 30 box; try 0 asks for 1.2× the image."""
    spec = CropSpec(size=16, scale=(0.9, 1.2), ratio=(1.0, 1.0))
    uniforms = np.full((1, BOX_DRAWS), 0.5)
    uniforms[0, 0], uniforms[0, 1] = 1.0 - 1e-12, 0.0  # try 0: scale 1.2 (does not fit), try 1: scale 0.9
    uniforms[0, -2:] = (0.0, 0.999)  # top = 0, left = floor(0.999 · 3) = 2
    assert crop_boxes(uniforms, 32, 32, spec).tolist() == [[0, 2, 30, 30]]


def test_without_a_fitting_try_the_crop_is_the_centre_box_of_clamped_aspect() -> None:
    never_fits = CropSpec(size=16, scale=(2.0, 2.0), ratio=(3 / 4, 4 / 3))  # twice the area never fits
    assert boxes_of(4, never_fits, 10, 20).tolist() == [list(centre_box(10, 20, never_fits.ratio))] * 4
    assert centre_box(10, 20, (3 / 4, 4 / 3)) == (0, 3, 10, 13)  # aspect 2 > 4/3: w = round(10 * 4/3)
    assert centre_box(20, 10, (3 / 4, 4 / 3)) == (3, 0, 13, 10)  # aspect 1/2 < 3/4: h = round(10 / (3/4))
    assert centre_box(12, 12, (3 / 4, 4 / 3)) == (0, 0, 12, 12)


def test_the_span_table_gathers_what_resize_matrices_computes() -> None:
    table = SpanTable(16, 32)
    start, length = np.array([0, 3, 0, 5, 3]), np.array([32, 28, 32, 20, 28])
    gathered = table.gather(start, length)
    expected = resize_matrices(torch.tensor(start).float(), torch.tensor(length).float(), 16, 32)
    assert torch.equal(gathered, expected)
    assert len(table.matrices) == 3  # each distinct span computed once
    table.gather(np.array([3]), np.array([28]))
    assert len(table.matrices) == 3


def test_the_separable_resize_equals_grid_samples_bicubic_with_border_padding() -> None:
    pixels = noise(64, 32)
    boxes = torch.from_numpy(boxes_of(64, CropSpec(32, (0.5, 1.0), (3 / 4, 4 / 3)), seed=1))
    top, left, h, w = (boxes[:, k, None].float() for k in range(4))
    steps = (torch.arange(32) + 0.5) / 32
    xs, ys = (2 * (left + steps * w) / 32 - 1), (2 * (top + steps * h) / 32 - 1)
    grid = torch.stack((xs[:, None, :].expand(-1, 32, -1), ys[:, :, None].expand(-1, -1, 32)), dim=-1)
    reference = F.grid_sample(
        pixels.float(), grid, mode="bicubic", padding_mode="border", align_corners=False
    )
    crops = resized_crops(pixels, boxes, 32, ONE, ZERO)
    assert (crops - reference.clamp(0, 255)).abs().max() < 1e-3
