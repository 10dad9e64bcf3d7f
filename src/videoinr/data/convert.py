"""Pixel conversions between uint8 RGB frames and float tensors, in one place.

Frames are uint8 numpy arrays (..., H, W, 3), RGB; tensors are float (..., 3, H, W) in [0, 1].

- ``to_float``: uint8 -> float32 / 255 (exact division, the same bits on every path that used it).
- ``to_uint8``: clamp to [0, 1], * 255, round half to even (torch.round), cast. Inputs keep their dtype (a
  bf16 tensor is scaled in bf16, as before); callers that want float32 numerics pass ``x.float()``.
- ``lr_uint8``: the evaluation / training-data degradation of a uint8 frame: MATLAB bicubic ``degrade``
  (which already clamps and quantises to 8 bits after each axis pass), back to uint8.

Not here, on purpose: ``baselines._to_uint8`` works on the 0-255 scale in numpy (np.rint + clip of a
float image) and is used only there.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from videoinr.data.imresize import degrade

__all__ = ["to_float", "to_uint8", "lr_uint8"]


def to_float(frames: np.ndarray, device: torch.device | str | None = None) -> Tensor:
    """uint8 (..., H, W, 3) RGB -> float32 (..., 3, H, W) in [0, 1] (moved to `device` first, if given)."""
    x = torch.from_numpy(np.ascontiguousarray(frames))
    if device is not None:
        x = x.to(device)
    return x.movedim(-1, -3).float().div_(255)


def to_uint8(x: Tensor) -> np.ndarray:
    """Float (..., 3, H, W) in [0, 1] -> uint8 (..., H, W, 3) RGB on the CPU: clamped, rounded (half to even)."""
    return x.clamp(0, 1).mul(255).round_().to(torch.uint8).movedim(-3, -1).cpu().numpy()


def lr_uint8(hr: np.ndarray, scale: float) -> np.ndarray:
    """The low-resolution uint8 (h, w, 3) of a uint8 (H, W, 3) RGB frame: MATLAB-bicubic ``degrade`` by
    `scale` (h, w = ``lr_size``), quantised to 8 bits like MATLAB on uint8 images. C-contiguous."""
    y = degrade(to_float(hr), scale)  # clamped and quantised to k / 255 inside: the cast below is exact
    return np.ascontiguousarray(y.mul_(255.0).round_().to(torch.uint8).movedim(0, -1).numpy())
