"""The recaptioner ("image-grounded text decoder") and the CapFilt-style filter (SPEC §5).

G(x) = A₂ ReLU(A₁ x + a₁) + a₂ (dim → hidden → dim) is fit to the high-quality pairs S_h by MSE.
A web caption y is replaced by ŷ = G(x) when the raw-trained encoders prefer it:

    replace  ⇔  cos(f(x), g(y)) ≤ 0   or   cos(f(x), g(ŷ)) ≥ ratio · cos(f(x), g(y))

The first clause covers captions with no positive agreement at all: with ReLU features the cosine
is never negative, and it is 0 only when f(x) and g(y) share no active neuron (or one is all zero),
i.e. the caption carries no evidence for the image; scaling a non-positive score by ratio > 1 would
otherwise turn the test upside down.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from synthmphn.theory.data import Dictionaries, Pairs
from synthmphn.theory.encoders import UnitNeuronEncoder

RECAPTIONER_HIDDEN = 80
RECAPTIONER_LR = 1e-3
RECAPTIONER_EPOCHS = 30
RECAPTIONER_BATCH = 50


class Recaptioner(nn.Module):
    """G(x) = A₂ ReLU(A₁ x + a₁) + a₂ with Xavier-uniform weights and zero biases at init."""

    def __init__(self, dim: int, hidden: int, generator: torch.Generator) -> None:
        super().__init__()
        self.encode = nn.Linear(dim, hidden)
        self.decode = nn.Linear(hidden, dim)
        with torch.no_grad():
            for layer in (self.encode, self.decode):
                bound = (6.0 / (layer.in_features + layer.out_features)) ** 0.5
                layer.weight.copy_(
                    (2 * torch.rand(layer.weight.shape, generator=generator, device=generator.device) - 1)
                    * bound
                )
                layer.bias.zero_()
        self.to(generator.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ŷ = G(x) for rows x [n, dim]."""
        return self.decode(torch.relu(self.encode(x)))

    def encode_latents(self, z: torch.Tensor, dictionary: torch.Tensor) -> torch.Tensor:
        """ŷ = G(D z) for latent rows z [n, k], computing A₁ D z as (A₁ D) z (exact, cheaper)."""
        hidden = torch.addmm(self.encode.bias, z, (self.encode.weight @ dictionary).T)
        return self.decode(torch.relu(hidden))


def train_recaptioner(
    clean: Pairs,
    image_dictionary: torch.Tensor,
    generator: torch.Generator,
    hidden: int = RECAPTIONER_HIDDEN,
    lr: float = RECAPTIONER_LR,
    epochs: int = RECAPTIONER_EPOCHS,
    batch_size: int = RECAPTIONER_BATCH,
) -> tuple[Recaptioner, float]:
    """Fits G on S_h by minimising mean_i ‖G(x_i) − y_i‖² / dim with Adam; returns G and its final MSE on S_h."""
    model = Recaptioner(image_dictionary.shape[0], hidden, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(clean), generator=generator, device=generator.device)
        for idx in order.split(batch_size):
            loss = F.mse_loss(model.encode_latents(clean.z_x[idx], image_dictionary), clean.y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        final = F.mse_loss(model.encode_latents(clean.z_x, image_dictionary), clean.y).item()
    return model, final


def replace_mask(cos_original: torch.Tensor, cos_new: torch.Tensor, ratio: float) -> torch.Tensor:
    """True where ŷ replaces y: cos_original ≤ 0, or cos_new ≥ ratio · cos_original."""
    return (cos_original <= 0) | (cos_new >= ratio * cos_original)


@dataclass(frozen=True)
class FilterResult:
    """Filtered pairs, which rows were replaced, and cos(G(x), H z_x) (how well ŷ describes x)."""

    pairs: Pairs
    replaced: torch.Tensor
    recaption_fidelity: torch.Tensor


@torch.no_grad()
def recaption_and_filter(
    pairs: Pairs,
    recaptioner: Recaptioner,
    image_enc: UnitNeuronEncoder,
    text_enc: UnitNeuronEncoder,
    dicts: Dictionaries,
    ratio: float,
) -> FilterResult:
    """Applies the filter to every pair: y ← G(x) where `replace_mask` holds (encoders are not changed)."""
    y_hat = recaptioner.encode_latents(pairs.z_x, dicts.image)
    fx = image_enc.encode_latents(pairs.z_x, dicts.image)
    cos_original = F.cosine_similarity(fx, text_enc(pairs.y), dim=1)
    cos_new = F.cosine_similarity(fx, text_enc(y_hat), dim=1)
    replaced = replace_mask(cos_original, cos_new, ratio)
    y = torch.where(replaced[:, None], y_hat, pairs.y)
    fidelity = F.cosine_similarity(y_hat, pairs.z_x @ dicts.text.T, dim=1)
    return FilterResult(pairs=pairs.with_text(y), replaced=replaced, recaption_fidelity=fidelity)
