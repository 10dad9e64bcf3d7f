"""Image quality metrics of the STVSR literature: PSNR and SSIM on the BT.601 Y channel (or RGB).

Inputs are RGB images as numpy arrays (H, W, 3) on the 0-255 scale, normally ``uint8`` (evaluation quantises
predictions to 8 bits first, as the field does); float arrays on 0-255 are accepted too. All arithmetic is
float64. No border is cropped.
"""
from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np

__all__ = ["rgb_to_y", "psnr", "ssim", "gaussian_window", "flow", "tof", "visible", "warping_error"]

Channel = Literal["y", "rgb"]

_Y_COEFFS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0


def rgb_to_y(x: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image (H, W, 3) on 0-255: Y = (65.481 R + 128.553 G + 24.966 B)/255 + 16.

    Returns float64 (H, W) in [16, 235], not rounded (as BasicSR's ``bgr2ycbcr(y_only=True)``).
    """
    x = _as_rgb(x, "x")
    return x @ _Y_COEFFS + 16.0


def _as_rgb(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ValueError(f"{name}: expected an RGB image (H, W, 3), got shape {x.shape}")
    return x.astype(np.float64, copy=False)


def _prepare(pred: np.ndarray, gt: np.ndarray, channel: Channel) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 (C, H, W) in the chosen channel space (C = 1 for 'y', 3 for 'rgb')."""
    p, g = _as_rgb(pred, "pred"), _as_rgb(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt differ in shape: {p.shape} vs {g.shape}")
    if channel == "y":
        return (p @ _Y_COEFFS + 16.0)[None], (g @ _Y_COEFFS + 16.0)[None]
    if channel == "rgb":
        return p.transpose(2, 0, 1), g.transpose(2, 0, 1)
    raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")


def psnr(pred: np.ndarray, gt: np.ndarray, channel: Channel = "y") -> float:
    """PSNR in dB between two RGB images (H, W, 3) on 0-255 (peak 255), on Y (default) or all RGB values.

    Identical images give ``inf``.
    """
    p, g = _prepare(pred, gt, channel)
    mse = float(np.mean((p - g) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Normalised 1-D Gaussian taps (size,), float64 (MATLAB's ``fspecial('gaussian')`` is its outer product)."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(r**2) / (2.0 * sigma**2))
    return g / g.sum()


def ssim(
    pred: np.ndarray,
    gt: np.ndarray,
    channel: Channel = "y",
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_range: float = 255.0,
) -> float:
    """Mean SSIM (Wang et al. 2004) between two RGB images (H, W, 3) on 0-255.

    Standard form: 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, L = 255, population
    (co)variances, mean over the 'valid' window positions (no padding), float64 (OpenCV separable filter).
    With ``channel='rgb'`` the three channels' SSIMs are averaged. Images must be >= ``win_size`` per side.
    """
    p, g = _prepare(pred, gt, channel)
    if min(p.shape[1:]) < win_size:
        raise ValueError(f"ssim: images must be at least {win_size}x{win_size}, got {p.shape[1:]}")
    taps = gaussian_window(win_size, sigma)
    r = win_size // 2

    def blur(a: np.ndarray) -> np.ndarray:  # (H, W) -> valid-filtered (H - 2r, W - 2r), float64
        return cv2.sepFilter2D(a, cv2.CV_64F, taps, taps, borderType=cv2.BORDER_REFLECT)[r:-r, r:-r]

    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    values = []
    for x, y in zip(p, g):
        x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x * mu_x
        var_y = blur(y * y) - mu_y * mu_y
        cov = blur(x * y) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
        )
        values.append(float(ssim_map.mean()))
    return float(np.mean(values))


# ------------------------------------------------------------------ temporal stability
# Farneback optical flow (OpenCV, no learned weights) on the luma of two frames, with fixed parameters:
# pyramid scale 0.5, 3 levels, window 15, 3 iterations, polynomial of 5 pixels, sigma 1.2.
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


def _luma_u8(x: np.ndarray) -> np.ndarray:
    """(H, W) uint8 BT.601 luma of an RGB image (H, W, 3) on 0-255 (flows are computed on it)."""
    return np.clip(np.round(rgb_to_y(_as_rgb(x, "frame"))), 0, 255).astype(np.uint8)


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) float32 in pixels, (dx, dy), with a(p) ~ b(p + flow(p)): Farneback on the luma of
    RGB frames a, b (H, W, 3)."""
    return cv2.calcOpticalFlowFarneback(_luma_u8(a), _luma_u8(b), None, *FARNEBACK)


def tof(pred0: np.ndarray, pred1: np.ndarray, gt_flow: np.ndarray) -> float:
    """TecoGAN's tOF of one pair of consecutive outputs: the mean over pixels of the length (pixels) of
    flow(pred0, pred1) - gt_flow, where gt_flow = flow(gt0, gt1). 0 when the outputs move as the truth does."""
    d = flow(pred0, pred1) - gt_flow
    return float(np.sqrt((d.astype(np.float64) ** 2).sum(-1)).mean())


def _warp(img: np.ndarray, f: np.ndarray) -> np.ndarray:
    """img (H, W[, C]) sampled at p + f(p) (bilinear, border)."""
    h, w = f.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + f[..., 0], gy + f[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def visible(back: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    """Pixels (H, W) bool of frame 1 that frame 0 also shows, from back = flow(gt1, gt0) and fwd = flow(gt0,
    gt1): forward-backward consistency |b + f(p + b)|^2 < 0.01 (|b|^2 + |f(p + b)|^2) + 0.5 (Sundaram et al.)."""
    fw = _warp(fwd, back)
    err = ((back + fw) ** 2).sum(-1)
    return err < 0.01 * ((back ** 2).sum(-1) + (fw ** 2).sum(-1)) + 0.5


def warping_error(pred0: np.ndarray, pred1: np.ndarray, back: np.ndarray, mask: np.ndarray) -> float:
    """Warping error of one pair of consecutive outputs: the mean over the visible pixels `mask` (H, W) of
    (Y(pred1) - Y(pred0) warped by back = flow(gt1, gt0))^2, Y in [0, 1], times 1000. Flicker raises it."""
    y0 = rgb_to_y(_as_rgb(pred0, "frame")).astype(np.float32) / 255.0
    y1 = rgb_to_y(_as_rgb(pred1, "frame")) / 255.0
    d = (y1 - _warp(y0, back)) ** 2
    return float(1000.0 * d[mask].mean()) if mask.any() else math.nan
