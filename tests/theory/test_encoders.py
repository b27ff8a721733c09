"""Unit-neuron encoders: row renormalisation and the exact latent shortcut."""

import torch

from synthmphn.theory.data import make_dictionaries
from synthmphn.theory.encoders import UnitNeuronEncoder, unit_rows


def test_rows_are_renormalised_before_the_forward_pass_bias_alike():
    gen = torch.Generator().manual_seed(0)
    enc = UnitNeuronEncoder(30, 7, gen)
    with torch.no_grad():
        enc.weight.mul_(torch.arange(1, 8, dtype=torch.float32)[:, None])  # rows of different norms
    norms = enc.weight.detach().norm(dim=1)
    w, b = enc.weight.detach().clone(), enc.bias.detach().clone()
    x = torch.randn(5, 30, generator=gen)
    out = enc(x)
    assert torch.allclose(enc.weight.norm(dim=1), torch.ones(7), atol=1e-6)
    assert torch.allclose(enc.bias, b / norms, atol=1e-7)
    assert torch.allclose(out, torch.relu(x @ (w / norms[:, None]).T + b / norms), atol=1e-6)
    assert torch.allclose(unit_rows(w), enc.weight.detach(), atol=1e-6)


def test_initial_weights_are_small_gaussians():
    enc = UnitNeuronEncoder(2500, 80, torch.Generator().manual_seed(1))
    assert abs(enc.weight.std().item() - 1e-3) < 5e-5
    assert abs(enc.bias.std().item() - 1e-3) < 3e-4


def test_latent_shortcut_equals_the_dense_forward_and_gradient():
    gen = torch.Generator().manual_seed(2)
    dicts = make_dictionaries(120, 10, gen)
    z = (torch.rand(16, 10, generator=gen) < 0.3).float()
    dense, latent = UnitNeuronEncoder(120, 6, gen), UnitNeuronEncoder(120, 6)
    latent.load_state_dict(dense.state_dict())
    a = dense(z @ dicts.image.T)
    b = latent.encode_latents(z, dicts.image)
    assert torch.allclose(a, b, atol=1e-6)
    a.square().sum().backward()
    b.square().sum().backward()
    assert torch.allclose(dense.weight.grad, latent.weight.grad, atol=1e-5)
    assert torch.allclose(dense.bias.grad, latent.bias.grad, atol=1e-5)
