"""The fast training step (fused AdamW, math SDPA on CPU, channels_last ResNet) computes the plain step's values.

Reference = the step before the speed-ups: torch's for-loop AdamW, torch's default SDPA kernel (flash on CPU),
NCHW weights and the text tower over all token columns. Both run one real batch of the tiny dataset
through synth-tiny-cnn-32 under bf16 autocast.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
from pathlib import Path

import open_clip
import pytest
import torch

from synthmphn.config import ScheduleConfig
from synthmphn.data.batches import CaptionDataset, SlotCollate, TrainBatch
from synthmphn.data.sampler import GroupBatchSampler
from synthmphn.data.store import GroupStore
from synthmphn.losses import create_loss
from synthmphn.models import create_clip
from synthmphn.models.checkpoint import save_checkpoint
from synthmphn.models.factory import to_channels_last
from synthmphn.models.gemm_conv import GemmConv2d, gemm_eligible, use_gemm_convs
from synthmphn.train import loop
from synthmphn.train.optim import clipped_update, create_optimizer, total_grad_norm
from synthmphn.train.row_grads import RowGrads

MODEL = "synth-tiny-cnn-32"


@pytest.fixture(scope="module")
def parts_and_batch(tiny_dataset: Path) -> tuple[open_clip.CLIP, TrainBatch]:
    torch.manual_seed(0)
    parts = create_clip(MODEL, augment=False)
    store = GroupStore(tiny_dataset)
    sampler = GroupBatchSampler(store.groups, 16, ScheduleConfig(name="constant", p_max=0.5), 1, seed=0)
    dataset = CaptionDataset(store, 2, parts.preprocess_train, seed=0)
    batch = SlotCollate(parts.tokenizer)([dataset[s] for s in sampler.batch_at(0)])
    return parts.model, batch


def losses_and_grads(
    base: torch.nn.Module, batch: TrainBatch, fast: bool, precision: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[float, torch.Tensor]:
    """The loss and all gradients (concatenated) of one forward/backward, on the fast or the plain path."""
    model = use_gemm_convs(to_channels_last(copy.deepcopy(base))) if fast else copy.deepcopy(base)
    if fast:
        assert model.visual.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(loop, "attention_backend", lambda device: nullcontext())
            patch.setattr(loop, "clip_forward", lambda model, images, tokens: model(images, tokens))
        loss = loop.compute_losses(model, create_loss("mpclip"), batch, precision)["loss"]
    loss.backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters()])
    return float(loss.detach()), grads


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_fast_step_matches_the_plain_step_within_bf16_tolerance(
    parts_and_batch: tuple[torch.nn.Module, TrainBatch], monkeypatch: pytest.MonkeyPatch
) -> None:
    """fp32: fast = plain up to summation order; bf16: the fast path adds no error beyond bf16's own."""
    base, batch = parts_and_batch
    exact_loss, exact = losses_and_grads(base, batch, False, "fp32", monkeypatch)
    fast32_loss, fast32 = losses_and_grads(base, batch, True, "fp32", monkeypatch)
    assert fast32_loss == pytest.approx(exact_loss, rel=1e-5)
    assert relative(fast32, exact) < 1e-2
    plain_loss, plain = losses_and_grads(base, batch, False, "bf16", monkeypatch)
    fast_loss, fast = losses_and_grads(base, batch, True, "bf16", monkeypatch)
    bf16_error = relative(plain, exact)  # what bf16 autocast itself costs (~0.09 here)
    assert 1e-3 < bf16_error < 0.2
    assert relative(fast, exact) < 1.25 * bf16_error
    assert abs(fast_loss - exact_loss) < max(2 * abs(plain_loss - exact_loss), 2e-3 * exact_loss)


def test_fused_adamw_takes_the_for_loop_step() -> None:
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.LayerNorm(5), torch.nn.Linear(5, 3))
    twin = copy.deepcopy(model)
    fused = create_optimizer(model, 1e-2, 0.1)
    plain = create_optimizer(twin, 1e-2, 0.1, fused=False)
    assert fused.param_groups[0]["fused"] and not plain.param_groups[0]["fused"]
    for step in range(5):
        x = torch.randn(4, 6, generator=torch.Generator().manual_seed(step))
        for net, opt in ((model, fused), (twin, plain)):
            net(x).square().sum().backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    plain.load_state_dict(fused.state_dict())  # the state dicts are interchangeable


def test_the_total_gradient_norm_is_the_float64_norm() -> None:
    """Dots for dense CPU gradients, norms for other layouts; closer to float64 than vector_norm itself."""
    g = torch.Generator().manual_seed(3)
    grads = [
        torch.randn(49_408, 128, generator=g),  # the token embedding's size
        torch.randn(3, 4, generator=g).t(),  # not contiguous
        torch.randn(8, 3, 3, 3, generator=g).contiguous(memory_format=torch.channels_last),
    ]
    exact = sum(float(t.double().square().sum()) for t in grads) ** 0.5
    assert float(total_grad_norm(grads)) == pytest.approx(exact, rel=1e-5)
    assert float(torch.nn.utils.get_total_norm(grads)) == pytest.approx(exact, rel=1e-3)
    assert float(total_grad_norm([torch.tensor([3.0, 4.0])])) == 5.0
    assert torch.isinf(total_grad_norm([torch.tensor([1.0, float("inf")])]))


@pytest.mark.parametrize("max_norm", [0.5, 1e6])  # clipping every step / never
def test_clipping_inside_the_fused_update_equals_clip_grad_norm_then_step(max_norm: float) -> None:
    """train_step's clip (the fused kernel's grad_scale) = clip_grad_norm_ + the for-loop AdamW step."""
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.LayerNorm(5), torch.nn.Linear(5, 3))
    twin = copy.deepcopy(model)
    fused = create_optimizer(model, 1e-2, 0.1)
    plain = create_optimizer(twin, 1e-2, 0.1, fused=False)
    for step in range(5):
        x = 3 * torch.randn(4, 6, generator=torch.Generator().manual_seed(step))
        model(x).square().sum().backward()
        params = list(model.parameters())
        total = torch.nn.utils.get_total_norm([p.grad for p in params])
        with clipped_update(fused, params, total, max_norm):
            assert hasattr(fused, "grad_scale")
            fused.step()
        assert not hasattr(fused, "grad_scale")  # the next step starts unscaled
        twin(x).square().sum().backward()
        reference = torch.nn.utils.clip_grad_norm_(list(twin.parameters()), max_norm)
        assert float(total) == pytest.approx(float(reference), rel=1e-6)
        plain.step()
        fused.zero_grad()
        plain.zero_grad()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert max_norm > 1e3 or float(total) > max_norm  # the 0.5 case did clip


@pytest.mark.parametrize("micro_batches", [1, 2])
def test_sparse_embedding_rows_train_like_the_dense_gradient(
    parts_and_batch: tuple[torch.nn.Module, TrainBatch], micro_batches: int
) -> None:
    """RowGrads (sparse embedding backward, rows added into a kept buffer) = torch's dense gradient."""
    base, batch = parts_and_batch
    runs = {}
    for sparse in (False, True):
        model = copy.deepcopy(base)
        row_grads = RowGrads(model) if sparse else None
        optimizer = create_optimizer(model, 1e-3, 0.1)
        scaler = torch.amp.GradScaler("cpu", enabled=False)
        for step in range(3):
            metrics = loop.train_step(
                model,
                create_loss("mpclip"),
                optimizer,
                scaler,
                [batch] * micro_batches,
                "fp32",
                1.0,
                step,
                row_grads=row_grads,
            )
            if row_grads is not None:
                (buffer,) = row_grads.buffers
                assert buffer is not None and not buffer.any()  # zero again for the next step
                assert model.token_embedding.weight.grad is None
        runs[sparse] = (model, metrics["grad_norm"])
    (dense, dense_norm), (rows, rows_norm) = runs[False], runs[True]
    assert rows.token_embedding.sparse and not dense.token_embedding.sparse
    assert rows_norm == pytest.approx(dense_norm, rel=1e-4)
    for (name, a), b in zip(rows.named_parameters(), dense.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
    assert set(rows.state_dict()) == set(dense.state_dict())


def test_a_fast_layout_checkpoint_loads_into_plain_open_clip(
    parts_and_batch: tuple[torch.nn.Module, TrainBatch], tmp_path: Path
) -> None:
    base, batch = parts_and_batch
    fast = use_gemm_convs(to_channels_last(copy.deepcopy(base))).eval()
    assert any(isinstance(m, GemmConv2d) for m in fast.modules())
    path = save_checkpoint(tmp_path / "fast.pt", fast, {"step": 1})
    plain = open_clip.create_model(MODEL)
    open_clip.load_checkpoint(plain, str(path))
    plain.eval()
    for name, tensor in fast.state_dict().items():
        assert torch.equal(plain.state_dict()[name], tensor), name
    with torch.no_grad():
        torch.testing.assert_close(plain.encode_image(batch.images), fast.encode_image(batch.images))


@pytest.mark.parametrize(
    ("kernel", "padding", "size", "bias"),
    [(1, 0, 1, False), (1, 0, 4, True), (3, 1, 2, False), (3, 1, 1, True), (3, 1, 4, False)],
)
def test_gemm_conv_equals_the_convolution_in_value_and_gradient(
    kernel: int, padding: int, size: int, bias: bool
) -> None:
    """1×1 at any size and 3×3 on ≤ 2×2 maps take the GEMM path; 3×3 on 4×4 stays a convolution."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 5, kernel, padding=padding, bias=bias).double()
    gemm = use_gemm_convs(copy.deepcopy(conv))
    assert isinstance(gemm, GemmConv2d)
    x = torch.randn(3, 6, size, size, dtype=torch.float64).to(memory_format=torch.channels_last)
    x_conv, x_gemm = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_conv, out_gemm = conv(x_conv), gemm(x_gemm)
    torch.testing.assert_close(out_gemm, out_conv, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(out_conv)
    (out_conv * weights).sum().backward()
    (out_gemm * weights).sum().backward()
    torch.testing.assert_close(x_gemm.grad, x_conv.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gemm.weight.grad, conv.weight.grad, rtol=1e-12, atol=1e-12)


def test_only_exactly_rewritable_convolutions_become_gemm_convs() -> None:
    """Strided, dilated, grouped, 5×5 or unpadded 3×3 convolutions keep oneDNN's kernels."""
    assert gemm_eligible(torch.nn.Conv2d(4, 4, 1))
    assert gemm_eligible(torch.nn.Conv2d(4, 4, 3, padding=1))
    for conv in [
        torch.nn.Conv2d(4, 4, 1, stride=2),
        torch.nn.Conv2d(4, 4, 3, padding=1, dilation=2),
        torch.nn.Conv2d(4, 4, 3, padding=1, groups=2),
        torch.nn.Conv2d(4, 4, 5, padding=2),
        torch.nn.Conv2d(4, 4, 3),
        torch.nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect"),
    ]:
        assert not gemm_eligible(conv)


def test_gemm_convs_follow_autocast_to_bf16() -> None:
    """Under CPU bf16 autocast the GEMM path returns bf16, as the convolution it replaces does."""
    gemm = use_gemm_convs(torch.nn.Conv2d(4, 4, 3, padding=1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert gemm(torch.randn(2, 4, 2, 2)).dtype == torch.bfloat16
        assert gemm(torch.randn(2, 4, 8, 8)).dtype == torch.bfloat16


@pytest.mark.slow  # inductor compiles the model for ~1 min on a CPU
def test_compiled_step_matches_the_eager_step_and_keeps_the_checkpoint_keys(
    parts_and_batch: tuple[torch.nn.Module, TrainBatch], monkeypatch: pytest.MonkeyPatch
) -> None:
    """train.compile: the same loss and gradients as the eager fast step (fp32, up to summation order)."""
    base, batch = parts_and_batch
    eager_loss, eager = losses_and_grads(base, batch, True, "fp32", monkeypatch)
    model = use_gemm_convs(to_channels_last(copy.deepcopy(base)))
    model.compile(dynamic=False)
    loss = loop.compute_losses(model, create_loss("mpclip"), batch, "fp32")["loss"]
    loss.backward()
    compiled = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert float(loss.detach()) == pytest.approx(eager_loss, rel=1e-4)
    assert relative(compiled, eager) < 1e-2
    assert list(model.state_dict()) == list(base.state_dict())
