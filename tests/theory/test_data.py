"""The simulation's data model: dictionaries, web/clean pairs, the zero-shot task."""

import pytest
import torch

from synthmphn.theory.data import (
    clean_pairs,
    make_dictionaries,
    sample_latents,
    sample_web_pairs,
    sample_zero_shot_task,
    segment_sums,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def dicts():
    return make_dictionaries(300, 50, gen(0))


def test_dictionaries_have_orthonormal_columns(dicts):
    eye = torch.eye(50)
    assert dicts.image.shape == dicts.text.shape == (300, 50)
    assert torch.allclose(dicts.image.T @ dicts.image, eye, atol=1e-5)
    assert torch.allclose(dicts.text.T @ dicts.text, eye, atol=1e-5)
    assert not torch.allclose(dicts.image, dicts.text)


def test_dictionaries_are_fixed_by_the_seed():
    a, b, c = (make_dictionaries(100, 10, gen(s)) for s in (1, 1, 2))
    assert torch.equal(a.image, b.image) and torch.equal(a.text, b.text)
    assert not torch.equal(a.image, c.image)


def test_dictionaries_reject_more_features_than_dims():
    with pytest.raises(ValueError, match="n_features"):
        make_dictionaries(10, 20, gen())


def test_latents_are_bernoulli():
    z = sample_latents(20000, 50, 0.1, gen())
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    assert z.mean().item() == pytest.approx(0.1, abs=0.003)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_misaligned_fraction_matches_p(dicts, p):
    pairs = sample_web_pairs(dicts, 20000, p, 0.1, gen(3))
    assert pairs.misaligned.float().mean().item() == pytest.approx(p, abs=0.012)
    aligned = ~pairs.misaligned
    assert torch.equal(pairs.z_y[aligned], pairs.z_x[aligned])
    if p > 0:  # a misaligned caption's latent is an independent draw: it rarely equals the image's
        same = (pairs.z_y[pairs.misaligned] == pairs.z_x[pairs.misaligned]).all(dim=1).float().mean()
        assert same.item() < 0.05


def test_web_captions_are_dictionary_plus_noise(dicts):
    pairs = sample_web_pairs(dicts, 2000, 0.3, 0.1, gen(4), text_noise=0.24)
    noise = pairs.y - pairs.z_y @ dicts.text.T
    assert noise.mean().item() == pytest.approx(0.0, abs=0.005)
    assert noise.std().item() == pytest.approx(0.24, rel=0.01)
    assert torch.allclose(pairs.images(dicts), pairs.z_x @ dicts.image.T)


def test_clean_pairs_show_one_feature_each(dicts):
    pairs = clean_pairs(dicts, 50, gen(5), text_noise=0.016)
    assert torch.equal(pairs.z_x, torch.eye(50))
    assert torch.allclose(pairs.images(dicts), dicts.image.T)
    assert (pairs.y - dicts.text.T).std().item() == pytest.approx(0.016, rel=0.05)
    assert not pairs.misaligned.any()


def test_zero_shot_task_labels_and_margin(dicts):
    task = sample_zero_shot_task(dicts, 500, 0.1, gen(6), noise=0.0)
    z = task.images @ dicts.image  # noise-free images: MᵀMz = z
    sums = segment_sums(z.round())
    top2 = sums.topk(2, dim=1).values
    assert (top2[:, 0] - top2[:, 1] >= 2).all()
    assert torch.equal(task.labels, sums.argmax(dim=1))
    assert task.prompts.shape == (5, 300)
    # prompt c is H times the indicator of segment c
    assert torch.allclose(
        task.prompts @ dicts.text, torch.repeat_interleave(torch.eye(5), 10, dim=1), atol=1e-5
    )
    assert len(task.labels.unique()) == 5


def test_no_dataclass_field_is_declared_twice():
    # A repeated annotation silently replaces the first (Pairs once listed z_x twice).
    import ast
    import inspect

    import synthmphn.theory.data as data

    for node in ast.walk(ast.parse(inspect.getsource(data))):
        if isinstance(node, ast.ClassDef):
            names = [s.target.id for s in node.body if isinstance(s, ast.AnnAssign)]
            assert len(names) == len(set(names)), (node.name, names)
