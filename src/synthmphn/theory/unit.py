"""One unit of the sweep: raw vs recaptioned training at one misalignment rate p and seed (SPEC §5).

A *unit* is a (p, seed) pair. Per seed ("world"): the dictionaries M, H, the clean pairs S_h, the
zero-shot test task and the clean evaluation pairs, shared by every p. Per unit:

1. raw:   train (f, g) from scratch; epoch e sees web draws D(e, 0), …, D(e, R−1) (n_web fresh pairs
          each, R = web_draws) plus S_h;
2. G:     fit the recaptioner on S_h; draw one more S_w and filter it once with G and the raw
          encoders (→ the fixed filtered set F, as the authors' code does);
3. recap: train (f, g) from scratch with the same initial weights and batch order; epoch e sees F,
          the fresh raw draws D(e, 1), …, D(e, R−1) (the same ones raw saw) and S_h.

Sharing draws and initialisation between the two conditions (common random numbers) makes their
difference measure the filter, not luck. Every generator is seeded by derive_seed(run seed, seed,
p, purpose), so a unit's numbers do not depend on which other units run or in which order; each
unit runs on one thread (in its own process when workers > 1: this module is what a worker imports), is
saved under out_dir/units/ and is reused on rerun when its settings match (`simulate`).

Choices where SPEC §5 is silent (the authors' public code is sun-messi/VLM, synthetic_experiment.py):
- an epoch holds web_draws = 2 fresh draws of n_web pairs, as the authors' loader concatenates their
  on-the-fly S_w with itself (10,000 fresh pairs, 20 Adam steps per epoch); S_h is appended to every
  epoch of both conditions (the paper trains on S_w ∪ S_h; the authors' code leaves S_h out);
- the recaptioned set is filtered once (a fixed F) and mixed with fresh raw draws, as in their code;
  G starts from Xavier weights;
- the authors' code branches on the raw model's purified-feature count c (of 50): if c > 25 it seeds G
  with the raw encoders' Wᵀ, Vᵀ and retrains 30 epochs on F ∪ S_w; if c ≤ 25 it retrains 60 epochs on
  F alone (lr ×0.1 every 10 epochs). At high p the raw model purifies few features, so this branch drives
  their p ≥ 0.45 numbers. `simulate.authors_retrain=true` implements the c ≤ 25 branch (threshold and
  length: `authors_retrain_max_features`, `authors_retrain_epochs`; `filter.authors_branch` records
  whether a unit took it); off by default, so every unit is retrained alike. Not implemented: the W/V
  seeding of G, and their keeping of the raw model when < 1 % of captions are replaced (p < 0.5);
- purified magnitude is per feature as in their code (`simulate.purified_magnitude`, see metrics.py);
- a caption whose raw score cos(f(x), g(y)) ≤ 0 is always replaced (see recaptioner.py);
- our curves are the mean ± std over all seeds; the published ones average the best 10 of 15 runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from synthmphn.config import SimulateConfig
from synthmphn.io import atomic_write_json
from synthmphn.seeding import derive_seed
from synthmphn.theory import metrics
from synthmphn.theory.data import (
    Dictionaries,
    Pairs,
    ZeroShotTask,
    aligned_pairs,
    clean_pairs,
    make_dictionaries,
    sample_web_pairs,
    sample_zero_shot_task,
)
from synthmphn.theory.encoders import UnitNeuronEncoder
from synthmphn.theory.recaptioner import recaption_and_filter, train_recaptioner
from synthmphn.theory.train import train_encoders

# ----------------------------------------------------------------------------- seeds and worlds


def generator(config: SimulateConfig, *parts: object) -> torch.Generator:
    """A torch.Generator on config.device seeded with derive_seed(*parts)."""
    gen = torch.Generator(device=config.device)
    gen.manual_seed(derive_seed(*parts))
    return gen


def p_key(p: float) -> str:
    """p as it appears in seeds and file names: four decimals (0.3 → '0.3000')."""
    return f"{p:.4f}"


@dataclass(frozen=True)
class World:
    """Everything a seed fixes for all p: dictionaries, S_h, the zero-shot task, clean evaluation pairs."""

    dicts: Dictionaries
    clean: Pairs
    task: ZeroShotTask
    eval_pairs: Pairs


def make_world(config: SimulateConfig, run_seed: int, seed: int) -> World:
    """The seed's world, each part from its own derived generator."""

    def gen(purpose: str) -> torch.Generator:
        return generator(config, run_seed, seed, purpose)

    dicts = make_dictionaries(config.dim, config.n_features, gen("dictionaries"))
    return World(
        dicts=dicts,
        clean=clean_pairs(dicts, config.n_clean, gen("S_h"), config.clean_text_noise),
        task=sample_zero_shot_task(
            dicts, config.n_test, config.sparsity, gen("zero-shot"), config.test_noise
        ),
        eval_pairs=aligned_pairs(dicts, config.n_test, config.sparsity, gen("clean-eval")),
    )


# ----------------------------------------------------------------------------- one unit


def web_draw(config: SimulateConfig, world: World, p: float, key: tuple, *purpose: object) -> Pairs:
    """n_web fresh S_w pairs at misalignment p from the generator of (*key, "web", *purpose)."""
    gen = generator(config, *key, "web", *purpose)
    return sample_web_pairs(world.dicts, config.n_web, p, config.sparsity, gen, config.web_text_noise)


def evaluate(
    image_enc: UnitNeuronEncoder,
    text_enc: UnitNeuronEncoder,
    world: World,
    history: list[float],
    tsne_seed: int | None,
    mode: metrics.MagnitudeMode = "feature",
) -> dict[str, Any]:
    """Every metric of one trained encoder pair (t-SNE coordinates only when tsne_seed is given; `mode`:
    purified magnitude per feature or per neuron)."""
    image_purity = metrics.purification(image_enc.weight.detach(), world.dicts.image, magnitude=mode)
    text_purity = metrics.purification(text_enc.weight.detach(), world.dicts.text, magnitude=mode)
    alignment = metrics.clean_alignment(image_enc, text_enc, world.eval_pairs, world.dicts.image)
    features = metrics.image_features(image_enc, world.task.images)
    labels = world.task.labels.cpu().numpy()
    result: dict[str, Any] = {
        "accuracy": metrics.zero_shot_accuracy(image_enc, text_enc, world.task),
        "purified_features": image_purity.features,
        "purified_neurons": image_purity.neurons,
        "purified_magnitude": image_purity.magnitude,
        "purification": image_purity.to_dict(),
        "text_purified_features": text_purity.features,
        "text_purification": text_purity.to_dict(),
        "alignment_matched": alignment["matched"],
        "alignment_unmatched": alignment["unmatched"],
        "alignment_gap": alignment["gap"],
        "silhouette": metrics.feature_silhouette(features, labels),
        "final_loss": history[-1],
        "loss_history": history,
        "histogram_WM": metrics.loading_histogram(image_enc.weight.detach(), world.dicts.image),
        "histogram_VH": metrics.loading_histogram(text_enc.weight.detach(), world.dicts.text),
    }
    if tsne_seed is not None:
        result["tsne"] = np.round(metrics.tsne_embedding(features, tsne_seed), 4).tolist()
    return result


def filter_stats(
    replaced: torch.Tensor, misaligned: torch.Tensor, fidelity: torch.Tensor, mse: float
) -> dict:
    """Replacement rates overall / among misaligned / among aligned pairs (None where there are no such
    pairs, e.g. misaligned ones at p = 0), and the misaligned share before and after the filter."""

    def rate(mask: torch.Tensor) -> float | None:
        return replaced[mask].float().mean().item() if bool(mask.any()) else None

    return {
        "replaced": replaced.float().mean().item(),
        "replaced_misaligned": rate(misaligned),
        "replaced_aligned": rate(~misaligned),
        "misaligned_before": misaligned.float().mean().item(),
        "misaligned_after": (misaligned & ~replaced).float().mean().item(),
        "recaption_fidelity": fidelity.mean().item(),
        "recaptioner_mse": mse,
    }


def run_unit(
    config: SimulateConfig, world: World, run_seed: int, seed: int, p: float, with_tsne: bool
) -> dict[str, Any]:
    """Raw training, recaptioner + filter, recaptioned training and all metrics for one (p, seed)."""
    key = (run_seed, seed, p_key(p))
    draws = range(config.web_draws)
    tsne_seed = derive_seed(*key, "tsne") if with_tsne else None
    image_dictionary = world.dicts.image
    mode = config.purified_magnitude

    def raw_epoch(epoch: int) -> Pairs:
        return Pairs.concat([*(web_draw(config, world, p, key, epoch, r) for r in draws), world.clean])

    def train(
        epoch_pairs: Callable[[int], Pairs], epochs: int | None = None
    ) -> tuple[UnitNeuronEncoder, UnitNeuronEncoder, list[float]]:
        # the same initial weights and batch order for both conditions
        return train_encoders(
            epoch_pairs,
            image_dictionary,
            config,
            generator(config, *key, "init"),
            generator(config, *key, "order"),
            epochs,
        )

    f_raw, g_raw, raw_history = train(raw_epoch)
    raw = evaluate(f_raw, g_raw, world, raw_history, tsne_seed, mode)

    recaptioner, mse = train_recaptioner(
        world.clean,
        image_dictionary,
        generator(config, *key, "recaptioner"),
        lr=config.recaptioner_lr,
        epochs=config.recaptioner_epochs,
    )
    filtered = recaption_and_filter(
        web_draw(config, world, p, key, "filtered"),
        recaptioner,
        f_raw,
        g_raw,
        world.dicts,
        config.filter_ratio,
    )

    def recaptioned_epoch(epoch: int) -> Pairs:
        fresh = (web_draw(config, world, p, key, epoch, r) for r in draws[1:])
        return Pairs.concat([filtered.pairs, *fresh, world.clean])

    authors_branch = takes_authors_branch(config, raw["purified_features"])
    if authors_branch:  # the authors' code: F alone, longer (module docstring)
        f_rec, g_rec, rec_history = train(lambda epoch: filtered.pairs, config.authors_retrain_epochs)
    else:
        f_rec, g_rec, rec_history = train(recaptioned_epoch)
    stats = filter_stats(filtered.replaced, filtered.pairs.misaligned, filtered.recaption_fidelity, mse)
    return {
        "p": p,
        "seed": seed,
        "raw": raw,
        "recaptioned": evaluate(f_rec, g_rec, world, rec_history, tsne_seed, mode),
        "filter": {**stats, "authors_branch": float(authors_branch)},
        "labels": world.task.labels.tolist() if with_tsne else None,
    }


def takes_authors_branch(config: SimulateConfig, raw_purified_features: int) -> bool:
    """Whether the recaptioned model is retrained the authors' way: flag on and the raw model purifies at
    most `authors_retrain_max_features` features."""
    return config.authors_retrain and raw_purified_features <= config.authors_retrain_max_features


# ----------------------------------------------------------------------------- running a unit


@contextmanager
def single_thread() -> Iterator[None]:
    """Runs the block with one torch thread and one BLAS/OpenMP thread, restoring the counts after.

    A unit always runs on one thread, so its numbers do not depend on how many workers run beside it
    (thread counts change float summation order), and a busy machine cannot stall OpenMP barriers.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class UnitJob:
    """One (p, seed) unit to compute or reuse: where it lives and the fingerprint it must carry."""

    p: float
    seed: int
    with_tsne: bool
    fingerprint: str
    path: Path


def compute_unit(config: SimulateConfig, run_seed: int, job: UnitJob) -> dict[str, float]:
    """Runs one unit on one thread and saves it atomically to job.path; returns its wall and CPU seconds
    (on a shared machine CPU seconds are what the unit costs, wall seconds what it waited)."""
    wall, cpu = time.perf_counter(), time.process_time()
    with single_thread():
        world = make_world(config, run_seed, job.seed)
        unit = run_unit(config, world, run_seed, job.seed, job.p, job.with_tsne)
    atomic_write_json(job.path, {**unit, "fingerprint": job.fingerprint})
    return {"wall": round(time.perf_counter() - wall, 2), "cpu": round(time.process_time() - cpu, 2)}
