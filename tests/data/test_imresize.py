import math

import cv2
import numpy as np
import pytest
import torch

from videoinr.data.imresize import cubic, degrade, imresize, lr_size


# ---- slow, obviously correct reference: loop transcription of MATLAB's contributions() + imresizemex ----
def _ref_cubic(x: float) -> float:
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax**3 - 2.5 * ax**2 + 1
    if ax <= 2:
        return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return 0.0


def _ref_contributions(in_len, out_len, scale, antialias=True):
    kw = 4.0
    aa = scale < 1 and antialias
    if aa:
        kw = kw / scale
    rows = []
    for x in range(1, out_len + 1):  # MATLAB 1-based
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - kw / 2)
        taps = []
        for j in range(math.ceil(kw) + 2):
            i = left + j
            wgt = scale * _ref_cubic(scale * (u - i)) if aa else _ref_cubic(u - i)
            # symmetric padding: aux = [1:L, L:-1:1], aux(mod(i-1, 2L) + 1)
            aux = list(range(1, in_len + 1)) + list(range(in_len, 0, -1))
            taps.append((aux[(i - 1) % (2 * in_len)] - 1, wgt))
        total = sum(w for _, w in taps)
        rows.append([(i, w / total) for i, w in taps])
    return rows


def _ref_resize_dim(img, dim, out_len, scale, antialias=True):
    img = np.moveaxis(img, dim, 0)
    rows = _ref_contributions(img.shape[0], out_len, scale, antialias)
    out = np.zeros((out_len,) + img.shape[1:], dtype=np.float64)
    for o, taps in enumerate(rows):
        for i, w in taps:
            out[o] += w * img[i]
    return np.moveaxis(out, 0, dim)


def _ref_imresize(img, scale=None, size=None, antialias=True):
    """img: (H, W, C) float64. MATLAB order: dimension with the smaller scale first."""
    h, w = img.shape[:2]
    if size is not None:
        (oh, ow), (sh, sw) = size, (size[0] / h, size[1] / w)
    else:
        sh = sw = scale
        oh, ow = math.ceil(h * scale), math.ceil(w * scale)
    order = [(0, oh, sh), (1, ow, sw)]
    if sw < sh:
        order.reverse()
    for d, n, s in order:
        img = _ref_resize_dim(img, d, n, s, antialias)
    return img


def _to_t(a):  # (H, W, C) -> (C, H, W)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


@pytest.fixture(scope="module")
def frame(shared_data):
    img = cv2.imread(str(shared_data / "vid4" / "calendar" / "000.png"), cv2.IMREAD_COLOR)
    return img[..., ::-1].astype(np.float64) / 255.0  # (576, 720, 3) RGB


def test_kernel_known_weights():
    np.testing.assert_allclose(cubic([0.0, 1.0, 0.5, 1.5, 2.0, 2.5, -0.5, -1.5]),
                               [1.0, 0.0, 0.5625, -0.0625, 0.0, 0.0, 0.5625, -0.0625], atol=0)
    # Partition of unity for integer-spaced taps (a = -0.5 property).
    for f in [0.0, 0.1, 0.37, 0.5, 0.9]:
        assert abs(cubic(np.arange(-3, 4) + f).sum() - 1.0) < 1e-12


@pytest.mark.parametrize("scale,size_in,size_out", [
    (0.25, (576, 720), (144, 180)),
    (1 / 3, (30, 31), (10, 11)),
    (2.7, (10, 17), (27, 46)),
    (2.0, (7, 9), (14, 18)),
    (1 / 2.7, (64, 50), (24, 19)),
])
def test_output_sizes(scale, size_in, size_out):
    x = torch.rand(2, 3, *size_in)
    assert imresize(x, scale=scale).shape == (2, 3, *size_out)


def test_exact_size_and_leading_dims():
    x = torch.rand(2, 4, 3, 20, 33)
    assert imresize(x, size=(7, 12)).shape == (2, 4, 3, 7, 12)
    assert imresize(x[0, 0, 0], size=(50, 3)).shape == (50, 3)


@pytest.mark.parametrize("kw", [dict(scale=0.25), dict(scale=2.7), dict(size=(13, 40)), dict(scale=1 / 3.3)])
def test_constant_stays_constant(kw):
    x = torch.full((3, 37, 29), 0.3721)
    y = imresize(x, **kw)
    assert torch.allclose(y, torch.full_like(y, 0.3721), atol=1e-6)


def test_downscale_x4_matches_reference(frame):
    crop = frame[100:164, 200:252]  # 64x52 patch of a real frame
    ref = _ref_imresize(crop, scale=0.25)
    out = imresize(_to_t(crop).float(), scale=0.25).numpy().transpose(1, 2, 0)
    assert out.shape == ref.shape == (16, 13, 3)
    assert np.abs(out - ref).max() < 1e-5


@pytest.mark.parametrize("kw", [dict(scale=1 / 2.7), dict(size=(11, 23)), dict(scale=0.25, antialias=False)])
def test_noninteger_and_size_match_reference(frame, kw):
    crop = frame[300:340, 400:457]
    ref = _ref_imresize(crop, **kw)
    out = imresize(_to_t(crop).float(), **kw).numpy().transpose(1, 2, 0)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() < 1e-5


def test_upscale_x2_and_2p7_match_float64_reference(frame):
    crop = frame[10:26, 30:50]
    for s in (2.0, 2.7):
        ref = _ref_imresize(crop, scale=s)
        out = imresize(_to_t(crop), scale=s).numpy().transpose(1, 2, 0)  # float64 path
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() < 1e-12


def test_not_clamped():
    x = torch.zeros(1, 8, 8)
    x[:, :, 4:] = 1.0
    y = imresize(x, scale=2.0)
    assert y.min() < 0 and y.max() > 1  # bicubic overshoot is kept; clamping is the caller's business


def test_degrade_matches_matlab_uint8_path(frame):
    crop = frame[:48, :40]
    hr = _to_t(crop).float()
    lr = degrade(hr, 4)
    assert lr.shape == (3, 12, 10) and lr_size((48, 40), 4) == (12, 10)
    # MATLAB on uint8: each axis pass rounds to uint8.
    a = np.clip(np.round(_ref_resize_dim(crop, 0, 12, 0.25) * 255), 0, 255) / 255
    a = np.clip(np.round(_ref_resize_dim(a, 1, 10, 0.25) * 255), 0, 255) / 255
    assert np.abs(lr.numpy().transpose(1, 2, 0) - a).max() < 1e-6
    assert degrade(hr, 2.7).shape == (3, 18, 15)


def test_720p_down_x4_is_local():
    """A whole 720p frame at x4 down (the size training and evaluation use; speed: benchmarks/): output
    pixels away from the borders depend only on nearby input pixels (kernel support 16 px), so they equal
    those of the same region cut out first."""
    torch.manual_seed(0)
    x = torch.rand(3, 720, 1280)
    y = imresize(x, scale=0.25)
    assert y.shape == (3, 180, 320)
    part = imresize(x[:, 160:320, 480:640], scale=0.25)  # output rows 40..79, cols 120..159
    torch.testing.assert_close(y[:, 50:70, 130:150], part[:, 10:30, 10:30], atol=1e-6, rtol=0)
    assert not torch.allclose(y[:, 40:42, 120:122], part[:, :2, :2], atol=1e-3)  # borders do differ


def test_interior_matches_pillow_bicubic(frame):
    """Independent implementation: Pillow's float BICUBIC is also Keys a=-0.5 with the kernel widened when
    reducing; it truncates (not mirrors) at borders, so only the interior is compared."""
    from PIL import Image

    g = frame[:96, :120, 1].astype(np.float32)
    for oh, ow in [(24, 30), (192, 240), (36, 44)]:
        pil = np.asarray(Image.fromarray(g, mode="F").resize((ow, oh), Image.BICUBIC))
        ours = imresize(torch.from_numpy(g), size=(oh, ow)).numpy()
        m = 6
        assert np.abs(pil - ours)[m:-m, m:-m].max() < 1e-5


def test_gather_path_matches_sparse_path():
    """CPU float uses a sparse matmul; autograd / other devices / half types use per-tap gathers."""
    x = torch.rand(2, 3, 23, 31, dtype=torch.float64)
    for kw in (dict(scale=0.25), dict(scale=2.7), dict(size=(9, 40))):
        a = imresize(x, **kw)
        b = imresize(x.clone().requires_grad_(), **kw)
        assert b.requires_grad and torch.allclose(a, b.detach(), atol=1e-12)
    assert imresize(x.bfloat16(), scale=0.5).dtype == torch.bfloat16
