"""`stablerep+` = mpclip + w · image–image multi-positive loss, against a hand computation."""

import pytest
import torch

from synthmphn.losses import create_loss


def hand_image_image(batch, hand, temperature: float) -> float:
    caption = [int(c) for c in batch.image_caption]
    total = 0.0
    for i in range(len(caption)):
        others = [k for k in range(len(caption)) if k != i]
        positives = [pos for pos, k in enumerate(others) if caption[k] == caption[i]]
        if not positives:
            continue  # a caption with a single image: its row adds 0 but still counts (StableRep)
        row = [hand.dot(batch.image_features[i], batch.image_features[k]) / temperature for k in others]
        total -= sum(hand.log_softmax_at(row, p) for p in positives) / len(positives)
    return total / len(caption)


def test_stablerep_matches_hand_computation(make_batch, hand):
    batch = make_batch([3, 1, 2], seed=9)  # caption 1's image has no positive: a zero row out of 6
    images, texts = list(range(6)), [0, 1, 2]
    mp = 0.5 * (hand.i2t(batch, images, texts) + hand.t2i(batch, texts, images))
    ii = hand_image_image(batch, hand, temperature=0.1)
    out = create_loss("stablerep+")(batch)
    assert out["loss_mp"].item() == pytest.approx(mp, rel=1e-12)
    assert out["loss_ii"].item() == pytest.approx(ii, rel=1e-12)
    assert out["loss"].item() == pytest.approx(mp + ii, rel=1e-12)


def test_stablerep_options(make_batch, hand):
    batch = make_batch([2, 2], seed=10)
    out = create_loss("stablerep+", image_weight=0.25, image_temperature=0.5)(batch)
    ii = hand_image_image(batch, hand, temperature=0.5)
    assert out["loss_ii"].item() == pytest.approx(ii, rel=1e-12)
    assert out["loss"].item() == pytest.approx(out["loss_mp"].item() + 0.25 * ii, rel=1e-12)


def test_single_image_captions_give_no_image_term(make_batch):
    batch = make_batch([1, 1, 1], seed=11)
    out = create_loss("stablerep+")(batch)
    assert out["loss_ii"].item() == 0.0
    torch.testing.assert_close(out["loss"], create_loss("mpclip")(batch)["loss"])


def test_image_loss_gradient_is_finite_despite_masked_diagonal(make_batch):
    batch = make_batch([2, 2, 1], seed=12)
    create_loss("stablerep+")(batch)["loss_ii"].backward()
    assert torch.isfinite(batch.image_features.grad).all()


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="image_temperature"):
        create_loss("stablerep+", image_temperature=0.0)
