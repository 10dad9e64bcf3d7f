"""Fast render paths equal the reference path: gathers == grid_sample, compiled == eager, bf16 ~= fp32."""
import warnings

import pytest
import torch
import torch.nn.functional as F

import videoinr
from videoinr.models import compile as vc
from videoinr.models import render as vr
from videoinr.models import sampling as vi


def _points(b, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, 2, generator=g) * 2.6 - 1.3  # inside and outside the frame (border padding)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gather_samplers_equal_grid_sample(layout):
    torch.manual_seed(0)
    img = torch.rand(2, 5, 7, 11)
    if layout == "channels_last":
        img = img.contiguous(memory_format=torch.channels_last)
    x = _points(2, 500)
    for mode, fn in (("bilinear", vi._bilinear_gather), ("bicubic", vi._bicubic_gather)):
        ref = F.grid_sample(img, x.unsqueeze(1), mode=mode, padding_mode="border", align_corners=False)
        torch.testing.assert_close(fn(img, x), ref[:, :, 0].transpose(1, 2), rtol=0, atol=2e-6)


def test_hr_map_sampler_equals_grid_sample_on_a_box_covering_the_points():
    """`_hr_bilinear` on a box of the frame = grid_sample on the whole frame, wherever the box covers the
    points' neighbours (and at the frame's edges, border padding)."""
    torch.manual_seed(0)
    frame = torch.rand(2, 4, 9, 13)  # (B, C, H, W)
    x = _points(2, 400)
    ref = F.grid_sample(frame, x.unsqueeze(1), mode="bilinear", padding_mode="border", align_corners=False)
    rows = frame.permute(0, 2, 3, 1)
    full = vi._hr_bilinear(rows.contiguous(), x, torch.tensor([0.0, 0.0, 13, 9]))
    torch.testing.assert_close(full, ref[:, :, 0].transpose(1, 2), rtol=0, atol=2e-6)
    x0, y0, bw, bh = 2, 3, 8, 5  # a box of the 13 x 9 frame
    px = torch.rand(2, 300, 2) * torch.tensor([bw - 1.0, bh - 1.0]) + torch.tensor([x0, y0])  # pixel units
    inside = (2 * px + 1) / torch.tensor([13.0, 9.0]) - 1
    part = rows[:, y0 : y0 + bh, x0 : x0 + bw].contiguous()
    ref = F.grid_sample(frame, inside.unsqueeze(1), mode="bilinear", padding_mode="border", align_corners=False)
    got = vi._hr_bilinear(part, inside, torch.tensor([float(x0), float(y0), 13, 9]))
    torch.testing.assert_close(got, ref[:, :, 0].transpose(1, 2), rtol=0, atol=2e-6)


def test_compiling_is_the_models_switch_and_never_history(lite, pair):
    """The model compiles exactly when its `compile_render` switch says (the job's policy, decided once by
    videoinr.runtime), whatever it rendered before; never under autograd."""
    with torch.no_grad():
        state = lite.encode(*pair)
        for _ in range(3):
            state.render((8, 9), [0.2, 0.4])
            assert not vr._use_compiled(state)
        lite.compile_render = True
        assert vr._use_compiled(state)
    assert not vr._use_compiled(state)  # autograd on (training): never compiled


def test_compile_failure_falls_back_to_eager(lite, pair, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(vc, "_compile_variant", broken)
    monkeypatch.setitem(vc._COMPILED, "fns", {})
    monkeypatch.setitem(vc._COMPILED, "broken", False)
    lite.render_bf16 = False  # float32 GEMMs on both sides (compiled ones may run in bf16 by default)
    with torch.no_grad():
        state = lite.encode(*pair)
        lite.compile_render = False
        ref = state.render((10, 12), [0.3])
        lite.compile_render = True
        with pytest.warns(RuntimeWarning, match="rendering eagerly"):
            out = state.render((10, 12), [0.3])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # broken is remembered: no second try, no second warning
            state.render((10, 12), [0.3])
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_bf16_render_close_to_fp32(lite, pair):
    with torch.no_grad():
        state = lite.encode(*pair)
        ref = state.render((26, 34), [0.0, 0.5])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = state.render((26, 34), [0.0, 0.5])
    assert out.dtype == torch.float32
    err = (out - ref).abs()
    assert err.max() < 1e-2 and err.square().mean().sqrt() < 2e-3


def test_compiled_render_equals_eager(pair, monkeypatch):
    """A compiled variant (dynamic shapes) serves any chunk size, number of times, region and LR size
    (batch 1, as the upscaler uses; another batch size or layout compiles once more).

    Takes ~1 minute on 2 cores with a cold inductor cache (seconds when warm)."""
    pytest.importorskip("torch._inductor")
    monkeypatch.setitem(vc._COMPILED, "broken", False)
    torch.manual_seed(0)
    model = videoinr.create_model("lite", pretrained=False)
    model.render_bf16 = False  # float32 GEMMs in both (by default the compiled ones may run in bf16)
    model.max_query_points = 600  # several chunks, the last one partial
    cases = [((20, 30), [0.0, 0.4, 1.0], None), ((20, 30), [0.7], (3, 5, 11, 7)), ((9, 9), [0.1, 0.9], None)]
    cases += [(size, times, region, True) for size, times, region in cases]  # the exact form too
    cases = [c if len(c) == 4 else (*c, False) for c in cases]
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a compile failure must fail this test
        for frames in ((pair[0][:1], pair[1][:1]), (pair[0][:1, :, :9, :11], pair[1][:1, :, :9, :11])):
            state = model.encode(*frames)
            for size, times, region, exact in cases:
                model.compile_render = False
                ref = state.render(size, times, region, exact)
                model.compile_render = True
                out = state.render(size, times, region, exact)
                torch.testing.assert_close(out, ref, rtol=0, atol=2e-5)
        model.render_bf16 = True  # compiled with bf16 GEMMs: the HR maps are kept in bf16 too
        out = state.render((20, 30), [0.0, 0.4, 1.0])
        assert vr._BUFFERS.maps[0].dtype == torch.bfloat16
        model.compile_render = False
        ref = state.render((20, 30), [0.0, 0.4, 1.0])  # eager: float32 maps whatever the GEMMs
        assert vr._BUFFERS.maps[0].dtype == torch.float32
    err = (out - ref).abs()
    assert err.max() < 1e-2 and err.square().mean().sqrt() < 2e-3
    assert not vc._COMPILED["broken"]
    # a few compiled variants serve every case (the cropped frames' strides need their own)
    assert all(1 <= len(v) <= 2 for v in vc._COMPILED["fns"].values())


def test_encoder_bf16_switch(lite, pair):
    """`encode_bf16` runs the encoder under bf16 autocast (close to float32), in eval and training mode
    alike; off, the model is float32 (the default policy of the commands turns it on where bf16 is native:
    tests/test_runtime.py)."""
    render = lambda: lite.encode(*pair).render((26, 34), [0.5], exact=True)  # noqa: E731
    with torch.no_grad():
        ref = render()
        lite.encode_bf16 = True
        low = render()
        assert 0 < (low - ref).abs().max() < 0.05
        lite.train()
        torch.testing.assert_close(render(), low, rtol=0, atol=0)
        lite.encode_bf16 = False
        torch.testing.assert_close(render(), ref, rtol=0, atol=0)


def test_render_bf16_switch_and_the_callers_autocast(lite, pair):
    with torch.no_grad():
        state = lite.encode(*pair)
        assert vr._render_bf16(state) is False
        with torch.autocast("cpu", dtype=torch.bfloat16):  # the caller's autocast wins
            assert vr._render_bf16(state) is True
        ref = state.render((26, 34), [0.0, 0.5])
        lite.render_bf16 = True  # and the switch reaches the GEMMs (eager here)
        assert vr._render_bf16(state) is True
        low = state.render((26, 34), [0.0, 0.5])
    assert 0 < (low - ref).abs().max() < 1e-2


def test_hr_map_buffers_are_reused_per_thread_and_renders_stay_equal(lite, pair):
    import threading

    st = lite.encode(*pair)
    with torch.inference_mode():
        a = vr._map_buffers(st, 50)
        b = pair[0].shape[0]
        assert a[0].shape == (50, b, lite.inr.decoder.first.out_features) and a[0].dtype == torch.float32
        assert vr._map_buffers(st, 50)[0].data_ptr() == a[0].data_ptr()  # same size: the same buffers
        assert vr._map_buffers(st, 60)[0].shape[0] == 60  # another size: new ones
        c = vr._map_buffers(st, 60)
        other = []
        th = threading.Thread(target=lambda: other.append(vr._map_buffers(st, 60)[0].data_ptr()))
        th.start()
        th.join()
        assert other[0] != c[0].data_ptr()  # another thread never writes into this thread's buffers
        rows = vr._map_rows(c, 40, 32)  # the last, short chunk: (B, m, C) views into the buffers
        assert rows[0].shape == (b, 20, c[0].shape[2]) and rows[0].stride() == vr._map_rows(c, 0, 32)[0].stride()
        rows[1].fill_(7.0)
        assert (c[1][40:] == 7).all() and (vr._as_maps(c, 6, 10)[1][0, 4:] == 7).all()
        first = st.render((20, 28), [0.0, 0.4])
        second = st.render((20, 28), [0.0, 0.4])  # the buffers of the first call reused
    with torch.no_grad():  # outside inference mode: never the inference-mode buffers
        assert not vr._map_buffers(st, 20 * 28)[0].is_inference()
        third = st.render((20, 28), [0.0, 0.4])
        want = lite.reference_render(st, (20, 28), [0.0, 0.4])
    assert torch.equal(first, second) and torch.equal(first, third)
    torch.testing.assert_close(first, want, atol=1e-5, rtol=1e-5)
