"""Convolutions on tiny feature maps as plain GEMMs (CPU training speed; same function, same weights).

At 32 px the ResNet tower's last stages work on 4×4, 2×2 and 1×1 maps. oneDNN's convolution kernels,
above all the weight-gradient ones, are tiled for large maps and reach 10–50 GFLOP/s there (a 1×1 conv of
512 → 1024 channels on a 1×1 map: 18 ms forward + backward at batch 128, vs 1.6 ms as a matmul; measured in
docs/performance.md). Two exact rewrites fix that:

- a 1×1, stride-1 convolution is a linear map over channels: y[n, :, h, w] = W · x[n, :, h, w] (+ b), i.e.
  one GEMM of (N·H·W, C) by (C, O); on NHWC activations the reshape is free. Used at every map size
  (measured never slower than oneDNN up to 16×16).
- a 3×3, stride-1, padding-1 convolution on a map of ≤ `IM2COL_MAX_PIXELS` pixels is im2col + one GEMM:
  the nine shifted copies of the zero-padded NHWC input are concatenated to (N·H·W, 9·C) and multiplied by
  the weight laid out as (O, 9·C) in (kh, kw, C) order. On larger maps the copies cost more than oneDNN
  loses, so those stay convolutions.

`use_gemm_convs` swaps the class of eligible `nn.Conv2d` modules for `GemmConv2d`, a subclass with the same
parameters, so `state_dict` keys, shapes and values are unchanged and checkpoints load into plain open_clip.
Only CPU inputs take the GEMM path; on other devices the module is an ordinary convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IM2COL_MAX_PIXELS = 4  # 2×2 maps: 0.5× oneDNN's time there; 4×4 already 2.9× slower (performance.md)


class GemmConv2d(nn.Conv2d):
    """An `nn.Conv2d` whose CPU forward is a GEMM for 1×1 kernels and for 3×3 kernels on tiny maps."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - nn.Conv2d's signature
        """y = conv2d(x, W, b) computed as one matmul where that is faster on CPU (see the module doc)."""
        if input.device.type != "cpu" or input.dim() != 4:
            return super().forward(input)
        if self.kernel_size == (1, 1):
            return _pointwise(input, self.weight, self.bias)
        if input.shape[-1] * input.shape[-2] <= IM2COL_MAX_PIXELS:
            return _im2col_3x3(input, self.weight, self.bias)
        return super().forward(input)


def gemm_eligible(conv: nn.Conv2d) -> bool:
    """True for the convolutions `GemmConv2d` rewrites exactly: stride 1, no dilation or groups, and a 1×1
    kernel without padding or a 3×3 kernel with zero padding 1."""
    plain = conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
    pointwise = conv.kernel_size == (1, 1) and conv.padding in ((0, 0), "valid")
    same_3x3 = conv.kernel_size == (3, 3) and conv.padding == (1, 1) and conv.padding_mode == "zeros"
    return type(conv) is nn.Conv2d and plain and (pointwise or same_3x3)


def use_gemm_convs(model: nn.Module) -> nn.Module:
    """Turns every eligible `nn.Conv2d` of `model` into a `GemmConv2d`, in place; returns `model`."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and gemm_eligible(module):
            module.__class__ = GemmConv2d
    return model


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype the GEMM runs in: autocast's CPU dtype when autocast is on (as a convolution would)."""
    return torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype


def _pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """1×1 convolution as (N·H·W, C) @ (C, O)ᵀ on NHWC rows; returns an NCHW-shaped, NHWC-strided tensor."""
    n, c, h, w = x.shape
    rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)
    out = F.linear(rows, weight.reshape(weight.shape[0], c), bias)
    return out.reshape(n, h, w, -1).permute(0, 3, 1, 2)


def _im2col_3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """3×3 'same' convolution as im2col: nine shifted NHWC views of the padded input, then one GEMM."""
    n, c, h, w = x.shape
    padded = F.pad(x.permute(0, 2, 3, 1).to(_compute_dtype(x)), (0, 0, 1, 1, 1, 1))
    columns = torch.cat([padded[:, i : i + h, j : j + w, :] for i in range(3) for j in range(3)], dim=3)
    kernel = weight.permute(0, 2, 3, 1).reshape(weight.shape[0], 9 * c)
    out = F.linear(columns.reshape(n * h * w, 9 * c), kernel, bias)
    return out.reshape(n, h, w, -1).permute(0, 3, 1, 2)
