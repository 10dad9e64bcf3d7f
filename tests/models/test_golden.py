"""Golden numbers of the shipped weights: a fixed Vid4 crop through the evaluation's own path (MATLAB
bicubic degradation, encode, render, uint8, Y-PSNR), pinned to 0.01 dB. A change to the model code, the
weights, the degradation or the metric that moves quality shows here. Float32, eager (policy off)."""
import numpy as np
import pytest

from videoinr.baselines import get_method
from videoinr.data.frames import read_image
from videoinr.evaluate import make_lr
from videoinr.metrics import psnr
from videoinr.runtime import Policy

# (model, sequence, crop (y, x, h, w) in HR pixels) -> Y-PSNR (dB) at t = 0 (input frame 0) and t = 0.5
# (frame 1, interpolated between frames 0 and 2), x4 space. Measured with the weights shipped in this commit.
GOLDEN = {
    ("lite", "calendar", (200, 280, 128, 128)): (21.5063, 21.5271),
    ("lite", "walk", (160, 240, 128, 128)): (22.6171, 22.5727),
}


@pytest.mark.parametrize("key", sorted(GOLDEN), ids=lambda k: f"{k[0]}-{k[1]}")
def test_shipped_weights_on_a_vid4_crop(shared_data, key):
    name, seq, (y, x, h, w) = key
    frames = [read_image(shared_data / "vid4" / seq / f"{i:03d}.png")[y : y + h, x : x + w] for i in range(3)]
    method = get_method(name)
    Policy().apply(method.model)
    lr0, lr2 = make_lr(frames[0], 4), make_lr(frames[2], 4)
    out0, out1 = method.predict(lr0, lr2, [0.0, 0.5], (h, w))
    got = (psnr(out0, frames[0], "y"), psnr(out1, frames[1], "y"))
    print(f"{key}: {got[0]:.4f} / {got[1]:.4f}")
    want = GOLDEN[key]
    assert np.allclose(got, want, atol=0.01, rtol=0), (got, want)
