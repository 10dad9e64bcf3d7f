"""Synthetic textures with known content, for the motion diagnosis (scripts/diagnose_motion.py) and tests."""
from __future__ import annotations

import math

import torch
from torch import Tensor


def texture(size: int, sigma: float, seed: int) -> Tensor:
    """A (3, size, size) colour texture in [0, 1]: white noise low-pass filtered by a Gaussian of `sigma`
    (HR pixels), channels mixed (correlated colours), mean 0.5, std ~0.18 per channel. Periodic."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(3, size, size, generator=g, dtype=torch.float64)
    f = torch.fft.fftfreq(size, dtype=torch.float64)
    lp = torch.exp(-2 * math.pi**2 * sigma**2 * (f[:, None] ** 2 + f[None, :] ** 2))
    tex = torch.fft.ifft2(torch.fft.fft2(noise) * lp).real
    mix = torch.tensor([[1.0, 0.3, 0.1], [0.6, 0.8, 0.2], [0.4, 0.2, 0.9]], dtype=torch.float64)
    tex = torch.einsum("ij,jhw->ihw", mix, tex)
    tex = (tex - tex.mean((1, 2), keepdim=True)) / tex.std(dim=(1, 2), keepdim=True)
    return (0.5 + 0.18 * tex).clamp(0, 1).float()
