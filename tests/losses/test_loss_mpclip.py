"""`mpclip` against a hand computation; with one image per caption it is exactly `clip`."""

import pytest
import torch

from synthmphn.losses import create_loss


def test_mpclip_matches_hand_computation(make_batch, hand):
    batch = make_batch([3, 1, 2, 2], seed=4)
    images, texts = list(range(8)), list(range(4))
    expected = 0.5 * (hand.i2t(batch, images, texts) + hand.t2i(batch, texts, images))
    assert create_loss("mpclip")(batch)["loss"].item() == pytest.approx(expected, rel=1e-12)


def test_mpclip_text_to_image_target_is_uniform_over_the_captions_images(make_batch):
    batch = make_batch([2, 2], seed=5, scale=3.0)
    logits_t2i = batch.logit_scale * batch.text_features @ batch.image_features.T
    targets = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]], dtype=logits_t2i.dtype)
    t2i = torch.nn.functional.cross_entropy(logits_t2i, targets)
    torch.testing.assert_close(create_loss("mpclip")(batch)["loss_t2i"], 0.5 * t2i)


def test_mpclip_with_one_image_per_caption_equals_clip(make_batch):
    batch = make_batch([1] * 6, seed=6, dtype=torch.float32)
    mp, clip = create_loss("mpclip")(batch), create_loss("clip")(batch)
    for key in ("loss", "loss_i2t", "loss_t2i"):
        torch.testing.assert_close(mp[key], clip[key])


def test_caption_without_images_is_only_a_negative_column(make_batch, hand):
    batch = make_batch([2, 0, 1], seed=7)
    images, texts = [0, 1, 2], [0, 1, 2]
    expected = 0.5 * (hand.i2t(batch, images, texts) + hand.t2i(batch, texts, images))
    assert create_loss("mpclip")(batch)["loss"].item() == pytest.approx(expected, rel=1e-12)
