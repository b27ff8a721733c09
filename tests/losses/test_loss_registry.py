"""Every registered loss: registration, finiteness, gradients, errors. Parametrized over `LOSSES`."""

import pytest
import torch

from synthmphn.losses import LOSSES, ContrastiveLoss, create_loss

ALL = LOSSES.names()
HN_LOSSES = ["negclip", "tripletclip", "tripletclip-sym"]


def test_every_objective_of_the_spec_is_registered():
    expected = {"clip", "siglip", "mpclip", "stablerep+", "negclip", "tripletclip", "tripletclip-sym"}
    assert expected <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_loss_is_documented_with_its_formula(name):
    cls = LOSSES.get(name)
    assert issubclass(cls, ContrastiveLoss)
    assert cls.__doc__ and "L" in cls.__doc__ and "=" in cls.__doc__
    assert cls.needs_negatives == (name in HN_LOSSES)


@pytest.mark.parametrize("name", ALL)
def test_loss_is_finite_scalar_and_components_are_scalars(name, make_batch_for):
    out = create_loss(name)(make_batch_for(name))
    assert set(out) > {"loss"} or name == "siglip"
    for value in out.values():
        assert value.ndim == 0 and torch.isfinite(value)


@pytest.mark.parametrize("name", ALL)
def test_loss_is_finite_when_all_features_are_equal(name, make_batch_for):
    batch = make_batch_for(name, dtype=torch.float32, scale=100.0)
    with torch.no_grad():
        batch.image_features[:] = batch.image_features[0]
        batch.text_features[:] = batch.image_features[0]
    out = create_loss(name)(batch)
    out["loss"].backward()
    assert torch.isfinite(out["loss"])
    assert torch.isfinite(batch.image_features.grad).all() and torch.isfinite(batch.text_features.grad).all()


@pytest.mark.parametrize("name", ALL)
def test_gradients_reach_features_and_logit_scale(name, make_batch_for):
    batch = make_batch_for(name)
    create_loss(name)(batch)["loss"].backward()
    assert batch.logit_scale.grad is not None and batch.logit_scale.grad.abs() > 0
    assert batch.image_features.grad.abs().sum() > 0 and batch.text_features.grad.abs().sum() > 0
    if name == "siglip":
        assert batch.logit_bias.grad is not None and batch.logit_bias.grad.abs() > 0


@pytest.mark.parametrize("name", [n for n in ALL if n != "siglip"])
def test_logit_bias_is_ignored_outside_siglip(name, make_batch_for):
    batch = make_batch_for(name)
    plain = create_loss(name)(batch)["loss"]
    batch.logit_bias = torch.tensor(-5.0, dtype=batch.logit_scale.dtype)
    torch.testing.assert_close(create_loss(name)(batch)["loss"], plain)


@pytest.mark.parametrize("name", ALL)
def test_loss_works_in_bfloat16(name, make_batch_for):
    batch = make_batch_for(name)
    reference = create_loss(name)(batch)["loss"]
    low = make_batch_for(name, dtype=torch.bfloat16)
    out = create_loss(name)(low)["loss"]
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(reference.item(), rel=0.05)


@pytest.mark.parametrize("name", HN_LOSSES)
def test_hard_negative_losses_reject_batches_without_negatives(name, make_batch):
    with pytest.raises(ValueError, match="hard-negative captions"):
        create_loss(name)(make_batch([2, 2, 2]))


@pytest.mark.parametrize("name", HN_LOSSES)
def test_inconsistent_partners_are_rejected(name, make_hn_batch):
    batch = make_hn_batch(m=2)
    batch.text_partner = torch.tensor([1, 2, 3, 2, 5, 4, -1, -1])  # row 0 -> 1, but row 1 -> 2
    with pytest.raises(ValueError, match="text_partner is inconsistent at caption row 0"):
        create_loss(name)(batch)


@pytest.mark.parametrize("name", ALL)
def test_malformed_batches_name_the_field(name, make_batch_for):
    batch = make_batch_for(name)
    batch.image_caption = batch.image_caption + 100
    with pytest.raises(ValueError, match="image_caption"):
        create_loss(name)(batch)


def test_create_loss_errors():
    with pytest.raises(KeyError, match="known: clip"):
        create_loss("nope")
    with pytest.raises(ValueError, match="accepted: image_weight, image_temperature"):
        create_loss("stablerep+", weight=2.0)
