"""NT-Xent against a hand computation, the penalty, the lr schedule and batching."""

import math

import pytest
import torch

from synthmphn.theory.data import Pairs
from synthmphn.theory.encoders import UnitNeuronEncoder
from synthmphn.theory.train import l2_penalty, lr_at, lr_every, nt_xent_loss, shuffled_batches


def hand_nt_xent(rows: list[list[float]], tau: float) -> float:
    """−log softmax over j ≠ i of ⟨u_i, u_j⟩/τ at the partner (i ± B), averaged over the 2B rows."""
    n = len(rows) // 2
    total = 0.0
    for i, u in enumerate(rows):
        partner = i + n if i < n else i - n
        scores = {
            j: sum(a * b for a, b in zip(u, v, strict=True)) / tau for j, v in enumerate(rows) if j != i
        }
        total += -scores[partner] + math.log(sum(math.exp(s) for s in scores.values()))
    return total / len(rows)


def test_nt_xent_matches_a_hand_computation():
    image = [[1.0, 0.0], [0.5, 0.5]]
    text = [[0.8, 0.1], [0.0, 1.0]]
    got = nt_xent_loss(torch.tensor(image), torch.tensor(text), tau=0.1)
    assert got.item() == pytest.approx(hand_nt_xent(image + text, 0.1), rel=1e-5)


def test_nt_xent_random_features_and_temperature():
    gen = torch.Generator().manual_seed(0)
    image, text = torch.rand(3, 4, generator=gen), torch.rand(3, 4, generator=gen)
    for tau in (0.1, 1.0):
        want = hand_nt_xent(image.tolist() + text.tolist(), tau)
        assert nt_xent_loss(image, text, tau).item() == pytest.approx(want, rel=1e-5)


def test_nt_xent_is_low_for_aligned_orthogonal_pairs():
    eye = torch.eye(4) * 3
    aligned = nt_xent_loss(eye, eye, 0.1).item()
    shuffled = nt_xent_loss(eye, eye.roll(1, dims=0), 0.1).item()
    assert aligned < 1e-3 < shuffled


def test_l2_penalty_sums_squared_parameters():
    enc = UnitNeuronEncoder(3, 2)
    with torch.no_grad():
        enc.weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]]))
        enc.bias.copy_(torch.tensor([1.0, -1.0]))
    assert l2_penalty(enc).item() == pytest.approx(1 + 4 + 9 + 1 + 1)
    assert l2_penalty(enc, enc).item() == pytest.approx(32)


def test_lr_drops_tenfold_at_epochs_10_and_20_of_30():
    lrs = [lr_at(e, 30, 3e-3) for e in range(30)]
    assert lrs[:10] == [3e-3] * 10
    assert all(v == pytest.approx(3e-4) for v in lrs[10:20])
    assert all(v == pytest.approx(3e-5) for v in lrs[20:])
    assert lr_at(4, 12, 1.0) == pytest.approx(0.1)  # milestones scale with the epoch count


def test_shuffled_batches_cover_every_pair_once():
    n = 1050
    pairs = Pairs(
        torch.arange(n, dtype=torch.float32)[:, None],
        torch.zeros(n, 1),
        torch.zeros(n, 1),
        torch.zeros(n, dtype=torch.bool),
    )
    batches = list(shuffled_batches(pairs, 500, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [525, 525]  # n // 500 batches, none dropped
    seen = torch.cat([b.z_x[:, 0] for b in batches])
    assert sorted(seen.long().tolist()) == list(range(n))
    assert not torch.equal(seen, torch.arange(n, dtype=torch.float32))


def test_authors_decay_is_tenfold_every_period_and_matches_lr_at_on_30_epochs():
    assert [lr_every(e, 10, 1.0) for e in (0, 9, 10, 25, 59)] == pytest.approx([1.0, 1.0, 0.1, 0.01, 1e-5])
    assert all(lr_every(e, 10, 3e-3) == pytest.approx(lr_at(e, 30, 3e-3)) for e in range(30))
