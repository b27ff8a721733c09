"""Contrastive training of the two unit-neuron encoders with NT-Xent (SPEC §5).

Objective for a batch of B pairs, with u_i = f(x_i), u_{B+i} = g(y_i) stacked into 2B rows:

    s_ij = ⟨u_i, u_j⟩ / τ                      (raw dot products, no normalisation)
    L_NT = (1/2B) Σ_i −log( exp(s_{i,π(i)}) / Σ_{j≠i} exp(s_ij) ),   π(i) = i ± B (the partner)
    L    = L_NT + λ (‖W‖² + ‖b‖² + ‖V‖² + ‖c‖²)

Adam, lr η for the first third of the epochs, η/10 for the second, η/100 for the last (epochs 10 and 20
of 30). Each epoch's pairs come from a callable, so web pairs can be redrawn every epoch; they are
cut into max(1, n // batch_size) near-equal batches, so no pair is dropped and the number of steps
equals the authors' drop_last loader (n = 2·5000 + 50 → 20 batches of 502–503).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from synthmphn.config import SimulateConfig
from synthmphn.theory.data import Pairs
from synthmphn.theory.encoders import UnitNeuronEncoder, make_encoders

LR_DECAY = 0.1


def nt_xent_loss(image_features: torch.Tensor, text_features: torch.Tensor, tau: float) -> torch.Tensor:
    """NT-Xent over the 2B stacked features: mean_i −log softmax_{j≠i}(⟨u_i,u_j⟩/τ)[partner(i)].

    Row i < B is image i, whose only positive is text i (row B+i) and vice versa; every other row
    (images and texts alike) is a negative; the row itself is excluded.
    """
    n = image_features.shape[0]
    u = torch.cat([image_features, text_features])
    logits = (u @ u.T).div_(tau)
    logits.diagonal().fill_(float("-inf"))  # in place: the product's backward does not need its output
    partner = torch.cat([torch.arange(n, 2 * n, device=u.device), torch.arange(0, n, device=u.device)])
    return F.cross_entropy(logits, partner)


def l2_penalty(*modules: nn.Module) -> torch.Tensor:
    """Σ over every parameter θ of the modules of ‖θ‖₂² (the squared Frobenius norms)."""
    return sum(p.pow(2).sum() for m in modules for p in m.parameters())


def lr_at(epoch: int, epochs: int, lr: float) -> float:
    """η·0.1^k where k counts the milestones round(epochs/3), round(2·epochs/3) already reached."""
    milestones = (round(epochs / 3), round(2 * epochs / 3))
    return lr * LR_DECAY ** sum(epoch >= m for m in milestones)


def lr_every(epoch: int, period: int, lr: float) -> float:
    """η·0.1^⌊epoch / period⌋: the authors' manual decay (×0.1 every 10 epochs), used for their 60-epoch
    retraining; for a 30-epoch run with period 10 it equals `lr_at`."""
    return lr * LR_DECAY ** (epoch // max(1, period))


def shuffled_batches(pairs: Pairs, batch_size: int, generator: torch.Generator) -> Iterator[Pairs]:
    """The pairs in a random order, cut into max(1, n // batch_size) near-equal batches (none dropped).

    One gather for the whole epoch; the batches are then views of it.
    """
    order = torch.randperm(len(pairs), generator=generator, device=generator.device)
    shuffled = pairs.take(order)
    for idx in torch.tensor_split(torch.arange(len(pairs)), max(1, len(pairs) // batch_size)):
        yield shuffled.take(slice(int(idx[0]), int(idx[-1]) + 1))


def train_step(
    image_enc: UnitNeuronEncoder,
    text_enc: UnitNeuronEncoder,
    optimizer: torch.optim.Optimizer,
    pairs: Pairs,
    image_dictionary: torch.Tensor,
    tau: float,
    weight_decay: float,
) -> float:
    """One Adam step on L = NT-Xent(f(M z_x), g(y)) + λ·Σ‖θ‖²; returns L."""
    loss = nt_xent_loss(image_enc.encode_latents(pairs.z_x, image_dictionary), text_enc(pairs.y), tau)
    loss = loss + weight_decay * l2_penalty(image_enc, text_enc)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_encoders(
    epoch_pairs: Callable[[int], Pairs],
    image_dictionary: torch.Tensor,
    config: SimulateConfig,
    init_generator: torch.Generator,
    order_generator: torch.Generator,
    epochs: int | None = None,
) -> tuple[UnitNeuronEncoder, UnitNeuronEncoder, list[float]]:
    """Trains fresh (f, g) from `init_generator` for config.epochs on `epoch_pairs(epoch)` (images x = M z_x).

    With `epochs` given (the authors' longer retraining) it runs that many epochs and the lr decays ×0.1
    every round(config.epochs / 3) epochs (`lr_every`) instead of at two thirds-of-run milestones.

    Returns the encoders (rows renormalised, as the next forward pass would see them) and the mean
    training loss of every epoch.
    """
    image_enc, text_enc = make_encoders(config.dim, config.neurons, init_generator)
    optimizer = torch.optim.Adam([*image_enc.parameters(), *text_enc.parameters()], lr=config.lr)
    history: list[float] = []
    for epoch in range(config.epochs if epochs is None else epochs):
        for group in optimizer.param_groups:
            group["lr"] = (
                lr_at(epoch, config.epochs, config.lr)
                if epochs is None
                else lr_every(epoch, round(config.epochs / 3), config.lr)
            )
        losses = [
            train_step(
                image_enc, text_enc, optimizer, batch, image_dictionary, config.tau, config.weight_decay
            )
            for batch in shuffled_batches(epoch_pairs(epoch), config.batch_size, order_generator)
        ]
        history.append(sum(losses) / len(losses))
    image_enc.renormalize_()
    text_enc.renormalize_()
    return image_enc, text_enc, history
