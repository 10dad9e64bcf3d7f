"""Modulated deformable convolution (DCNv2) in pure PyTorch.

Semantics follow DCNv2 / EDVR's `DCN_sep`: a plain convolution predicts, from a conditioning feature, per
kernel tap and deformable group an (dy, dx) offset in pixels and a mask logit; the main convolution then
samples its input at the shifted taps (bilinear, zero outside the image) and weights each sample by
sigmoid(mask). Channel layout of the offsets matches DCNv2 and `torchvision.ops.deform_conv2d`: channel
2*(g*K + k) holds dy and 2*(g*K + k) + 1 holds dx for group g and tap k (row-major over the kernel).

How it runs (speed: docs/MEASUREMENTS.md): per band of output rows, one `embedding_bag` gathers every
(pixel, group, tap) sample as the mask-weighted sum of its 4 bilinear corners from the channels-last input
(zero-padded by one pixel, sample positions clamped to the padding, so no corner needs a validity test),
then one GEMM with the weight. Positions and interpolation weights are computed in float32 (float64 for
float64 input) even under bf16 autocast; there the gathered values and their weights are bf16, as the GEMM.
Bands bound the im2col buffer (BAND_ELEMENTS).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# im2col elements (pixels x C*K) per band: 2^22 (16 MiB float32); 2^21 .. 2^23 were within noise of it
# at 480x856, 2^25 and the whole frame at once 2x slower (and 20x the memory; docs/MEASUREMENTS.md)
BAND_ELEMENTS = 1 << 22


def modulated_deform_conv2d(
    x: Tensor, offset: Tensor, mask: Tensor, weight: Tensor, bias: Tensor | None, groups: int
) -> Tensor:
    """Deformable 3x3-style convolution, stride 1, 'same' padding.

    x: (B, C, H, W); offset: (B, 2*G*K, H, W) in pixels; mask: (B, G*K, H, W) in [0, 1];
    weight: (O, C, kh, kw) with odd kh, kw; returns (B, O, H, W) (channels-last memory).
    """
    b, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    k, g = kh * kw, groups
    cg = c // g
    pdt = torch.float64 if x.dtype == torch.float64 else torch.float32
    dev = x.device
    ky, kx = torch.meshgrid(torch.arange(kh, device=dev, dtype=pdt) - (kh - 1) / 2,
                            torch.arange(kw, device=dev, dtype=pdt) - (kw - 1) / 2, indexing="ij")
    ky, kx = ky.reshape(k), kx.reshape(k)
    # the input as rows of cg channels, (pixel, group)-major, zero-padded 1 before and 2 after each axis
    hp, wp = h + 3, w + 3
    # the gathered values: bf16 under a CPU bf16 autocast (the GEMM reads them in bf16 anyway; 25% faster
    # gather at 480x856), else the positions' dtype
    bf16 = dev.type == "cpu" and torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    vdt = torch.bfloat16 if bf16 and pdt == torch.float32 else pdt
    table = F.pad(x.to(vdt), (1, 2, 1, 2)).permute(0, 2, 3, 1).reshape(b * hp * wp * g, cg)
    itype = torch.int32 if table.shape[0] < 2**31 - 1 else torch.int64
    corners = torch.tensor([0, g, wp * g, (wp + 1) * g], device=dev, dtype=itype)
    row0 = (torch.arange(b, device=dev, dtype=itype).view(b, 1, 1, 1, 1) * (hp * wp * g)
            + torch.arange(g, device=dev, dtype=itype).view(g, 1))
    # the GEMM's weight with columns in the gather's (group, tap, channel) order
    wmat = weight.reshape(o, g, cg, k).transpose(2, 3).reshape(o, g * k * cg)
    off = offset.permute(0, 2, 3, 1)  # (B, H, W, 2GK): (group, tap, dy/dx) per pixel
    msk = mask.permute(0, 2, 3, 1)
    xs = torch.arange(w, device=dev, dtype=pdt).view(w, 1, 1) + kx
    step = max(1, BAND_ELEMENTS // (w * c * k))
    outs = []
    for r in range(0, h, step):
        rows = min(step, h - r)
        n = b * rows * w * g * k
        o_b = off[:, r : r + rows].to(pdt).reshape(b, rows, w, g, k, 2)
        py = o_b[..., 0] + (torch.arange(r, r + rows, device=dev, dtype=pdt).view(rows, 1, 1, 1) + ky)
        px = o_b[..., 1] + xs
        # through grid_sample's normalize/unnormalize round trip (align_corners=False), as the previous
        # grid_sample form did: at integer positions (zero offsets, as DCNs start) the rounding picks the
        # side of the kink, hence the offsets' gradient; exact integers gave other training runs (test_motion)
        py = (((2 * py + 1) / h - 1 + 1) * h - 1).div_(2).clamp_(-1, h)
        px = (((2 * px + 1) / w - 1 + 1) * w - 1).div_(2).clamp_(-1, w)
        y0, x0 = py.floor(), px.floor()
        ly, lx = py.sub_(y0), px.sub_(x0)
        m = msk[:, r : r + rows].to(pdt).reshape(b, rows, w, g, k)
        first = ((y0.to(itype) + 1) * wp + x0.to(itype).add_(1)).mul_(g).add_(row0)
        wy1 = m * ly
        wy0 = m - wy1
        wx0 = 1 - lx
        idx = first.reshape(-1, 1) + corners  # the 4 bilinear corners: (y0, x0), (y0, x1), (y1, x0), (y1, x1)
        wts = torch.stack((wy0 * wx0, wy0 * lx, wy1 * wx0, wy1 * lx), -1)
        bags = torch.arange(0, 4 * n + 1, 4, device=dev, dtype=itype)
        cols = F.embedding_bag(idx.view(-1), table, bags, mode="sum", per_sample_weights=wts.reshape(-1).to(vdt),
                               include_last_offset=True).view(b, rows * w, g * k * cg)
        outs.append(torch.matmul(cols, wmat.t()).view(b, rows, w, o))
    out = torch.cat(outs, 1) if len(outs) > 1 else outs[0]
    if bias is not None:
        out = out + bias.to(out.dtype)
    return out.permute(0, 3, 1, 2)


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
