"""Coordinates and sampling for the renderer: pixel grids, LR-grid lookups, and grid_sample as gathers.

Coordinates are normalized with align_corners=False (pixel centre i of a length-N axis is at
(2i + 1)/N - 1), last dim (x, y). `_bilinear` reads the LR-grid maps of a `State` (`_flat` indexes the
nearest cell that `conventions.nearest` picks), `_bicubic` the LR frames (the rgb_skip path), `_hr_bilinear` the HR maps of the whole-frame form over the
box `_warp_box` finds. When compiling, grid_sample is replaced by explicit gathers of pixel rows
(`_bilinear_gather`, `_bicubic_gather`): the same numbers to float rounding, but inductor fuses them into the
surrounding loops (its own grid_sample lowering is much slower on CPU).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def pixel_centers(n: int, device=None, dtype=torch.float32) -> Tensor:
    """Normalized centres of n pixels along one axis: (2i + 1)/n - 1, shape (n,)."""
    return (2 * torch.arange(n, device=device, dtype=dtype) + 1) / n - 1


def make_grid(size: tuple[int, int], region: tuple[int, int, int, int] | None = None, device=None) -> Tensor:
    """Coordinates (h*w, 2) as (x, y) of the pixels of `region` = (x, y, w, h) of an (H, W) frame."""
    height, width = size
    x0, y0, rw, rh = region if region is not None else (0, 0, width, height)
    xs = pixel_centers(width, device)[x0 : x0 + rw]
    ys = pixel_centers(height, device)[y0 : y0 + rh]
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), -1).reshape(-1, 2)


def _flat(ix: Tensor, iy: Tensor, h: int, w: int) -> Tensor:
    """Flat row indices (B*N,) into (B*h*w, C) pixel rows of cells (ix, iy) (B, N) each."""
    base = torch.arange(ix.shape[0], device=ix.device).view(-1, 1) * (h * w)
    return (base + iy * w + ix).reshape(-1)


def _bilinear(maps: Tensor, x: Tensor, padding: str) -> Tensor:
    """Bilinear samples (B, N, C) of maps (B, C, h, w) at normalized points x (B, N, 2), align_corners=False,
    'border' or 'zeros' padding (gathers when compiling)."""
    if torch.compiler.is_compiling():
        return _bilinear_gather(maps, x, padding)
    out = F.grid_sample(maps, x.unsqueeze(1), mode="bilinear", padding_mode=padding, align_corners=False)
    return out[:, :, 0].transpose(1, 2)


def _warp_box(reach: Tensor, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box (x, y, w, h) of output pixels that bilinear sampling at the warped points reads, from the
    chunks' reaches (K, 4) of `State._pixel_pass` (min x, max x, min y, max y in output pixels), clamped to
    the (H, W) = size frame, with one pixel of margin against rounding."""
    lo, hi = reach.amin(0).tolist(), reach.amax(0).tolist()
    out = []
    for axis, n_out in ((0, size[1]), (1, size[0])):
        a = min(max(math.floor(lo[2 * axis]) - 1, 0), n_out - 1)
        b = min(max(math.floor(hi[2 * axis + 1]) + 2, 0), n_out - 1)
        out.append((a, b - a + 1))
    (x0, bw), (y0, bh) = out
    return x0, y0, bw, bh


def _hr_bilinear(maps: Tensor, x: Tensor, origin: Tensor, zeros: bool = False) -> Tensor:
    """Bilinear samples (B, N, C) at normalized points x (B, N, 2) of an HR map (B, bh, bw, C) whose pixel
    (0, 0) is output pixel (origin[0], origin[1]) of a frame of origin[2] x origin[3] (width x height)
    pixels; border (or zeros) padding at the frame's edges (the map covers every frame pixel the points
    read, so outside the map is outside the frame)."""
    b, bh, bw, c = maps.shape
    ix = _unnormalize(x[..., 0], origin[2]) - origin[0]  # pixel coordinates in the map
    iy = _unnormalize(x[..., 1], origin[3]) - origin[1]
    if not torch.compiler.is_compiling():  # eagerly one grid_sample (6x faster than the gathers' ~14 ops)
        grid = torch.stack([(2 * ix + 1) / bw - 1, (2 * iy + 1) / bh - 1], -1).unsqueeze(1)
        maps = maps.to(grid.dtype)  # (bf16 maps of the compiled renderer, run eagerly after a compile failure)
        out = F.grid_sample(maps.permute(0, 3, 1, 2), grid, mode="bilinear",
                            padding_mode="zeros" if zeros else "border", align_corners=False)
        return out[:, :, 0].transpose(1, 2)
    rows = maps.reshape(b * bh * bw, c)
    if zeros:
        return _bilinear_zeros(rows, ix, iy, b, bh, bw)
    return _bilinear_at(rows, ix.clamp(0, bw - 1), iy.clamp(0, bh - 1), b, bh, bw)  # (origin >= 0)


def _bicubic(img: Tensor, x: Tensor) -> Tensor:
    """Bicubic samples (B, N, C) of img (B, C, h, w) at normalized points (B, N, 2), border padding."""
    if torch.compiler.is_compiling():
        return _bicubic_gather(img, x)
    out = F.grid_sample(img, x.unsqueeze(1), mode="bicubic", padding_mode="border", align_corners=False)
    return out[:, :, 0].transpose(1, 2)


# grid_sample as explicit gathers of pixel rows (see the module docstring). Used when compiling.

def _rows(maps: Tensor) -> Tensor:
    """(B, C, h, w) -> (B*h*w, C) pixel rows (a view for channels-last memory)."""
    b, c, h, w = maps.shape
    return maps.permute(0, 2, 3, 1).reshape(b * h * w, c)


def _unnormalize(x: Tensor, size: int) -> Tensor:
    """Normalized coordinate -> pixel units, align_corners=False (pixel centre i at i)."""
    return ((x + 1) * size - 1) / 2


def _bilinear_gather(maps: Tensor, x: Tensor, padding: str = "border") -> Tensor:
    """`F.grid_sample(maps, x, 'bilinear', padding, align_corners=False)` as (B, N, C) by gathers."""
    b, _, h, w = maps.shape
    if padding == "zeros":
        return _bilinear_zeros(_rows(maps), _unnormalize(x[..., 0], w), _unnormalize(x[..., 1], h), b, h, w)
    ix = _unnormalize(x[..., 0], w).clamp(0, w - 1)
    iy = _unnormalize(x[..., 1], h).clamp(0, h - 1)
    return _bilinear_at(_rows(maps), ix, iy, b, h, w)


def _bilinear_at(rows: Tensor, ix: Tensor, iy: Tensor, b: int, h: int, w: int) -> Tensor:
    """Bilinear samples (B, N, C) of pixel rows (B*h*w, C) at pixel coordinates ix, iy (B, N), already
    clamped to [0, w-1] x [0, h-1] (the two samplers above differ only in how they get there)."""
    x0, y0 = ix.floor(), iy.floor()
    fx, fy = (ix - x0).unsqueeze(-1), (iy - y0).unsqueeze(-1)
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    base = torch.arange(b, device=ix.device).view(-1, 1) * (h * w)
    y0, y1 = y0 * w + base, y1 * w + base
    top = rows[y0 + x0] * (1 - fx) + rows[y0 + x1] * fx
    bottom = rows[y1 + x0] * (1 - fx) + rows[y1 + x1] * fx
    return top * (1 - fy) + bottom * fy


def _bilinear_zeros(rows: Tensor, ix: Tensor, iy: Tensor, b: int, h: int, w: int) -> Tensor:
    """Bilinear samples (B, N, C) of pixel rows (B*h*w, C) at pixel coordinates ix, iy (B, N), taps outside
    [0, w-1] x [0, h-1] reading zero."""
    x0, y0 = ix.floor(), iy.floor()
    fx, fy = ix - x0, iy - y0
    x0, y0 = x0.long(), y0.long()
    base = torch.arange(b, device=ix.device).view(-1, 1) * (h * w)
    out = 0
    for dy, wy in ((0, 1 - fy), (1, fy)):
        yy = y0 + dy
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xx = x0 + dx
            inside = ((xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)).to(rows.dtype)
            idx = base + yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)
            out = out + rows[idx] * (wx * wy * inside).unsqueeze(-1)
    return out


def _cubic_weights(t: Tensor) -> list[Tensor]:
    """grid_sample's bicubic (A = -0.75) weights of taps -1, 0, 1, 2 at fractional offset t."""
    a = -0.75
    near = lambda v: ((a + 2) * v - (a + 3)) * v * v + 1  # noqa: E731 - |v| <= 1
    far = lambda v: ((a * v - 5 * a) * v + 8 * a) * v - 4 * a  # noqa: E731 - 1 < |v| < 2
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _bicubic_gather(img: Tensor, x: Tensor) -> Tensor:
    """`F.grid_sample(img, x, 'bicubic', 'border', align_corners=False)` as (B, N, C) by gathers."""
    b, _, h, w = img.shape
    ix, iy = _unnormalize(x[..., 0], w), _unnormalize(x[..., 1], h)
    x0, y0 = ix.floor(), iy.floor()
    wx, wy = _cubic_weights((ix - x0).unsqueeze(-1)), _cubic_weights((iy - y0).unsqueeze(-1))
    x0, y0 = x0.long(), y0.long()
    base = torch.arange(b, device=x.device).view(-1, 1) * (h * w)
    rows = _rows(img)
    xs = [(x0 + (j - 1)).clamp(0, w - 1) for j in range(4)]
    out = None
    for i in range(4):
        y = (y0 + (i - 1)).clamp(0, h - 1) * w + base
        row = sum(rows[y + xs[j]] * wx[j] for j in range(4))
        out = row * wy[i] if out is None else out + row * wy[i]
    return out
