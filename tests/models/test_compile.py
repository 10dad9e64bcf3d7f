"""Compiled renderer functions are saved once and loaded by later processes, never run on inputs their
guards refuse (models/compile.py)."""
import dataclasses
import os
import subprocess
import sys
import warnings

import pytest
import torch

import videoinr
from videoinr.models import compile as vc
from videoinr.models import render as vr

SIZE, TIMES = (20, 30), [0.0, 0.5]

# a later process: the variants saved by the test are loaded, any compile fails the run
LATER_PROCESS = """
import sys, warnings, torch, videoinr
from videoinr.models import compile as vc
vc.set_artefact_folder(sys.argv[1])
def no_compile(*a):
    raise AssertionError("compiled again instead of loading the saved variant")
vc._compile_variant = no_compile
warnings.simplefilter("error", RuntimeWarning)
torch.manual_seed(0)
model = videoinr.create_model("lite", pretrained=False)
model.render_bf16 = False
model.compile_render = True
frames = torch.load(sys.argv[2])
with torch.inference_mode():
    out = model.encode(*frames).render((20, 30), [0.0, 0.5])
torch.testing.assert_close(out, torch.load(sys.argv[3]), rtol=0, atol=0)
assert not vc._COMPILED["broken"] and all(len(v) == 1 for v in vc._COMPILED["fns"].values())
print("loaded", sorted(f.__name__ for f in vc._COMPILED["fns"]))
"""


def _model(**changes):
    torch.manual_seed(0)
    model = videoinr.VideoINR(dataclasses.replace(videoinr.CONFIGS["lite"], **changes)).eval()
    model.render_bf16 = False  # float32 GEMMs in the compiled and eager renders alike
    return model


def test_a_saved_renderer_is_loaded_by_a_later_process_not_compiled_again(pair, tmp_path, monkeypatch):
    """The first compiled render saves its two functions' variants; a fresh process (same torch, CPU and
    source) loads them and renders the same bits without compiling; both equal eager to float rounding."""
    pytest.importorskip("torch._inductor")
    monkeypatch.setattr(vc, "_COMPILED", {"fns": {}, "broken": False})  # as in a fresh process
    monkeypatch.setattr(vc, "_STORE", {"root": None, "loaded": set()})
    vc.set_artefact_folder(tmp_path / "renderer")
    model = _model()
    frames = (pair[0][:1].contiguous(), pair[1][:1].contiguous())
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a compile failure must fail this test
        state = model.encode(*frames)
        ref = state.render(SIZE, TIMES)
        model.compile_render = True
        out = state.render(SIZE, TIMES)
    torch.testing.assert_close(out, ref, rtol=0, atol=2e-5)
    saved = sorted(p.name.split(".")[3] for p in (tmp_path / "renderer" / vc.source_key()).glob("*.bin"))
    assert saved == ["_decode_pass", "_pixel_pass"]
    torch.save(frames, tmp_path / "frames.pt")
    torch.save(out, tmp_path / "out.pt")
    done = subprocess.run([sys.executable, "-c", LATER_PROCESS, str(tmp_path / "renderer"), str(tmp_path / "frames.pt"),
                           str(tmp_path / "out.pt")], capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded ['_decode_pass', '_pixel_pass']" in done.stdout


def test_a_variant_refuses_another_configs_state(pair, monkeypatch):
    """A compiled variant's guards refuse a State of another config (other widths, or SpatialINR taking t):
    the renderer compiles a new variant for it instead of running the wrong code."""
    pytest.importorskip("torch._inductor")
    monkeypatch.setattr(vc, "_COMPILED", {"fns": {}, "broken": False})
    monkeypatch.setattr(vc, "_STORE", {"root": None, "loaded": set()})
    calls = []
    real = vc._variant
    monkeypatch.setattr(vc, "_variant", lambda fn, state, args: calls.append((fn, state, args)) or real(fn, state, args))
    model = _model()
    model.compile_render = True
    frames = (pair[0][:1], pair[1][:1])
    with torch.inference_mode():
        model.encode(*frames).render(SIZE, TIMES)
        fn, state, args = next(c for c in calls if c[0] is vr._pixel_pass)
        (variant,) = vc._COMPILED["fns"][vr._pixel_pass]
        assert variant.guard_check(state, *args)
    for changes in ({"hr_dim": 8}, {"spatial_uses_t": True}):
        with torch.inference_mode():
            other = dataclasses.replace(_model(**changes).encode(*frames), gemm_dtype=state.gemm_dtype)
            vr.project(other)
            maps = vr._map_buffers(other, args[0].shape[0])
            assert not variant.guard_check(other, args[0], args[1], args[2], *vr._map_rows(maps, 0, args[0].shape[0]))
