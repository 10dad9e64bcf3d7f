"""The classical-flow prior (`flow_prior` configs): DIS flows computed once in encode, used identically by
query, exact and frame-form renders, regions and chunks."""
import dataclasses

import numpy as np
import pytest
import torch

from videoinr.data.frames import read_image
from videoinr.data.imresize import degrade
from videoinr.models import CONFIGS, VideoINR, make_grid
from videoinr.models.prior import pair_flows, prior_at_t
from videoinr.models.sampling import _bilinear


@pytest.fixture(scope="module")
def real_pair(shared_data):
    """A real LR frame and the same frame shifted by (+3, -2) LR pixels (x, y): content moves right/up."""
    img = read_image(shared_data / "vid4" / "calendar" / "000.png")
    hr = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    lr = degrade(hr, 4)[..., 20:84, 20:116]  # 64 x 96 LR
    moved = torch.roll(lr, shifts=(-2, 3), dims=(-2, -1))
    return lr, moved


def test_pair_flows_measure_a_known_shift(real_pair):
    f0, f1 = real_pair
    flows = pair_flows(f0, f1)
    assert flows.shape == (1, 4, 64, 96) and flows.dtype == torch.float32
    inner = flows[0, :, 8:-8, 8:-8].flatten(1).median(1).values  # away from the wrapped borders
    torch.testing.assert_close(inner, torch.tensor([3.0, -2.0, -3.0, 2.0]), atol=0.15, rtol=0)


def test_pair_flows_batch_and_tiny_frames(real_pair):
    f0, f1 = real_pair
    both = pair_flows(torch.cat([f0, f1]), torch.cat([f1, f0]))
    torch.testing.assert_close(both[0], pair_flows(f0, f1)[0])
    torch.testing.assert_close(both[1], pair_flows(f1, f0)[0])
    tiny = pair_flows(torch.rand(1, 3, 1, 5), torch.rand(1, 3, 1, 5))  # DIS needs 12 px: padded for it
    assert tiny.shape == (1, 4, 1, 5) and torch.isfinite(tiny).all()
    small = pair_flows(f0[..., 20:28, 30:38], f1[..., 20:28, 30:38])
    assert small.shape == (1, 4, 8, 8) and torch.isfinite(small).all()


def test_prior_at_t_is_linear_motion():
    f = torch.tensor([[2.0, -1.0, -2.0, 1.0]])  # F_01, F_10
    for t in (0.0, 0.25, 0.5, 1.0):
        out = prior_at_t(f, torch.tensor([t]))
        torch.testing.assert_close(out, torch.tensor([[-2 * t, t, 2 * (1 - t), -(1 - t)]]))


@pytest.fixture(scope="module")
def prior_model():
    torch.manual_seed(0)
    assert CONFIGS["lite"].flow_prior
    return VideoINR(CONFIGS["lite"]).eval()


def test_flows_are_prior_plus_temporal_inr(prior_model, real_pair):
    """With TemporalINR's output layer zeroed the flows are exactly the prior's linear motion; with the
    prior off they are TemporalINR alone; on, their sum."""
    f0, f1 = real_pair
    off = VideoINR(dataclasses.replace(CONFIGS["lite"], flow_prior=False)).eval()
    off.load_state_dict(prior_model.state_dict())
    coords = make_grid((64, 96))[None, ::37]
    t = torch.full(coords.shape[:2], 0.3)
    with torch.no_grad():
        on_state = prior_model.encode(f0, f1)
        prior = _bilinear(on_state.prior, coords, "border")
        torch.testing.assert_close(on_state.flows(coords, t), off.encode(f0, f1).flows(coords, t)
                                   + prior_at_t(prior, t), atol=1e-5, rtol=0)
        zeroed = VideoINR(CONFIGS["lite"]).eval()
        zeroed.load_state_dict(prior_model.state_dict())
        zeroed.inr.temporal.out.weight.zero_()
        zeroed.inr.temporal.out.bias.zero_()
        torch.testing.assert_close(zeroed.encode(f0, f1).flows(coords, t), prior_at_t(prior, t), atol=1e-6, rtol=0)
    # the prior really moves: about (-0.9, +0.6) LR px to frame 0 at t = 0.3 for a (+3, -2) shift
    med = prior_at_t(prior, t)[0].median(0).values
    torch.testing.assert_close(med, torch.tensor([-0.9, 0.6, 2.1, -1.4]), atol=0.1, rtol=0)


def test_given_flows_equal_computed_ones(prior_model, real_pair):
    f0, f1 = real_pair
    with torch.no_grad():
        a = prior_model.encode(f0, f1).render((128, 192), [0.5])
        b = prior_model.encode(f0, f1, pair_flows(f0, f1)).render((128, 192), [0.5])
        c = prior_model.encode(f0, f1, torch.zeros(1, 4, 64, 96)).render((128, 192), [0.5])
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 0.05  # the flows are used
    with pytest.raises(Exception, match="flows must be"):
        prior_model.encode(f0, f1, torch.zeros(1, 4, 32, 96))


@pytest.mark.parametrize("exact", [False, True])
def test_prior_region_and_chunks_equal_full_render(prior_model, real_pair, exact):
    f0, f1 = real_pair
    with torch.no_grad():
        state = prior_model.encode(f0, f1)
        full = state.render((128, 192), [0.25, 0.5], exact=exact)
        part = state.render((128, 192), [0.25, 0.5], region=(40, 30, 64, 48), exact=exact)
        prior_model.max_query_points = 999
        try:
            chunked = state.render((128, 192), [0.25, 0.5], exact=exact)
        finally:
            prior_model.max_query_points = 1 << 16
    torch.testing.assert_close(part, full[..., 30:78, 40:104], rtol=0, atol=1e-6)
    torch.testing.assert_close(chunked, full, rtol=0, atol=1e-6)


def test_prior_query_equals_exact_render(prior_model, real_pair):
    f0, f1 = real_pair
    with torch.no_grad():
        state = prior_model.encode(f0, f1)
        img = state.render((128, 192), [0.4], exact=True)[0, 0]
        q = state.query(make_grid((128, 192))[None], 0.4)[0].clamp(0, 1)
    torch.testing.assert_close(q.T.reshape(3, 128, 192), img, rtol=0, atol=1e-5)


def test_prior_frame_form_close_to_exact(prior_model, real_pair):
    f0, f1 = real_pair
    with torch.no_grad():
        state = prior_model.encode(f0, f1)
        a = state.render((128, 192), [0.5])
        b = state.render((128, 192), [0.5], exact=True)
    assert (a - b).abs().mean() < 0.01
