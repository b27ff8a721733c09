"""`tripletclip` (thesis form) and `tripletclip-sym` (an alias of mpclip) against hand computations."""

import pytest
import torch

from synthmphn.losses import ContrastiveBatch, create_loss

BASE_ROWS, NEG_ROWS, ALL_ROWS = [0, 2, 4, 6], [1, 3, 5, 7], list(range(8))


def images_of(batch, rows):
    return [i for i, c in enumerate(batch.image_caption.tolist()) if c in rows]


@pytest.mark.parametrize("m", [1, 2])
def test_tripletclip_matches_hand_computation(make_hn_batch, hand, m):
    batch = make_hn_batch(m=m, seed=16)
    base_images, neg_images = images_of(batch, BASE_ROWS), images_of(batch, NEG_ROWS)
    base = 0.5 * (hand.i2t(batch, base_images, ALL_ROWS) + hand.t2i(batch, BASE_ROWS, base_images))
    neg = 0.5 * (hand.i2t(batch, neg_images, ALL_ROWS) + hand.t2i(batch, NEG_ROWS, neg_images))
    out = create_loss("tripletclip")(batch)
    assert out["loss_base"].item() == pytest.approx(base, rel=1e-12)
    assert out["loss_neg"].item() == pytest.approx(neg, rel=1e-12)
    assert out["loss"].item() == pytest.approx(base + neg, rel=1e-12)
    assert (out["loss_i2t"] + out["loss_t2i"]).item() == pytest.approx(base + neg, rel=1e-12)


def test_tripletclip_base_term_is_negclip(make_hn_batch):
    batch = make_hn_batch(m=2, seed=17)
    torch.testing.assert_close(
        create_loss("tripletclip")(batch)["loss_base"], create_loss("negclip")(batch)["loss"]
    )


@pytest.mark.parametrize("m", [1, 3])
def test_tripletclip_sym_matches_hand_computation_over_the_union(make_hn_batch, hand, m):
    batch = make_hn_batch(m=m, seed=18)
    every_image = list(range(len(batch.image_caption)))
    expected = 0.5 * (hand.i2t(batch, every_image, ALL_ROWS) + hand.t2i(batch, ALL_ROWS, every_image))
    out = create_loss("tripletclip-sym")(batch)
    assert out["loss"].item() == pytest.approx(expected, rel=1e-12)
    torch.testing.assert_close(out["loss"], create_loss("mpclip")(batch)["loss"])


@pytest.mark.parametrize("m", [1, 2])
def test_tripletclip_sym_is_an_alias_of_mpclip(make_hn_batch, m):
    from synthmphn.losses.mpclip import MultiPositiveClipLoss
    from synthmphn.losses.tripletclip_sym import ALIAS_OF, TripletClipSymLoss

    batch = make_hn_batch(m=m, seed=20)
    sym, mp = create_loss("tripletclip-sym")(batch), create_loss(ALIAS_OF)(batch)
    assert ALIAS_OF == "mpclip" and issubclass(TripletClipSymLoss, MultiPositiveClipLoss)
    assert sym.keys() == mp.keys() and all(torch.equal(sym[k], mp[k]) for k in sym)


def pair_batch(hn_image_y: float):
    """One base caption b = e2-ish and its HN h = e1, one image each; x_h·g_h stays 0.6 for both signs."""
    texts = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)  # g_b, g_h
    images = torch.tensor([[0.0, 0.8, 0.6], [0.6, hn_image_y, 0.0]], dtype=torch.float64)  # x_b, x_h
    return ContrastiveBatch(
        image_features=images,
        text_features=texts,
        image_caption=torch.tensor([0, 1]),
        text_partner=torch.tensor([1, 0]),
        text_is_negative=torch.tensor([False, True]),
        logit_scale=torch.tensor(5.0, dtype=torch.float64),
    )


def test_hard_negative_image_is_a_column_of_the_text_row_only_in_sym():
    # The two batches differ only in g_b·x_h (±0.8): the HN image's column in the base caption's t2i row.
    close, far = pair_batch(0.8), pair_batch(-0.8)
    sym_close, sym_far = create_loss("tripletclip-sym")(close), create_loss("tripletclip-sym")(far)
    thesis_close, thesis_far = create_loss("tripletclip")(close), create_loss("tripletclip")(far)
    # A confusable HN image costs the base caption in the symmetric form; the thesis form never sees it.
    assert sym_close["loss_t2i"] > sym_far["loss_t2i"] + 0.1
    torch.testing.assert_close(thesis_close["loss_t2i"], thesis_far["loss_t2i"])


def test_tripletclip_perturbing_hn_images_changes_only_the_negative_term(make_hn_batch):
    batch = make_hn_batch(m=2, seed=19)
    before = create_loss("tripletclip")(batch)
    negative_images = batch.text_is_negative[batch.image_caption]
    with torch.no_grad():
        batch.image_features[negative_images] = torch.roll(batch.image_features[negative_images], 1, dims=1)
    after = create_loss("tripletclip")(batch)
    torch.testing.assert_close(after["loss_base"], before["loss_base"])
    assert not torch.isclose(after["loss_neg"], before["loss_neg"])


def test_tripletclip_needs_images_of_the_negatives(make_batch):
    batch = make_batch([1, 0], negative=[False, True], partner=[1, 0])
    with pytest.raises(ValueError, match="images of the hard-negative captions"):
        create_loss("tripletclip")(batch)
