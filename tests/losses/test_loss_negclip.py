"""`negclip` against a hand computation: HN captions are extra i2t columns, HN images are ignored."""

import pytest
import torch

from synthmphn.losses import create_loss

BASE_ROWS, ALL_ROWS = [0, 2, 4, 6], list(range(8))


def images_of(batch, rows):
    return [i for i, c in enumerate(batch.image_caption.tolist()) if c in rows]


@pytest.mark.parametrize("m", [1, 2])
def test_negclip_matches_hand_computation(make_hn_batch, hand, m):
    batch = make_hn_batch(m=m, seed=13)
    base_images = images_of(batch, BASE_ROWS)
    expected = 0.5 * (hand.i2t(batch, base_images, ALL_ROWS) + hand.t2i(batch, BASE_ROWS, base_images))
    assert create_loss("negclip")(batch)["loss"].item() == pytest.approx(expected, rel=1e-12)


def test_negclip_ignores_images_of_hard_negative_captions(make_hn_batch):
    batch = make_hn_batch(m=2, seed=14)
    before = create_loss("negclip")(batch)["loss"]
    negative_images = batch.text_is_negative[batch.image_caption]
    with torch.no_grad():
        batch.image_features[negative_images] = torch.roll(batch.image_features[negative_images], 1, dims=1)
    torch.testing.assert_close(create_loss("negclip")(batch)["loss"], before)


def test_negclip_batch_without_images_for_negatives(make_batch, hand):
    batch = make_batch([1, 0, 1, 0], negative=[False, True, False, True], partner=[1, 0, 3, 2], seed=15)
    expected = 0.5 * (hand.i2t(batch, [0, 1], [0, 1, 2, 3]) + hand.t2i(batch, [0, 2], [0, 1]))
    assert create_loss("negclip")(batch)["loss"].item() == pytest.approx(expected, rel=1e-12)
