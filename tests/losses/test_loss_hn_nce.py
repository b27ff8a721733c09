"""`hn-nce` against a hand loop: β = 0 is mpclip/clip, β > 0 re-weights negatives, gradients, options."""

from __future__ import annotations

import pytest
import torch

from synthmphn.losses import ContrastiveBatch, create_loss


def hand_direction(
    logits: list[list[torch.Tensor]], positive: list[list[bool]], alpha: float, beta: float
) -> torch.Tensor:
    """Mean over rows with a positive of −mean_p log(e^{z_p} / D), D written out with the weights w_rc."""
    total, counted = torch.zeros((), dtype=torch.float64), 0
    for row, is_positive in zip(logits, positive, strict=True):
        pos = [c for c, flag in enumerate(is_positive) if flag]
        neg = [c for c, flag in enumerate(is_positive) if not flag]
        if not pos:
            continue
        norm = sum(torch.exp(beta * row[c]) for c in neg)
        weights = {c: len(neg) * torch.exp(beta * row[c]) / norm for c in neg}
        denominator = alpha * sum(torch.exp(row[p]) for p in pos) + sum(
            weights[c] * torch.exp(row[c]) for c in neg
        )
        total = total - sum(row[p] - torch.log(denominator) for p in pos) / len(pos)
        counted += 1
    return total / counted


def hand_hn_nce(batch: ContrastiveBatch, alpha: float, beta: float) -> torch.Tensor:
    """½ (i2t + t2i) by loops over every (image, caption) entry; differentiable (torch scalars)."""
    images, texts, s = batch.image_features, batch.text_features, batch.logit_scale
    caption = [int(c) for c in batch.image_caption]
    z = [[s * (images[i] * texts[j]).sum() for j in range(len(texts))] for i in range(len(images))]
    i2t = hand_direction(
        z, [[caption[i] == j for j in range(len(texts))] for i in range(len(images))], alpha, beta
    )
    zt = [[z[i][j] for i in range(len(images))] for j in range(len(texts))]
    t2i = hand_direction(
        zt, [[caption[i] == j for i in range(len(images))] for j in range(len(texts))], alpha, beta
    )
    return 0.5 * (i2t + t2i)


def assert_is_mpclip(batch: ContrastiveBatch, **options: float) -> None:
    """hn-nce(**options) equals mpclip on `batch` in every component, to float64 rounding."""
    ours, mpclip = create_loss("hn-nce", **options)(batch), create_loss("mpclip")(batch)
    for key in ("loss", "loss_i2t", "loss_t2i"):
        torch.testing.assert_close(ours[key], mpclip[key], rtol=1e-13, atol=0)


@pytest.mark.parametrize("m", [1, 2, 3])
def test_beta_zero_is_mpclip(make_hn_batch, m):
    assert_is_mpclip(make_hn_batch(m=m, seed=21), beta=0.0)


def test_beta_zero_is_mpclip_with_uneven_images_and_a_caption_without_images(make_batch):
    assert_is_mpclip(make_batch([3, 1, 2, 0, 2], seed=22), beta=0.0)


def test_beta_zero_is_clip_at_one_image_per_caption(make_batch):
    batch = make_batch([1] * 6, seed=23, scale=6.0)
    ours, clip = create_loss("hn-nce", beta=0.0)(batch), create_loss("clip")(batch)
    for key in ("loss", "loss_i2t", "loss_t2i"):
        torch.testing.assert_close(ours[key], clip[key], rtol=1e-13, atol=0)


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.25), (1.0, 1.0), (0.5, 3.0), (0.0, 0.5)])
def test_matches_the_hand_loop(make_hn_batch, alpha, beta):
    batch = make_hn_batch(m=2, seed=24, scale=4.0)
    expected = hand_hn_nce(batch, alpha, beta)
    got = create_loss("hn-nce", alpha=alpha, beta=beta)(batch)
    torch.testing.assert_close(got["loss"], expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(got["loss_i2t"] + got["loss_t2i"], expected, rtol=1e-12, atol=0)


def test_matches_the_hand_loop_with_uneven_images(make_batch):
    batch = make_batch([3, 1, 2, 0, 2], seed=25, scale=5.0)
    torch.testing.assert_close(create_loss("hn-nce", beta=2.0)(batch)["loss"], hand_hn_nce(batch, 1.0, 2.0))


def test_gradients_match_the_hand_loop(make_hn_batch):
    batch = make_hn_batch(m=2, seed=26, scale=3.0)
    create_loss("hn-nce", alpha=0.7, beta=1.5)(batch)["loss"].backward()
    ours = [t.grad.clone() for t in (batch.image_features, batch.text_features, batch.logit_scale)]
    for t in (batch.image_features, batch.text_features, batch.logit_scale):
        t.grad = None
    hand_hn_nce(batch, 0.7, 1.5).backward()
    hand = [batch.image_features.grad, batch.text_features.grad, batch.logit_scale.grad]
    for got, expected in zip(ours, hand, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_gradcheck_in_float64(make_hn_batch):
    batch = make_hn_batch(m=2, seed=27, scale=2.0)
    loss = create_loss("hn-nce", alpha=0.8, beta=2.0)

    def f(images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return loss(
            ContrastiveBatch(
                images, texts, batch.image_caption, batch.text_partner, batch.text_is_negative, scale
            )
        )["loss"]

    inputs = (batch.image_features.detach(), batch.text_features.detach(), batch.logit_scale.detach())
    assert torch.autograd.gradcheck(f, tuple(t.clone().requires_grad_() for t in inputs))


def pair_batch(hn_image_y: float) -> ContrastiveBatch:
    """A base caption and its HN (one image each) plus an unrelated pair; only g_b·x_h changes with the sign."""
    texts = torch.tensor(
        [[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.6, 0.8]],
        dtype=torch.float64,
    )
    images = torch.tensor(
        [[0.0, 0.8, 0.6, 0.0], [0.6, hn_image_y, 0.0, 0.0], [0.0, 0.0, 0.6, 0.8], [0.0, 0.0, 0.8, 0.6]],
        dtype=torch.float64,
    )
    return ContrastiveBatch(
        image_features=images,
        text_features=texts,
        image_caption=torch.arange(4),
        text_partner=torch.tensor([1, 0, -1, -1]),
        text_is_negative=torch.tensor([False, True, False, False]),
        logit_scale=torch.tensor(5.0, dtype=torch.float64),
    )


def test_a_confusable_hard_negative_image_costs_more_as_beta_grows():
    # The batches differ only in g_b·x_h (±0.8): the HN image is the base caption's hardest t2i negative.
    gaps = []
    for beta in (0.0, 0.5, 2.0):
        loss = create_loss("hn-nce", beta=beta)
        gaps.append(float(loss(pair_batch(0.8))["loss_t2i"] - loss(pair_batch(-0.8))["loss_t2i"]))
    assert 0 < gaps[0] < gaps[1] < gaps[2]


def test_thesis_preset_is_hn_nce_at_alpha_one_beta_quarter(make_hn_batch):
    batch = make_hn_batch(m=2, seed=28)
    thesis = create_loss("hn-nce-thesis")
    assert (thesis.alpha, thesis.beta) == (1.0, 0.25)
    torch.testing.assert_close(
        thesis(batch)["loss"], create_loss("hn-nce", alpha=1.0, beta=0.25)(batch)["loss"], rtol=0, atol=0
    )


def test_beta_can_be_changed_between_steps(make_hn_batch):
    batch = make_hn_batch(m=2, seed=29)
    loss = create_loss("hn-nce", beta=0.0)
    loss.beta = 1.0
    torch.testing.assert_close(loss(batch)["loss"], hand_hn_nce(batch, 1.0, 1.0))
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        loss.beta = -0.1


def test_options_are_checked():
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        create_loss("hn-nce", alpha=-1.0)
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        create_loss("hn-nce", beta=float("nan"))
    with pytest.raises(ValueError, match="accepted: alpha, beta"):
        create_loss("hn-nce", gamma=1.0)


def test_equally_hard_negatives_keep_weight_one(make_hn_batch):
    # All logits equal: every w_rc = K_r · e^{βz} / (K_r · e^{βz}) = 1, so any β gives mpclip.
    batch = make_hn_batch(m=2, seed=30, scale=7.0)
    with torch.no_grad():
        batch.image_features[:] = batch.image_features[0]
        batch.text_features[:] = batch.text_features[0]
    assert_is_mpclip(batch, beta=3.0)


def test_rows_without_negatives(make_batch):
    # One caption with two images: i2t rows hold only the positive, the t2i row only positives.
    batch = make_batch([2], seed=31)
    out = create_loss("hn-nce", alpha=0.5, beta=1.0)(batch)
    torch.testing.assert_close(out["loss"], hand_hn_nce(batch, 0.5, 1.0), rtol=1e-12, atol=0)
    out["loss"].backward()
    assert torch.isfinite(batch.image_features.grad).all() and torch.isfinite(batch.text_features.grad).all()
    with pytest.raises(ValueError, match="alpha = 0 needs a negative in every row"):
        create_loss("hn-nce", alpha=0.0)(batch)
