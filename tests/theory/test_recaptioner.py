"""The recaptioner and the CapFilt-style filter rule."""

import pytest
import torch

from synthmphn.theory.data import clean_pairs, make_dictionaries, sample_web_pairs
from synthmphn.theory.encoders import UnitNeuronEncoder
from synthmphn.theory.recaptioner import recaption_and_filter, replace_mask, train_recaptioner


@pytest.mark.parametrize(
    ("cos_original", "cos_new", "replace"),
    [
        (0.5, 0.61, True),  # 0.61 ≥ 1.2 · 0.5
        (0.5, 0.59, False),
        (0.8, 0.9, False),  # better, but not by the factor 1.2
        (0.8, 0.97, True),
        (0.0, 0.0, True),  # no agreement with the web caption at all: replace
        (0.0, 0.3, True),
        (-0.2, -0.5, True),  # non-positive original score: replace whatever ŷ scores
        (1.0, 1.0, False),
    ],
)
def test_replace_rule_on_hand_cases(cos_original, cos_new, replace):
    got = replace_mask(torch.tensor([cos_original]), torch.tensor([cos_new]), ratio=1.2)
    assert bool(got) is replace


@pytest.fixture(scope="module")
def setup():
    gen = torch.Generator().manual_seed(0)
    dicts = make_dictionaries(100, 10, gen)
    clean = clean_pairs(dicts, 10, gen)
    return dicts, clean, gen


def test_recaptioner_fits_the_clean_pairs(setup):
    dicts, clean, _ = setup
    _, short = train_recaptioner(clean, dicts.image, torch.Generator().manual_seed(1), epochs=1)
    model, long = train_recaptioner(clean, dicts.image, torch.Generator().manual_seed(1), lr=1e-2, epochs=60)
    assert long < short / 5
    y_hat = model(clean.z_x @ dicts.image.T)  # dense forward agrees with the latent shortcut
    assert torch.allclose(y_hat, model.encode_latents(clean.z_x, dicts.image), atol=1e-5)


def test_filter_replaces_exactly_where_the_rule_holds(setup):
    dicts, clean, gen = setup
    model, _ = train_recaptioner(clean, dicts.image, gen, lr=1e-2, epochs=60)
    # "oracle" encoders that read the dictionaries: misaligned captions then score low
    f, g = UnitNeuronEncoder(100, 10), UnitNeuronEncoder(100, 10)
    with torch.no_grad():
        f.weight.copy_(dicts.image.T), f.bias.zero_()
        g.weight.copy_(dicts.text.T), g.bias.zero_()
    web = sample_web_pairs(dicts, 400, 0.5, 0.2, gen, text_noise=0.05)
    out = recaption_and_filter(web, model, f, g, dicts, ratio=1.2)
    y_hat = model.encode_latents(web.z_x, dicts.image)
    assert torch.equal(out.pairs.y[out.replaced], y_hat[out.replaced])
    assert torch.equal(out.pairs.y[~out.replaced], web.y[~out.replaced])
    assert torch.equal(out.pairs.z_x, web.z_x) and torch.equal(out.pairs.misaligned, web.misaligned)
    mis = web.misaligned
    assert out.replaced[mis].float().mean() > 0.8 > out.replaced[~mis].float().mean()
