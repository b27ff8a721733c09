"""One-layer ReLU encoders with unit-norm neurons, as in the theory paper (SPEC §5).

f(x) = ReLU(W x + b), W ∈ R^{neurons×dim}. Before every forward pass each neuron i is rescaled to
unit weight norm, bias alike: (W_i, b_i) ← (W_i, b_i) / ‖W_i‖₂. The image encoder is (W, b), the
text encoder (V, c); both have this form.

Noise-free inputs x = D z (every training image, x = M z) go through `encode_latents`, which
computes W x as (W D) z: [neurons, dim]×[dim, k] + [n, k]×[k, neurons] instead of
[n, dim]×[dim, neurons], exact up to float rounding and with the same gradient for W
(∂L/∂W = (∂L/∂(WD)) Dᵀ). With k = 50 ≪ n = 500 it makes the image side ~10× cheaper.
"""

from __future__ import annotations

import torch
from torch import nn

INIT_STD = 1e-3  # weights and biases start as N(0, 1e-3²)


class UnitNeuronEncoder(nn.Module):
    """f(x) = ReLU(W x + b) whose rows of W are renormalised to unit norm before each forward pass."""

    def __init__(
        self, dim: int, neurons: int, generator: torch.Generator | None = None, init_std: float = INIT_STD
    ) -> None:
        super().__init__()
        device = generator.device if generator is not None else None
        self.weight = nn.Parameter(init_std * torch.randn(neurons, dim, generator=generator, device=device))
        self.bias = nn.Parameter(init_std * torch.randn(neurons, generator=generator, device=device))

    @torch.no_grad()
    def renormalize_(self) -> None:
        """(W_i, b_i) ← (W_i, b_i) / ‖W_i‖₂ for every neuron i, in place (outside autograd)."""
        norms = self.weight.norm(dim=1).clamp_min(1e-12)
        self.weight.div_(norms[:, None])
        self.bias.div_(norms)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Renormalise, then ReLU(x Wᵀ + b) for rows x [n, dim] → [n, neurons]."""
        self.renormalize_()
        return torch.relu(torch.addmm(self.bias, x, self.weight.T))

    def encode_latents(self, z: torch.Tensor, dictionary: torch.Tensor) -> torch.Tensor:
        """f(D z) for latent rows z [n, k] and D [dim, k]: renormalise, then ReLU(z (W D)ᵀ + b)."""
        self.renormalize_()
        return torch.relu(torch.addmm(self.bias, z, (self.weight @ dictionary).T))


def unit_rows(weight: torch.Tensor) -> torch.Tensor:
    """Ŵ = W with every row divided by its Euclidean norm (a copy; W is untouched)."""
    return weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)


def make_encoders(
    dim: int, neurons: int, generator: torch.Generator
) -> tuple[UnitNeuronEncoder, UnitNeuronEncoder]:
    """A fresh (image, text) encoder pair drawn from `generator` (image first)."""
    return UnitNeuronEncoder(dim, neurons, generator), UnitNeuronEncoder(dim, neurons, generator)
