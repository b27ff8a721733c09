"""`clip` against a hand computation, and its one-image-per-caption contract."""

import pytest
import torch

from synthmphn.losses import create_loss


def test_clip_matches_hand_computation(make_batch, hand):
    batch = make_batch([1, 1, 1, 1], seed=3)
    rows = list(range(4))
    expected = 0.5 * (hand.i2t(batch, rows, rows) + hand.t2i(batch, rows, rows))
    out = create_loss("clip")(batch)
    assert out["loss"].item() == pytest.approx(expected, rel=1e-12)
    assert (out["loss_i2t"] + out["loss_t2i"]).item() == pytest.approx(expected, rel=1e-12)


def test_clip_is_cross_entropy_on_the_logit_matrix(make_batch):
    batch = make_batch([1, 1, 1], seed=1, scale=7.0)
    logits = batch.logit_scale * batch.image_features @ batch.text_features.T
    targets = torch.arange(3)
    expected = 0.5 * (
        torch.nn.functional.cross_entropy(logits, targets)
        + torch.nn.functional.cross_entropy(logits.T, targets)
    )
    torch.testing.assert_close(create_loss("clip")(batch)["loss"], expected)


def test_clip_rejects_several_images_per_caption(make_batch):
    with pytest.raises(ValueError, match="mpclip.*images_per_caption=1"):
        create_loss("clip")(make_batch([2, 2, 2]))


def test_clip_rejects_images_out_of_caption_order(make_batch):
    batch = make_batch([1, 1, 1])
    batch.image_caption = torch.tensor([1, 0, 2])
    with pytest.raises(ValueError, match="one image per caption"):
        create_loss("clip")(batch)
