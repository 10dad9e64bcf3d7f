"""MATLAB-compatible bicubic ``imresize`` for torch tensors, and the LR degradation built on it.

Transcribes MATLAB's ``imresize`` (method ``'bicubic'``): the Keys cubic kernel with a = -0.5, support
widened by ``1/scale`` when downscaling (antialiasing), source coordinate ``u = x/scale + 0.5*(1 - 1/scale)``
(1-based), symmetric (mirror, edge repeated) boundary handling and weights normalised to sum 1 per output
pixel. Each axis is resized separately as a banded (sparse CSR) matrix product on CPU, or a gather +
weighted sum over the kernel taps elsewhere (CUDA, bf16/fp16, autograd): cost O(output pixels x taps).

Outputs are *not* clamped or rounded: bicubic overshoots [0, 1] near edges; that is the caller's business
(``degrade`` does it like MATLAB does for uint8 images).
"""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["cubic", "imresize", "degrade", "lr_size", "resize_weights"]


def cubic(x: np.ndarray | float) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``), elementwise, float64."""
    absx = np.abs(np.asarray(x, dtype=np.float64))
    absx2 = absx * absx
    absx3 = absx2 * absx
    return (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1) + (
        -0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0
    ) * ((absx > 1) & (absx <= 2))


def resize_weights(
    in_length: int, out_length: int, scale: float, antialias: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``contributions()``: taps of a 1-D bicubic resize.

    Returns ``(weights, indices)``, both (out_length, P) with P = ceil(kernel width) + 2; ``indices`` are
    0-based input indices after symmetric boundary mirroring, ``weights`` (float64) sum to 1 per row.
    """
    kernel_width = 4.0
    if scale < 1 and antialias:
        kernel_width /= scale
        kernel = lambda v: scale * cubic(scale * v)  # noqa: E731
    else:
        kernel = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based, may be out of range
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric padding: aux = [1..L, L..1] indexed cyclically (MATLAB), here 0-based.
    idx = (indices.astype(np.int64) - 1) % (2 * in_length)
    idx = np.where(idx >= in_length, 2 * in_length - 1 - idx, idx)
    # Drop tap columns that are zero for every output (MATLAB's "kill"); purely a speed-up.
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], idx[:, keep]


@functools.lru_cache(maxsize=64)
def _csr_weights(in_length: int, out_length: int, scale: float, antialias: bool, dtype: torch.dtype) -> Tensor:
    """The 1-D resize as a sparse CSR (out_length, in_length) matrix (mirrored taps summed), CPU."""
    weights, indices = resize_weights(in_length, out_length, scale, antialias)
    rows = np.repeat(np.arange(out_length), weights.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch flags sparse CSR as beta
        coo = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([rows, indices.ravel()])),
            torch.from_numpy(weights.ravel()).to(dtype),
            (out_length, in_length),
            check_invariants=False,
        ).coalesce()
        return coo.to_sparse_csr()


def _resize_axis(x: Tensor, dim: int, out_length: int, scale: float, antialias: bool) -> Tensor:
    """Resize ``x`` along ``dim`` (-1 or -2) to ``out_length`` with kernel scale ``scale``."""
    in_length = x.shape[dim]
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and not x.requires_grad:
        # Sparse (banded) matmul: one pass over memory instead of one gather per tap (docs/MEASUREMENTS.md).
        m = _csr_weights(in_length, out_length, float(scale), bool(antialias), x.dtype)
        moved = x.movedim(dim, 0)
        rest = moved.shape[1:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = m @ moved.reshape(in_length, -1)
        return out.reshape(out_length, *rest).movedim(0, dim)
    weights, indices = resize_weights(in_length, out_length, scale, antialias)
    w = torch.from_numpy(weights).to(device=x.device, dtype=x.dtype)
    idx = torch.from_numpy(indices).to(device=x.device)
    out = None
    for p in range(idx.shape[1]):
        taken = x.index_select(dim, idx[:, p])
        wp = w[:, p] if dim == -1 else w[:, p, None]
        out = taken * wp if out is None else out + taken * wp
    return out


def _out_sizes(
    h: int, w: int, scale: float | Sequence[float] | None, size: Sequence[int] | None
) -> tuple[tuple[int, int], tuple[float, float]]:
    if (scale is None) == (size is None):
        raise ValueError("imresize: give exactly one of scale and size")
    if size is not None:
        oh, ow = (int(s) for s in size)
        if oh < 1 or ow < 1:
            raise ValueError(f"imresize: output size must be positive, got {tuple(size)}")
        return (oh, ow), (oh / h, ow / w)
    sh, sw = (float(scale), float(scale)) if np.isscalar(scale) else (float(s) for s in scale)  # type: ignore[arg-type]
    if not (sh > 0 and sw > 0 and math.isfinite(sh) and math.isfinite(sw)):
        raise ValueError(f"imresize: scale must be positive and finite, got {scale}")
    # MATLAB: ceil(in * scale). A tiny tolerance keeps float noise (10 * 2.7 = 27.000000000000004) from
    # adding a pixel; otherwise identical.
    oh = max(1, math.ceil(h * sh - 1e-9 * h * sh))
    ow = max(1, math.ceil(w * sw - 1e-9 * w * sw))
    return (oh, ow), (sh, sw)


def imresize(
    x: Tensor,
    scale: float | tuple[float, float] | None = None,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> Tensor:
    """MATLAB-compatible bicubic resize of a float tensor (..., C, H, W) (any leading dims).

    ``scale``: factor (or (sh, sw)); output is (ceil(H*sh), ceil(W*sw)) as in MATLAB. ``size``: exact
    (H_out, W_out); the kernel scale per axis is then H_out/H, W_out/W (as MATLAB). ``antialias``:
    widen the kernel when downscaling (MATLAB's default). Output keeps dtype/device; not clamped.
    """
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError("imresize: expects a floating-point torch tensor (..., C, H, W)")
    if x.dim() < 2:
        raise ValueError(f"imresize: expects (..., H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2], x.shape[-1]
    (oh, ow), (sh, sw) = _out_sizes(h, w, scale, size)
    # MATLAB resizes the axis with the smaller scale first (rows first on a tie): fewer operations.
    order = [(-2, oh, sh), (-1, ow, sw)]
    if sw < sh:
        order.reverse()
    out = x
    for dim, n, s in order:
        if out.shape[dim] == n and s == 1.0:
            continue
        out = _resize_axis(out, dim, n, s, antialias)
    return out.clone() if out is x else out.contiguous()


def lr_size(hr_size: tuple[int, int], scale: float) -> tuple[int, int]:
    """Low-resolution size (h, w) for an HR frame (H, W) downscaled by ``scale`` >= 1: round(H/scale)."""
    return max(1, round(hr_size[0] / scale)), max(1, round(hr_size[1] / scale))


def degrade(hr: Tensor, scale: float, quantize: bool = True) -> Tensor:
    """Make the low-resolution input from HR frames (..., 3, H, W) in [0, 1], shared by train and eval.

    Bicubic ``imresize`` (antialiased) to ``lr_size((H, W), scale)``; for sizes divisible by ``scale`` this
    is exactly MATLAB's ``imresize(img, 1/scale)``. With ``quantize`` the result is clamped to [0, 1] and
    rounded to 8 bits after each axis pass, as MATLAB does for uint8 images (the field's LR PNGs).
    """
    if not scale >= 1:
        raise ValueError(f"degrade: scale must be >= 1, got {scale}")
    h, w = hr.shape[-2], hr.shape[-1]
    oh, ow = lr_size((h, w), scale)
    if not quantize:
        return imresize(hr, size=(oh, ow))
    out = hr
    order = [(-2, oh, oh / h), (-1, ow, ow / w)]
    if ow / w < oh / h:
        order.reverse()
    for dim, n, s in order:
        out = _resize_axis(out, dim, n, s, True)
        out = out.clamp(0.0, 1.0).mul_(255.0).round_().div_(255.0)
    return out.contiguous()
