"""The theory paper's data model (SPEC §5): sparse latents seen through two orthonormal dictionaries.

An image is x = M z_x and its caption y = H z_y + ξ, with M, H ∈ R^{dim×n_features} orthonormal
(columns) and z ∈ {0,1}^{n_features}, z_i ~ Bernoulli(sparsity). A web pair is *misaligned* with
probability p: its text latent z_y is then an independent draw instead of z_y = z_x.

Training images carry no noise, so a pair stores the image as its latent z_x (x = M z_x exactly)
and the encoders compute W x as (W M) z_x: the same number, at 1/50 of the cost (see encoders.py).
Every sampler takes an explicit `torch.Generator`, so a (run seed, purpose) pair fixes every draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

WEB_TEXT_NOISE = 0.24  # σ of ξ in web captions (1.5 × the authors' σ_ξ = 8/50)
CLEAN_TEXT_NOISE = 0.016  # σ of ξ in the high-quality pairs S_h (σ_ξ / 10)
TEST_NOISE = 0.16  # σ of the noise on zero-shot test images and class prompts (σ_ξ)
N_SEGMENTS = 5  # zero-shot classes: the features split into this many equal segments
SEGMENT_MARGIN = 2  # a test latent's top segment sum must beat the second by at least this


@dataclass(frozen=True)
class Dictionaries:
    """The image dictionary M and text dictionary H, both [dim, n_features] with orthonormal columns."""

    image: torch.Tensor
    text: torch.Tensor

    @property
    def n_features(self) -> int:
        return self.image.shape[1]


@dataclass(frozen=True)
class Pairs:
    """Image–text pairs as rows: images x = M z_x given by z_x [n, n_features], captions y [n, dim],
    the caption's latent z_y [n, n_features] and whether the pair is misaligned [n] (bool)."""

    z_x: torch.Tensor
    y: torch.Tensor
    z_y: torch.Tensor
    misaligned: torch.Tensor

    def __len__(self) -> int:
        return self.z_x.shape[0]

    def images(self, dicts: Dictionaries) -> torch.Tensor:
        """The images x = M z_x as rows [n, dim]."""
        return self.z_x @ dicts.image.T

    def take(self, index: torch.Tensor | slice) -> Pairs:
        """The pairs at `index` (rows)."""
        return Pairs(self.z_x[index], self.y[index], self.z_y[index], self.misaligned[index])

    def with_text(self, y: torch.Tensor) -> Pairs:
        """The same pairs with captions `y` (latents and flags unchanged: they describe the source pair)."""
        return Pairs(self.z_x, y, self.z_y, self.misaligned)

    @staticmethod
    def concat(parts: list[Pairs]) -> Pairs:
        """Row-wise concatenation of several pair sets."""
        return Pairs(*(torch.cat([getattr(q, k) for q in parts]) for k in ("z_x", "y", "z_y", "misaligned")))


@dataclass(frozen=True)
class ZeroShotTask:
    """Out-of-domain zero-shot classification: images [n, dim] with labels [n], one prompt per class."""

    images: torch.Tensor
    labels: torch.Tensor
    prompts: torch.Tensor


def make_dictionaries(dim: int, n_features: int, generator: torch.Generator) -> Dictionaries:
    """M, H = Q factors of two independent Gaussian [dim, n_features] matrices (so MᵀM = HᵀH = I)."""
    if n_features > dim:
        raise ValueError(f"n_features={n_features} must be <= dim={dim} for orthonormal columns")
    device = generator.device
    m = torch.linalg.qr(torch.randn(dim, n_features, generator=generator, device=device)).Q
    h = torch.linalg.qr(torch.randn(dim, n_features, generator=generator, device=device)).Q
    return Dictionaries(image=m.contiguous(), text=h.contiguous())


def sample_latents(n: int, n_features: int, sparsity: float, generator: torch.Generator) -> torch.Tensor:
    """z ∈ {0,1}^{n×n_features}, every entry an independent Bernoulli(sparsity)."""
    u = torch.rand(n, n_features, generator=generator, device=generator.device)
    return (u < sparsity).float()


def gaussian_noise(shape: tuple[int, ...], sigma: float, generator: torch.Generator) -> torch.Tensor:
    """ξ ~ N(0, σ² I) of the given shape (zeros, without drawing, when σ = 0)."""
    if sigma == 0:
        return torch.zeros(shape, device=generator.device)
    return torch.randn(shape, generator=generator, device=generator.device).mul_(sigma)


def captions(dicts: Dictionaries, z: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """y = H z + ξ, ξ ~ N(0, σ² I), for latent rows z [n, n_features] → [n, dim]."""
    noise = gaussian_noise((z.shape[0], dicts.text.shape[0]), sigma, generator)
    return torch.addmm(noise, z, dicts.text.T)


def sample_web_pairs(
    dicts: Dictionaries,
    n: int,
    p: float,
    sparsity: float,
    generator: torch.Generator,
    text_noise: float = WEB_TEXT_NOISE,
) -> Pairs:
    """S_w: x = M z_x, y = H z_y + ξ, ξ ~ N(0, text_noise²); z_y is a fresh draw w.p. p, else z_y = z_x."""
    k = dicts.n_features
    z_x = sample_latents(n, k, sparsity, generator)
    z_other = sample_latents(n, k, sparsity, generator)
    misaligned = torch.rand(n, generator=generator, device=generator.device) < p
    z_y = torch.where(misaligned[:, None], z_other, z_x)
    return Pairs(z_x, captions(dicts, z_y, text_noise, generator), z_y, misaligned)


def clean_pairs(
    dicts: Dictionaries, n: int, generator: torch.Generator, text_noise: float = CLEAN_TEXT_NOISE
) -> Pairs:
    """S_h: pair j shows the single feature e_{j mod n_features}: x = M e_j, y = H e_j + ξ, ξ ~ N(0, 0.016²)."""
    k = dicts.n_features
    z = torch.eye(k, device=generator.device)[torch.arange(n, device=generator.device) % k]
    no = torch.zeros(n, dtype=torch.bool, device=z.device)
    return Pairs(z, captions(dicts, z, text_noise, generator), z.clone(), no)


def aligned_pairs(dicts: Dictionaries, n: int, sparsity: float, generator: torch.Generator) -> Pairs:
    """Noiseless aligned pairs x = M z, y = H z (for the clean-pair alignment metric)."""
    z = sample_latents(n, dicts.n_features, sparsity, generator)
    no = torch.zeros(n, dtype=torch.bool, device=z.device)
    return Pairs(z, z @ dicts.text.T, z.clone(), no)


def segment_sums(z: torch.Tensor, n_segments: int = N_SEGMENTS) -> torch.Tensor:
    """Per-row sums of z over `n_segments` equal contiguous blocks of features: [n, n_segments]."""
    if z.shape[1] % n_segments:
        raise ValueError(f"n_features={z.shape[1]} must be a multiple of n_segments={n_segments}")
    return z.reshape(z.shape[0], n_segments, -1).sum(dim=2)


def sample_separable_latents(
    n: int,
    n_features: int,
    sparsity: float,
    generator: torch.Generator,
    n_segments: int = N_SEGMENTS,
    margin: int = SEGMENT_MARGIN,
) -> torch.Tensor:
    """n latents whose top segment sum beats the runner-up by ≥ margin (rejection sampling, in blocks)."""
    kept: list[torch.Tensor] = []
    have = 0
    while have < n:
        z = sample_latents(max(4 * (n - have), 256), n_features, sparsity, generator)
        top2 = segment_sums(z, n_segments).topk(2, dim=1).values
        z = z[top2[:, 0] - top2[:, 1] >= margin]
        kept.append(z)
        have += z.shape[0]
    return torch.cat(kept)[:n]


def sample_zero_shot_task(
    dicts: Dictionaries,
    n: int,
    sparsity: float,
    generator: torch.Generator,
    noise: float = TEST_NOISE,
    n_segments: int = N_SEGMENTS,
) -> ZeroShotTask:
    """Images x = M z + N(0, noise²) labelled by z's dominant segment; prompt_c = H 1_{segment c} + N(0, noise²)."""
    dim, k = dicts.image.shape
    z = sample_separable_latents(n, k, sparsity, generator, n_segments)
    labels = segment_sums(z, n_segments).argmax(dim=1)
    images = z @ dicts.image.T + gaussian_noise((n, dim), noise, generator)
    indicator = torch.repeat_interleave(torch.eye(n_segments, device=z.device), k // n_segments, dim=1)
    prompts = indicator @ dicts.text.T + gaussian_noise((n_segments, dim), noise, generator)
    return ZeroShotTask(images=images, labels=labels, prompts=prompts)
