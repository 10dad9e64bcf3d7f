"""The fast renderer (`State.render` / `State.query`, models/render.py) computes the reference model's
function (`VideoINR.reference_render` / `reference_query`, models/videoinr.py): float32, both conventions,
x4 and a non-integer scale, times inside and at the ends, regions, chunks, and frames that need padding."""
from __future__ import annotations

import pytest
import torch

from videoinr.errors import VideoINRError
from videoinr.models import CONFIGS, ModelConfig, VideoINR, make_grid

TIMES = [0.0, 0.3, 0.7, 1.0]
SIZES = [(36, 48), (24, 32)]  # x4 and x8/3 of a 9x12 pair (padded to 12x12 for `official`: 48 and 32 px)
TINY = {"nf": 8, "groups": 2, "front_blocks": 1, "back_blocks": 1, "hr_dim": 8, "spatial_hidden": (16, 16),
        "temporal_hidden": (16, 16), "decoder_hidden": (16, 16)}
MODELS = {  # conventions, and the config switches that change the decoding
    "lite": {**CONFIGS["lite"].to_dict(), **TINY},  # videoinr, t-independent h, DIS prior, rgb skip
    "paper-videoinr": {**TINY, "convlstm": True},  # videoinr, h depends on t
    "official": {**TINY, "convlstm": True, "conventions": "official"},
}


@pytest.fixture(scope="module", params=sorted(MODELS))
def encoded(request):
    torch.manual_seed(0)
    model = VideoINR(ModelConfig.from_dict(MODELS[request.param])).eval()
    official = request.param == "official"
    with torch.no_grad():  # flows of a few pixels, so that warping and the box of the HR maps matter
        out = model.inr.temporal.out
        out.weight.mul_(20.0)
        out.bias.copy_(torch.tensor([2.5, -1.5, -2.0, 1.0]) * (4 if official else 1))
        if not model.cfg.rgb_skip:  # outputs that vary inside (0, 1): the clamp of `videoinr` renders hides nothing
            rgb = model.inr.decoder.out
            rgb.weight.mul_(3.0)
            rgb.bias[:3] = 0.5
    g = torch.Generator().manual_seed(1)
    f0 = torch.rand(1, 3, 9, 12, generator=g)
    f1 = torch.roll(f0, (1, 2), (2, 3)) * 0.9 + 0.05
    with torch.no_grad():
        return request.param, model, model.encode(f0, f1)


@pytest.mark.parametrize("size", SIZES, ids=["x4", "x8/3"])
def test_render_equals_reference_render(encoded, size):
    name, model, state = encoded
    with torch.no_grad():
        fast = state.render(size, TIMES)
        ref = model.reference_render(state, size, TIMES)
    assert fast.shape == ref.shape == (1, len(TIMES), 3, *size)
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-5)
    inside = ((ref > 0) & (ref < 1)).float().mean()
    assert inside > 0.9 and ref.std() > 0.03, (inside, ref.std())  # a real comparison, not of clamped constants


def test_regions_and_chunks_equal_the_full_frame(encoded):
    name, model, state = encoded
    size, region = (36, 48), (5, 20, 17, 9)  # a window near the bottom edge: warped points leave it
    with torch.no_grad():
        full = state.render(size, TIMES)
        part = state.render(size, TIMES, region=region)
        model.max_query_points = 401  # several chunks (1728 pixels, up to 4 times each)
        try:
            chunked = state.render(size, TIMES)
            part_chunked = state.render(size, TIMES, region=region)
        finally:
            model.max_query_points = 1 << 16
    crop = full[..., 20:29, 5:22]
    for got in (part, part_chunked):
        torch.testing.assert_close(got, crop, rtol=0, atol=1e-5)
    torch.testing.assert_close(chunked, full, rtol=0, atol=1e-5)


def test_query_equals_reference_query(encoded):
    name, model, state = encoded
    g = torch.Generator().manual_seed(2)
    coords = torch.rand(1, 300, 2, generator=g) * 2 - 1
    t = torch.rand(1, 300, generator=g).round(decimals=1)  # a few distinct times
    size = (36, 48) if name == "official" else None
    with torch.no_grad():
        fast = state.query(coords, t, size=size)
        ref = model.reference_query(state, coords, t, size=size)
    torch.testing.assert_close(fast, ref, rtol=0, atol=1e-5)


def test_exact_render_is_the_per_point_form(encoded):
    """videoinr: render(exact=True) evaluates SpatialINR at every warped point, as reference_query does."""
    name, model, state = encoded
    size = (24, 32)
    if name == "official":  # decoded by the released code's frame form only
        with pytest.raises(VideoINRError, match="exact=True"):
            state.render(size, [0.3], exact=True)
        return
    with torch.no_grad():
        exact = state.render(size, [0.3], exact=True)[0, 0]
        ref = model.reference_query(state, make_grid(size)[None], 0.3).clamp(0, 1)
    torch.testing.assert_close(exact, ref[0].T.reshape(3, *size), rtol=0, atol=1e-5)
