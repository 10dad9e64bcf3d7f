"""Classical two-stage baselines and the model wrapper, on small crops of real Vid4 frames."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from videoinr.baselines import (
    BicubicBlend,
    BicubicRepeat,
    FlowBicubic,
    ModelMethod,
    bicubic_upscale,
    dis_flow,
    get_method,
)
from videoinr.data.frames import read_image
from videoinr.data.imresize import degrade, imresize
from videoinr.errors import VideoINRError
from videoinr.metrics import psnr


def _lr(hr: np.ndarray, scale: int = 4) -> np.ndarray:
    x = torch.from_numpy(hr).permute(2, 0, 1).float() / 255.0
    return (degrade(x, scale) * 255).round().byte().permute(1, 2, 0).numpy()


@pytest.fixture(scope="module")
def walk(shared_data) -> list[np.ndarray]:
    """Frames 10..12 of Vid4 walk, uint8 RGB (480, 720, 3)."""
    return [read_image(shared_data / "vid4" / "walk" / f"{i:03d}.png") for i in (10, 11, 12)]


@pytest.fixture(scope="module")
def small(walk) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """64x64 HR crops of three consecutive frames and their x4 LR versions (16x16)."""
    hr = [f[200:264, 300:364].copy() for f in walk]
    return hr, [_lr(h) for h in hr]


def test_bicubic_upscale_is_matlab_imresize(small) -> None:
    _, lr = small
    up = bicubic_upscale(lr[0], (64, 64))
    ref = imresize(torch.from_numpy(lr[0]).permute(2, 0, 1).double(), size=(64, 64))
    ref = ref.round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
    assert up.dtype == np.uint8 and up.shape == (64, 64, 3)
    assert np.abs(up.astype(int) - ref.astype(int)).max() <= 1  # float32 vs float64 rounding ties


@pytest.mark.parametrize("cls", [BicubicRepeat, BicubicBlend, FlowBicubic])
def test_baselines_interface_and_endpoints(cls, small) -> None:
    hr, lr = small
    method = cls()
    out = method.predict(lr[0], lr[2], [0.0, 0.25, 0.5, 1.0], (64, 64))
    assert len(out) == 4 and all(o.shape == (64, 64, 3) and o.dtype == np.uint8 for o in out)
    np.testing.assert_array_equal(out[0], bicubic_upscale(lr[0], (64, 64)))
    np.testing.assert_array_equal(out[3], bicubic_upscale(lr[2], (64, 64)))
    assert psnr(out[2], hr[1]) > 18  # a real frame comes out
    assert method.name in ("bicubic-repeat", "bicubic-blend", "flow-bicubic") and method.label


def test_repeat_and_blend_semantics(small) -> None:
    _, lr = small
    up0, up1 = bicubic_upscale(lr[0], (64, 64)), bicubic_upscale(lr[2], (64, 64))
    rep = BicubicRepeat().predict(lr[0], lr[2], [0.25, 0.5, 0.75], (64, 64))
    np.testing.assert_array_equal(rep[0], up0)
    np.testing.assert_array_equal(rep[1], up0)  # tie goes to the earlier frame
    np.testing.assert_array_equal(rep[2], up1)
    mid = BicubicBlend().predict(lr[0], lr[2], [0.5], (64, 64))[0]
    np.testing.assert_array_equal(mid, bicubic_upscale((lr[0].astype(np.float32) + lr[2]) / 2, (64, 64)))


def test_flow_beats_blend_on_known_motion(walk) -> None:
    """A real frame shifted 8 HR px (2 LR px) per step: the flow midpoint is far better than blending."""
    d, y0, x0, n = 8, 160, 240, 192
    frame = walk[0]
    hr = [frame[y0 : y0 + n, x0 + k * d : x0 + k * d + n].copy() for k in range(3)]
    lr = [_lr(h) for h in hr]
    flow = dis_flow(lr[0], lr[2])  # content moves left by 4 LR px: src(p) = dst(p - 4)
    inner = flow[8:-8, 8:-8]
    assert abs(float(np.median(inner[..., 0])) + 2 * d / 4) < 0.25
    assert abs(float(np.median(inner[..., 1]))) < 0.25
    flow_mid = FlowBicubic().predict(lr[0], lr[2], [0.5], (n, n))[0]
    blend_mid = BicubicBlend().predict(lr[0], lr[2], [0.5], (n, n))[0]
    p_flow, p_blend = psnr(flow_mid, hr[1]), psnr(blend_mid, hr[1])
    assert p_flow > p_blend + 2.0, (p_flow, p_blend)
    # Close to bicubic of the true middle frame's LR (the best a two-stage method can do).
    assert p_flow > psnr(bicubic_upscale(lr[1], (n, n)), hr[1]) - 1.5


def test_get_method_names_and_errors(tmp_path) -> None:
    assert isinstance(get_method("flow-bicubic"), FlowBicubic)
    assert isinstance(get_method(" bicubic-blend "), BicubicBlend)
    with pytest.raises(VideoINRError, match="unknown method 'sloMo'"):
        get_method("sloMo")
    with pytest.raises(VideoINRError, match="no such weights file"):
        get_method(str(tmp_path / "missing.safetensors"))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8).tobytes())
    with pytest.raises(VideoINRError, match="junk.safetensors"):
        get_method(str(junk))


def test_model_method_random_lite(small) -> None:
    _, lr = small
    torch.manual_seed(0)
    method = ModelMethod("lite", "cpu", pretrained=False)
    out = method.predict(lr[0][:12, :12], lr[2][:12, :12], [0.0, 0.5], (48, 48))
    assert len(out) == 2 and all(o.shape == (48, 48, 3) and o.dtype == np.uint8 for o in out)
    assert method.label == "VideoINR-lite"
