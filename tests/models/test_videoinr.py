"""VideoINR model: shapes, consistency of render/query/chunking, gradients, parameter and FLOP counts."""
import pytest
import torch
import torch.nn.functional as F

import videoinr
from videoinr.models import CONFIGS, VideoINR, make_grid
from videoinr.models import render as vr
from videoinr.models import sampling as vi


def test_paper_parameter_count():
    model = VideoINR(CONFIGS["paper"])
    n = sum(p.numel() for p in model.parameters())
    print(f"paper: {n / 1e6:.3f}M parameters")
    assert abs(n - 10.98e6) / 10.98e6 < 0.02


def test_lite_is_ten_times_cheaper_than_paper():
    from torch.utils.flop_counter import FlopCounterMode

    def flops(cfg):
        model = VideoINR(cfg).eval()
        f0, f1 = torch.rand(2, 1, 3, 16, 16).unbind(0)
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            state = model.encode(f0, f1)
        enc = fc.get_total_flops() / (16 * 16)
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            state.render((32, 32), [0.5])
        return enc, fc.get_total_flops() / (32 * 32)

    (pe, pr), (le, lr) = flops(CONFIGS["paper"]), flops(CONFIGS["lite"])
    print(f"FLOPs per LR pixel of a pair: paper {pe / 1e6:.1f}M lite {le / 1e6:.2f}M; "
          f"per output pixel: paper {pr / 1e3:.0f}K lite {lr / 1e3:.1f}K")
    assert pe / le >= 10 and pr / lr >= 10


@pytest.mark.parametrize("size", [(35, 46), (13, 17), (50, 3)])
def test_render_shapes_any_size(lite, pair, size):
    with torch.no_grad():
        out = lite.encode(*pair).render(size, [0.0, 0.37, 1.0])
    assert out.shape == (2, 3, 3, *size)
    assert 0 <= out.min() and out.max() <= 1


def test_several_times_equal_separate_calls(lite, pair):
    with torch.no_grad():
        state = lite.encode(*pair)
        both = state.render((26, 40), [0.25, 0.8])
        one = state.render((26, 40), [0.25])
        two = state.render((26, 40), [0.8])
    torch.testing.assert_close(both, torch.cat([one, two], 1), rtol=0, atol=1e-6)


@pytest.mark.parametrize("exact", [False, True])
def test_region_equals_crop_of_full_render(lite, pair, exact):
    with torch.no_grad():
        state = lite.encode(*pair)
        full = state.render((35, 46), [0.5], exact=exact)
        part = state.render((35, 46), [0.5], region=(7, 4, 20, 11), exact=exact)
    torch.testing.assert_close(part, full[..., 4:15, 7:27], rtol=0, atol=1e-6)


def test_region_equals_crop_when_flows_reach_outside_the_region(pair):
    """Warp form: large flows read HR features outside the region; its HR map then covers them."""
    torch.manual_seed(0)
    model = videoinr.create_model("lite", pretrained=False)
    with torch.no_grad():
        model.inr.temporal.out.bias.copy_(torch.tensor([3.0, -2.0, -2.5, 1.5]))  # LR pixels: 12 / 8 output pixels
        state = model.encode(*pair)
        full = state.render((52, 68), [0.2, 0.7])
        part = state.render((52, 68), [0.2, 0.7], region=(20, 15, 17, 9))
        frame = torch.tensor([68.0, 52.0])
        pixels = vi.make_grid((52, 68), (20, 15, 17, 9))
        maps = vr._map_buffers(state, pixels.shape[0])
        reach = vr._pixel_pass(state, pixels, torch.tensor([0.2, 0.7]), frame, *vr._map_rows(maps, 0, len(pixels)))[1]
        # the flows' biases: +3 LR pixels (12 output pixels) in x for flow 1, -2.5 (-10) for flow 2
        torch.testing.assert_close(reach.cpu(), torch.tensor([20.0 - 10, 36 + 12, 15 - 8, 23 + 6]), atol=2.0, rtol=0)
        x0, y0, bw, bh = vi._warp_box(torch.stack([reach, reach + 0.5]), (52, 68))  # two chunks
        lo, hi = reach.floor().int().tolist()[::2], (reach + 0.5).floor().int().tolist()[1::2]
        # every pixel a bilinear sample reads (floor and floor + 1) lies in the box, which stays in the frame
        assert x0 <= lo[0] and y0 <= lo[1] and x0 + bw - 1 >= hi[0] + 1 and y0 + bh - 1 >= hi[1] + 1
        assert x0 >= 0 and y0 >= 0 and x0 + bw <= 68 and y0 + bh <= 52 and bw > 17
    torch.testing.assert_close(part, full[..., 15:24, 20:37], rtol=0, atol=1e-6)


def test_warp_render_close_to_exact_render(pair):
    """Whole frames warp the HR feature map (paper Sec. 3.5) instead of evaluating SpatialINR at every
    warped point: an interpolation of the same function, close on smooth content, equal at zero flow."""
    torch.manual_seed(0)
    model = videoinr.create_model("lite", pretrained=False)
    smooth = [F.interpolate(f, scale_factor=4, mode="bilinear", align_corners=False) for f in pair]
    with torch.no_grad():
        state = model.encode(*smooth)
        warp = state.render((104, 136), [0.0, 0.5, 1.0])
        exact = state.render((104, 136), [0.0, 0.5, 1.0], exact=True)
        assert (warp - exact).abs().mean() < 0.02
        model.inr.temporal.out.weight.zero_()
        model.inr.temporal.out.bias.zero_()  # zero flow (and a zero prior): the warped points are the pixel centres
        state = model.encode(*smooth, torch.zeros(2, 4, 52, 68))
        torch.testing.assert_close(state.render((30, 40), [0.3]), state.render((30, 40), [0.3], exact=True),
                                   rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["paper", "lite"])
def test_chunked_equals_unchunked(pair, name):
    model = videoinr.create_model(name, pretrained=False)  # paper: spatial_uses_t=True (exact form)
    model.encoder.recon_trunk = model.encoder.recon_trunk[:2]  # keep the test fast
    with torch.no_grad():
        state = model.encode(pair[0][:1], pair[1][:1])
        model.max_query_points = 1 << 20
        big = state.render((20, 30), [0.1, 0.6])
        model.max_query_points = 97
        small = state.render((20, 30), [0.1, 0.6])
    torch.testing.assert_close(small, big, rtol=0, atol=1e-6)


def test_query_matches_render_at_pixel_centres(lite, pair):
    with torch.no_grad():
        state = lite.encode(*pair)
        frame = state.render((21, 30), [0.3], exact=True)[:, 0]
        coords = make_grid((21, 30)).unsqueeze(0).expand(2, -1, -1)
        rgb = state.query(coords, 0.3).clamp(0, 1)
    torch.testing.assert_close(rgb.view(2, 21, 30, 3).permute(0, 3, 1, 2), frame, rtol=0, atol=1e-6)


def test_t_endpoints_reproduce_inputs_at_scale_one_with_skip(pair):
    """With rgb_skip and a zero-output decoder/flows, t=0 and t=1 give the (bicubic-sampled) inputs."""
    model = videoinr.create_model("lite", pretrained=False)
    with torch.no_grad():
        for mlp in (model.inr.temporal, model.inr.decoder):
            mlp.out.weight.zero_()
            mlp.out.bias.zero_()
        state = model.encode(*pair)
        out = state.render((13, 17), [0.0, 1.0])
    torch.testing.assert_close(out[:, 0], pair[0], rtol=0, atol=2e-3)
    torch.testing.assert_close(out[:, 1], pair[1], rtol=0, atol=2e-3)


def test_gradients_reach_every_parameter(pair):
    torch.manual_seed(0)
    model = videoinr.create_model("lite", pretrained=False).train()
    # DCN offset predictors start at zero (as in DCNv2), which blocks gradient to the offset branches
    # until their first update; give them the small weights one training step would.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "conv_offset_mask.weight" in name:
                p.normal_(0, 1e-3)
    coords = torch.rand(2, 64, 2) * 2 - 1
    t = torch.rand(2, 64)
    model.encode(*pair).query(coords, t).square().mean().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, f"no gradient for {dead[:5]}"


def test_encode_rejects_mismatched_frames(lite):
    with pytest.raises(videoinr.VideoINRError):
        lite.encode(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


def test_render_rejects_region_outside_frame(lite, pair):
    state = lite.encode(*pair)
    with pytest.raises(videoinr.VideoINRError, match="region"):
        state.render((20, 20), [0.5], region=(10, 10, 20, 5))


def test_warp_form_without_rgb_skip(pair):
    import dataclasses

    torch.manual_seed(0)
    model = VideoINR(dataclasses.replace(CONFIGS["lite"], rgb_skip=False)).eval()
    with torch.no_grad():
        state = model.encode(*pair)
        full = state.render((30, 41), [0.0, 0.6])
        part = state.render((30, 41), [0.6], region=(5, 6, 13, 9))
        exact = state.render((30, 41), [0.0, 0.6], exact=True)
    assert full.shape == (2, 2, 3, 30, 41)
    torch.testing.assert_close(part[:, 0], full[:, 1, :, 6:15, 5:18], rtol=0, atol=1e-6)
    assert (full - exact).abs().mean() < 0.05


@pytest.mark.parametrize("overrides", [
    {},  # lite: the trunk of each frame's own time step is in its frame part
    {"nf": 8, "groups": 2, "front_blocks": 1, "back_blocks": 1, "convlstm": True},  # the ConvLSTM joins all three
    {"conventions": "official", "rgb_skip": False, "flow_prior": False},  # zero padding, read by the decoder
])
def test_encode_from_frame_codes_equals_encoding_the_frames(pair, overrides):
    """Sliding pairs reuse a frame's `encode_frame`: the State must be the one of the frames themselves."""
    import dataclasses

    torch.manual_seed(0)
    model = VideoINR(dataclasses.replace(CONFIGS["lite"], **overrides)).eval()
    a, b = pair
    c = torch.rand_like(a)
    with torch.no_grad():
        whole = [model.encode(a, b), model.encode(b, c)]
        code_b = model.encode_frame(b)
        parts = [model.encode(model.encode_frame(a), code_b), model.encode(code_b, c)]
        for w, p in zip(whole, parts):
            torch.testing.assert_close(p.feat, w.feat, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(p.frames, w.frames, atol=0, rtol=0)
            torch.testing.assert_close(p.render((26, 34), [0.0, 0.4]), w.render((26, 34), [0.0, 0.4]),
                                       atol=1e-5, rtol=1e-5)
    assert parts[1].feat.shape == whole[1].feat.shape and parts[1].feat.shape[1] == 3 * model.cfg.nf


def test_encode_rejects_a_frame_code_of_another_size(lite):
    with pytest.raises(videoinr.VideoINRError, match="one shape"):
        lite.encode(lite.encode_frame(torch.rand(1, 3, 8, 8)), torch.rand(1, 3, 8, 12))
