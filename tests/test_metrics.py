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
