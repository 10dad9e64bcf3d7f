"""PSNR / SSIM cross-checked against scikit-image on real Vid4 frames."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from videoinr.metrics import psnr, rgb_to_y, ssim

VID4 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "vid4"


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    folder = VID4 / "calendar"
    return _rgb(folder / "000.png"), _rgb(folder / "001.png")


def _sk_ssim(a: np.ndarray, b: np.ndarray, **kw) -> float:
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, **kw
    )


def test_rgb_to_y_bt601() -> None:
    x = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [10, 200, 30]]], dtype=np.uint8)
    y = rgb_to_y(x)
    assert y.dtype == np.float64 and y.shape == (1, 4)
    np.testing.assert_allclose(y[0, :3], [16.0, 235.0, 16 + 65.481], atol=1e-9)
    np.testing.assert_allclose(y[0, 3], (65.481 * 10 + 128.553 * 200 + 24.966 * 30) / 255 + 16, atol=1e-9)


def test_psnr_matches_skimage(pair) -> None:
    a, b = pair
    ref_y = peak_signal_noise_ratio(rgb_to_y(b), rgb_to_y(a), data_range=255)
    assert abs(psnr(a, b) - ref_y) < 1e-4
    ref_rgb = peak_signal_noise_ratio(b.astype(np.float64), a.astype(np.float64), data_range=255)
    assert abs(psnr(a, b, channel="rgb") - ref_rgb) < 1e-4
    assert 10 < psnr(a, b) < 40
    assert psnr(a, a) == math.inf


def test_ssim_matches_skimage(pair) -> None:
    a, b = pair
    ref_y = _sk_ssim(rgb_to_y(a), rgb_to_y(b))
    assert abs(ssim(a, b) - ref_y) < 1e-5
    ref_rgb = _sk_ssim(a.astype(np.float64), b.astype(np.float64), channel_axis=2)
    assert abs(ssim(a, b, channel="rgb") - ref_rgb) < 1e-5
    assert 0 < ssim(a, b) < 1
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_float_input_equals_uint8(pair) -> None:
    a, b = pair
    a, b = a[:64, :80], b[:64, :80]
    assert psnr(a.astype(np.float32), b) == pytest.approx(psnr(a, b), abs=1e-9)
    assert ssim(a.astype(np.float64), b) == pytest.approx(ssim(a, b), abs=1e-12)


def test_bad_shapes(pair) -> None:
    a, b = pair
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(a, b[:-1])
    with pytest.raises(ValueError, match="RGB image"):
        ssim(a[..., 0], b[..., 0])
    with pytest.raises(ValueError, match="channel"):
        psnr(a, b, channel="lab")  # type: ignore[arg-type]


def _texture(h=64, w=80, seed=0):
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, (h, w)).astype(np.float32), (0, 0), 2.0)
    noise = (noise - noise.min()) / (noise.max() - noise.min()) * 200 + 20
    return np.repeat(noise[..., None], 3, -1).astype(np.uint8)


def test_tof_by_hand():
    """tOF = mean |flow(out0, out1) - flow(gt0, gt1)|: 0 for outputs that are the truth; for frozen outputs
    (out1 = out0) of a scene translating by (2, 0) px it is the true motion's length, 2 px."""
    from videoinr.metrics import flow, tof

    big = _texture(64, 84)
    gt0, gt1 = big[:, 2:82], big[:, :80]  # the content moves 2 px to the right
    gt_flow = flow(gt0, gt1)
    inner = gt_flow[8:-8, 8:-8]
    assert np.allclose(np.median(inner[..., 0]), 2.0, atol=0.1) and abs(np.median(inner[..., 1])) < 0.1
    assert tof(gt0, gt1, gt_flow) == 0.0
    frozen = tof(gt0, gt0, gt_flow)
    assert np.abs(flow(gt0, gt0)).max() < 0.1  # no motion between a frame and itself (to Farneback's noise)
    assert frozen == pytest.approx(float(np.sqrt((gt_flow.astype(np.float64) ** 2).sum(-1)).mean()), abs=0.05)
    assert 1.7 < frozen < 2.3


def test_warping_error_scores_flicker_worse_than_a_stable_output():
    from videoinr.metrics import flow, visible, warping_error

    big = _texture(64, 84, seed=1)
    gt0, gt1 = big[:, 2:82], big[:, :80]
    back, fwd = flow(gt1, gt0), flow(gt0, gt1)
    mask = visible(back, fwd)
    assert mask.mean() > 0.8  # a translation hides only the entering border
    stable = warping_error(gt0, gt1, back, mask)
    flicker = warping_error(gt0, np.clip(gt1.astype(int) + 12, 0, 255).astype(np.uint8), back, mask)
    assert stable < 0.5 and flicker > 5 * stable + 1.0, (stable, flicker)
