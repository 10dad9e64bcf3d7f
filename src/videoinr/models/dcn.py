"""Modulated deformable convolution (DCNv2) in pure PyTorch.

Semantics follow DCNv2 / EDVR's `DCN_sep`: a plain convolution predicts, from a conditioning feature, per
kernel tap and deformable group an (dy, dx) offset in pixels and a mask logit; the main convolution then
samples its input at the shifted taps (bilinear, zero outside the image) and weights each sample by
sigmoid(mask). Channel layout of the offsets matches DCNv2 and `torchvision.ops.deform_conv2d`: channel
2*(g*K + k) holds dy and 2*(g*K + k) + 1 holds dx for group g and tap k (row-major over the kernel).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def modulated_deform_conv2d(
    x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor, bias: Tensor | None, groups: int
) -> Tensor:
    """Deformable 3x3-style convolution, stride 1, 'same' padding.

    x: (B, C, H, W); offset: (B, 2*G*K, H, W) in pixels; mask: (B, G*K, H, W) in [0, 1];
    weight: (O, C, kh, kw) with odd kh, kw; returns (B, O, H, W).
    """
    b, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    k = kh * kw
    g = groups
    # Base sampling positions of every tap, in pixels: (K, H, W) for y and x.
    ky, kx = torch.meshgrid(
        torch.arange(kh, device=x.device, dtype=x.dtype) - (kh - 1) / 2,
        torch.arange(kw, device=x.device, dtype=x.dtype) - (kw - 1) / 2,
        indexing="ij",
    )
    ys = torch.arange(h, device=x.device, dtype=x.dtype).view(1, h, 1) + ky.reshape(k, 1, 1)
    xs = torch.arange(w, device=x.device, dtype=x.dtype).view(1, 1, w) + kx.reshape(k, 1, 1)
    off = offset.view(b, g, k, 2, h, w)
    py = ys + off[:, :, :, 0]  # (B, G, K, H, W)
    px = xs + off[:, :, :, 1]
    # Pixel -> normalized (align_corners=False) and one grid_sample over all taps.
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
    grid = grid.view(b * g, k * h, w, 2)
    sampled = F.grid_sample(
        x.reshape(b * g, c // g, h, w), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )  # (B*G, C/G, K*H, W)
    sampled = sampled.view(b, g, c // g, k, h, w) * mask.view(b, g, 1, k, h, w)
    cols = sampled.reshape(b, c * k, h * w)
    out = torch.matmul(weight.reshape(o, c * k), cols)
    if bias is not None:
        out = out + bias.view(1, o, 1)
    return out.view(b, o, h, w)


class DeformConvPack(nn.Module):
    """DCNv2 layer that predicts its own offsets and masks from a conditioning feature (EDVR `DCN_sep`)."""

    def __init__(self, channels: int, kernel_size: int = 3, groups: int = 8) -> None:
        super().__init__()
        if channels % groups:
            raise ValueError(f"channels ({channels}) must be divisible by deformable groups ({groups})")
        self.groups = groups
        self.kernel_size = kernel_size
        taps = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(channels, channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.conv_offset_mask = nn.Conv2d(channels, groups * 3 * taps, kernel_size, padding=kernel_size // 2)
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        # Zero-initialised offsets and masks (mask 0.5): starts as a plain convolution, as DCNv2 does.
        nn.init.zeros_(self.conv_offset_mask.weight)
        nn.init.zeros_(self.conv_offset_mask.bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        """x: (B, C, H, W) to sample; cond: (B, C, H, W) feature the offsets are predicted from."""
        o1, o2, m = torch.chunk(self.conv_offset_mask(cond), 3, dim=1)
        offset = torch.cat((o1, o2), dim=1)
        return modulated_deform_conv2d(x, offset, torch.sigmoid(m), self.weight, self.bias, self.groups)
