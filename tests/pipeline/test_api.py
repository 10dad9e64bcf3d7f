"""`videoinr.pipeline.api`: a batch (a folder of videos) probes every input before it renders any, and
reports every bad one in one line each, with nothing written (real tiny clips cut from the bundled example)."""
import os
from pathlib import Path

import pytest

from av_helpers import cut, example_frames
from av_helpers import encode as _encode
from cli_helpers import one_error_line, run_cli


@pytest.fixture(scope="module")
def frames():
    return example_frames(30, crop=(16, 24))


def encode(path: Path, frames: list) -> Path:
    return _encode(path, frames, faststart=True)  # index (moov) first: a cut copy keeps it, loses frames


@pytest.mark.parametrize("ext", ["mp4", "mkv"])  # an mkv's truncation shows only when it is decoded
def test_batch_with_truncated_file_writes_nothing(tmp_path, frames, weights, capsys, ext):
    src = tmp_path / "in"
    src.mkdir()
    encode(src / "a.mp4", frames[:3])
    cut(encode(tmp_path / f"full.{ext}", frames), src / f"b.{ext}", keep=0.8)
    encode(src / "c.mp4", frames[:3])
    out = tmp_path / "out"
    rc, err = run_cli([src, "-o", out, "--scale", "2", "--model", weights], capsys)
    assert rc == 2
    line = one_error_line(err)
    assert f"b.{ext}" in line and "truncated" in line
    assert not out.exists()  # nothing written, so a rerun after fixing b needs no --force
    assert sorted(os.listdir(tmp_path)) == [f"full.{ext}", "in"]


def test_batch_reports_every_bad_input_before_rendering(tmp_path, frames, weights, capsys, monkeypatch):
    """A folder of videos where two have a single frame, at --time-scale 2: both are reported up front,
    one `error:` line each, and nothing is rendered or written (before, the others were rendered first)."""
    from videoinr.pipeline import run

    src = tmp_path / "in"
    src.mkdir()
    encode(src / "a.mp4", frames[:3])
    encode(src / "b.mp4", frames[:1])
    encode(src / "c.mkv", frames[:3])
    encode(src / "d.mp4", frames[:1])
    rendered = []
    monkeypatch.setattr(run, "render_all", lambda *a, **k: rendered.append(a))
    out = tmp_path / "out"
    rc, err = run_cli([src, "-o", out, "--time-scale", "2", "--model", weights], capsys)
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 2 and all(ln.startswith("error: ") for ln in lines) and "Traceback" not in err, err
    assert "b.mp4" in lines[0] and "d.mp4" in lines[1] and all("only 1 frame" in ln for ln in lines)
    assert not rendered and not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["in"]
    (src / "d.mp4").unlink()  # one bad input: exactly one line
    rc, err = run_cli([src, "-o", out, "--time-scale", "2", "--model", weights], capsys)
    assert rc == 2 and "b.mp4" in one_error_line(err)
    assert not rendered and sorted(os.listdir(tmp_path)) == ["in"]


def test_a_jobs_first_compile_is_recorded_for_the_next_decision(tmp_path, frames, weights, monkeypatch):
    """A job that compiles its renderer, the process's first compile, records what the compile cost (its
    first render call minus the same frames' share of a later call) where the next job's decision reads it.
    The compile is stood in for by a 0.5 s stall per function (a real cold compile takes ~20-40 s) and
    an eager variant; the rest of the path is the real one."""
    import time

    from videoinr import runtime, upscale
    from videoinr.models import compile as vcompile

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("VIDEOINR_COMPILE", "1")
    monkeypatch.setattr(vcompile, "_COMPILED", {"fns": {}, "broken": False})  # as in a fresh process
    monkeypatch.setattr(vcompile, "_STORE", {"root": None, "loaded": set()})

    class Variant:  # serves any inputs, runs eagerly
        def __init__(self, fn):
            self.fn = fn

        def guard_check(self, *a):
            return True

        def disable_guard_check(self):
            pass

        def save_compiled_function(self, path):
            raise OSError("not saved")  # memory only

        def __call__(self, *a):
            return self.fn(*a)

    def fake_compile(fn, state, args):
        time.sleep(0.5)
        return Variant(fn)

    monkeypatch.setattr(vcompile, "_compile_variant", fake_compile)
    import torch._dynamo  # noqa: F401 - writes inductor's temporary default into TORCHINDUCTOR_CACHE_DIR

    assert runtime.compile_seconds() == runtime.COMPILE_COLD_S
    upscale(encode(tmp_path / "in.mp4", frames[:3]), tmp_path / "o.mp4", scale=2, time_scale=2, model=weights,
            progress=False)
    assert 0.9 < runtime.compile_seconds() < 1.5  # the two pass functions' stalls, 0.5 s each
    assert not vcompile._COMPILED["broken"] and len(vcompile._COMPILED["fns"]) == 2
    assert (tmp_path / "cache" / "videoinr" / "inductor" / runtime.COMPILE_RECORD).is_file()  # not in /tmp


def test_overlapped_and_in_turn_runs_write_the_same_frames(tmp_path, frames, weights, monkeypatch):
    """The output encoding and the next pair's decode + DIS run on worker threads where cores are spare
    (`overlaps`), in turn where not: the same frames either way."""
    import threading

    from videoinr import upscale
    from videoinr.pipeline import render as vrender

    src = encode(tmp_path / "in.mp4", frames[:4])
    real_prepare, orig_init = vrender._prepare, vrender._Writer.__init__
    outs = {}
    for overlap in (True, False):
        seen = {"prepare": set(), "write": set()}

        def prepare(*a):
            seen["prepare"].add(threading.current_thread().name.split("_")[0])
            return real_prepare(*a)

        monkeypatch.setattr(vrender, "overlaps", lambda device, o=overlap: o)
        monkeypatch.setattr(vrender, "_prepare", prepare)
        out = tmp_path / f"out_{overlap}"

        def init(self, sink, *a, **k):  # notes the thread each of the sink's writes runs on
            orig_init(self, sink, *a, **k)
            real = sink.write

            def spy(*args):
                seen["write"].add(threading.current_thread().name)
                return real(*args)
            sink.write = spy

        monkeypatch.setattr(vrender._Writer, "__init__", init)
        upscale(src, out, scale=2, time_scale=2, model=weights, progress=False)
        monkeypatch.setattr(vrender._Writer, "__init__", orig_init)
        outs[overlap] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
        if overlap:
            assert seen["prepare"] == {"videoinr-prefetch"} and seen["write"] == {"videoinr-writer"}
        else:
            assert not seen["prepare"] and seen["write"] == {threading.main_thread().name}
    assert len(outs[True]) == 7 and outs[True] == outs[False]


def test_overlap_needs_spare_cores_or_a_gpu(monkeypatch):
    import torch

    from videoinr.pipeline.render import overlaps

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert not overlaps(torch.device("cpu")) and overlaps(torch.device("cuda"))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert overlaps(torch.device("cpu"))


def test_sliding_pairs_encode_each_frames_part_once(tmp_path, frames, weights, monkeypatch):
    """Pairs (0, 1), (1, 2), ... compute each frame's encoder part once (`PairEncoder`), and the frames
    written are those of encoding every pair whole."""
    import numpy as np

    from videoinr import upscale
    from videoinr.data.frames import list_frames, read_image
    from videoinr.models.videoinr import VideoINR
    from videoinr.pipeline import render as vrender

    src = encode(tmp_path / "in.mp4", frames[:5])
    real = VideoINR.encode_frame
    calls = []
    monkeypatch.setattr(VideoINR, "encode_frame", lambda self, f: calls.append(1) or real(self, f))
    upscale(src, tmp_path / "parts", scale=2, time_scale=2, model=weights, progress=False)
    assert len(calls) == 5  # 4 pairs, 5 frames
    init = vrender.PairEncoder.__init__

    def whole_pairs(self, net, device):
        init(self, net, device)
        self.parts = False  # every pair encoded whole, both frames in one batch
    monkeypatch.setattr(vrender.PairEncoder, "__init__", whole_pairs)
    upscale(src, tmp_path / "whole", scale=2, time_scale=2, model=weights, progress=False)
    assert len(calls) == 5
    got, want = ([read_image(p).astype(np.int16) for p in list_frames(tmp_path / d)] for d in ("parts", "whole"))
    assert len(got) == len(want) == 9
    assert max(int(np.abs(g - w).max()) for g, w in zip(got, want)) <= 1  # bf16 encoder: batch of 1 vs 2
