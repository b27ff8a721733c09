"""`siglip` against a hand computation of the pairwise sigmoid loss."""

import math

import pytest

from synthmphn.losses import create_loss


def hand_siglip(batch, hand) -> float:
    s, b = float(batch.logit_scale.detach()), float(batch.logit_bias.detach())
    total = 0.0
    n_images = len(batch.image_caption)
    for i in range(n_images):
        for j in range(len(batch.text_features)):
            z = 1.0 if int(batch.image_caption[i]) == j else -1.0
            logit = s * hand.dot(batch.image_features[i], batch.text_features[j]) + b
            total -= math.log(1.0 / (1.0 + math.exp(-z * logit)))
    return total / n_images


@pytest.mark.parametrize("images_per_caption", [[1, 1, 1, 1], [2, 3, 1]])
def test_siglip_matches_hand_computation(make_batch, hand, images_per_caption):
    batch = make_batch(images_per_caption, seed=8, scale=10.0, bias=-3.0)
    out = create_loss("siglip")(batch)
    assert out["loss"].item() == pytest.approx(hand_siglip(batch, hand), rel=1e-12)
    assert (out["loss_pos"] + out["loss_neg"]).item() == pytest.approx(out["loss"].item(), rel=1e-12)


def test_siglip_gradients_reach_scale_and_bias(make_batch):
    batch = make_batch([1, 2], bias=-10.0, scale=10.0)
    create_loss("siglip")(batch)["loss"].backward()
    assert batch.logit_scale.grad is not None and batch.logit_scale.grad != 0
    assert batch.logit_bias.grad is not None and batch.logit_bias.grad != 0


def test_siglip_without_bias_names_the_fix(make_batch):
    with pytest.raises(ValueError, match="logit bias.*synth-tiny-sigmoid"):
        create_loss("siglip")(make_batch([1, 1]))
