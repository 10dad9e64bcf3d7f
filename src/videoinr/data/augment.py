"""Training augmentation applied identically to every frame of a window.

Spatial: random square crop, horizontal flip, rotation by 0/90/180/270 degrees (the paper's set); all on
arrays/tensors whose last three dims are (C, H, W) or, for uint8 frames, (H, W, 3) via ``crop_frames``.
Temporal: reversal, which swaps the two input frames and maps each target time t to 1 - t.
Randomness comes from an explicit ``numpy.random.Generator`` so samples are reproducible.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["random_crop_box", "crop_frames", "flip_rotate", "flip_rotate_flow", "draw_flip_rotate",
           "random_flip_rotate", "temporal_reverse"]


def random_crop_box(height: int, width: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left (y, x) of a uniformly random ``size`` x ``size`` crop inside a (height, width) frame."""
    if size > height or size > width:
        raise ValueError(f"crop {size} larger than frame {width}x{height}")
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))


def crop_frames(frames: np.ndarray, y: int, x: int, size: int) -> np.ndarray:
    """Crop uint8 frames (..., H, W, 3) to (..., size, size, 3) at top-left (y, x) (a view)."""
    return frames[..., y : y + size, x : x + size, :]


def flip_rotate(x: Tensor, hflip: bool, rot90: int) -> Tensor:
    """Horizontal flip (optional) then rotation by ``rot90`` x 90 degrees counter-clockwise, on (..., H, W)."""
    if hflip:
        x = x.flip(-1)
    if rot90 % 4:
        x = torch.rot90(x, rot90 % 4, dims=(-2, -1))
    return x


def flip_rotate_flow(flow: Tensor, hflip: bool, rot90: int) -> Tensor:
    """`flip_rotate` of flow fields (..., 2k, H, W), channels k pairs of (dx, dy) in pixels: the field is moved
    like an image and its vectors turned with it (a flip negates dx; a quarter turn counter-clockwise maps
    (dx, dy) to (dy, -dx)), so warping commutes with the transform."""
    x = flip_rotate(flow, hflip, rot90)
    shape = x.shape
    x = x.reshape(*shape[:-3], shape[-3] // 2, 2, *shape[-2:])
    dx, dy = x[..., 0, :, :], x[..., 1, :, :]
    if hflip:
        dx = -dx
    for _ in range(rot90 % 4):
        dx, dy = dy, -dx
    return torch.stack([dx, dy], -3).reshape(shape)


def draw_flip_rotate(rng: np.random.Generator, flip: bool = True, rotate: bool = True) -> tuple[bool, int]:
    """One random (hflip, quarter turns) draw (8 dihedral choices when both enabled)."""
    hflip = bool(rng.integers(0, 2)) if flip else False
    rot = int(rng.integers(0, 4)) if rotate else 0
    return hflip, rot


def random_flip_rotate(x: Tensor, rng: np.random.Generator, flip: bool = True, rotate: bool = True) -> Tensor:
    """Apply one random flip/rotation (8 dihedral choices when both enabled) to all of ``x`` (..., H, W)."""
    return flip_rotate(x, *draw_flip_rotate(rng, flip, rotate))


def temporal_reverse(inputs: Tensor, times: Tensor) -> tuple[Tensor, Tensor]:
    """Play the window backwards: inputs (2, ...) swapped, target times t -> 1 - t (targets unchanged)."""
    return inputs.flip(0), 1.0 - times
