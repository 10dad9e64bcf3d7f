"""`videoinr upscale` end to end on small real footage: sizes, frame counts, time modes, cuts, resume, errors.

A random-init `lite` model checks the real model path; a FakeModel (renders the per-frame mean colour,
linearly blended in t) checks which pair and t each output frame comes from, exactly and fast.
"""
import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from torch import nn

import videoinr.data.video as video_mod
from videoinr.data.frames import list_frames, read_image
from videoinr.data.video import VideoWriter, iter_video, probe, read_video
from videoinr.errors import VideoINRError

from av_helpers import audio_packets, write_with_audio
from cli_helpers import run_cli
from videoinr.models.config import CONFIGS
from videoinr.pipeline import output_size, upscale

BIKES = Path("train/bikes_scenecuts.mp4")
BEDROOM = Path("train/sam2_clips/06_bedroom.mp4")
LR = (48, 32)  # (W, H) of test frames


# ----------------------------------------------------------------------------------------------- helpers
def grab(path: Path, n: int, size=LR) -> list[np.ndarray]:
    out = []
    for f in iter_video(path):
        out.append(cv2.resize(f.image, size, interpolation=cv2.INTER_AREA))
        if len(out) == n:
            break
    return out


def write_video(path: Path, frames, fps=10, times=None, crf=12) -> Path:
    tb = Fraction(1, 1000) if times is not None else None
    with VideoWriter(path, fps, crf=crf, time_base=tb) as w:
        for i, f in enumerate(frames):
            w.write(f, None if times is None else times[i])
    return path


def write_folder(folder: Path, frames) -> Path:
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"f{i}.png"), f[..., ::-1])
    return folder


def read_folder(folder: Path) -> list[np.ndarray]:
    return [read_image(p) for p in list_frames(folder)]


class FakeState:
    def __init__(self, a, b):
        self.a, self.b = a.mean((2, 3)), b.mean((2, 3))  # (1, 3)

    def render(self, size, t, region=None):
        h, w = (region[3], region[2]) if region else size
        t = torch.tensor(t, dtype=torch.float32)[None, :, None]
        col = self.a[:, None] * (1 - t) + self.b[:, None] * t  # (1, T, 3)
        return col[..., None, None].expand(*col.shape, h, w).clone()


class FakeModel(nn.Module):
    """Renders each frame as the mean colour of the encoded pair, blended linearly in t; logs encodes."""

    def __init__(self):
        super().__init__()
        self.cfg = CONFIGS["lite"]
        self.w = nn.Parameter(torch.zeros(1))
        self.max_query_points = 1 << 16
        self.pairs = []

    def encode(self, a, b):
        self.pairs.append((a.clone(), b.clone()))
        return FakeState(a, b)


def pair_indices(model: FakeModel, frames: list[np.ndarray] | dict[int, np.ndarray]) -> list[tuple[int, int]]:
    """Input-frame indices of each encoded pair, found by exact comparison with `frames` (list or {index: frame})."""
    items = frames.items() if isinstance(frames, dict) else enumerate(frames)
    ts = {i: torch.from_numpy(f).permute(2, 0, 1).float().div(255) for i, f in items}

    def idx(x):
        return next(i for i, f in ts.items() if torch.equal(f, x[0]))

    return [(idx(a), idx(b)) for a, b in model.pairs]


def mean_col(f: np.ndarray) -> np.ndarray:
    return f.reshape(-1, 3).astype(np.float64).mean(0)


@pytest.fixture(scope="module")
def bikes(shared_data):
    return grab(shared_data / BIKES, 8)


@pytest.fixture(scope="module")
def lite():
    torch.manual_seed(0)
    from videoinr import create_model

    return create_model("lite", pretrained=False)


# ------------------------------------------------------------------------------------------ sizes/counts
def test_output_size_rules():
    assert output_size((32, 48), 2.7, None) == (87, 130)  # ceil, like MATLAB imresize
    assert output_size((32, 48), None, (100, -1)) == (67, 100)
    assert output_size((32, 48), None, (-1, 50)) == (50, 75)
    assert output_size((32, 48), None, (33, 17)) == (17, 33)


def test_scale_and_time_scale_real_model(tmp_path, bikes, lite):
    src = write_video(tmp_path / "in.mp4", bikes[:3])
    out = upscale(src, tmp_path / "out.mp4", scale=2.7, time_scale=2, model=lite, progress=False)
    info = probe(out)
    assert (info.width, info.height, info.frames) == (130, 87, (3 - 1) * 2 + 1)
    assert info.duration == pytest.approx(probe(src).duration, abs=1e-3)  # last input frame kept, full length
    frames = upscale(src, tmp_path / "frames", size="100x-1", model=lite, progress=False)
    got = read_folder(frames)
    assert len(got) == 3 and got[0].shape == (67, 100, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "in.mp4", "out.mp4"]


def test_region_is_a_window_of_the_full_frame(tmp_path, bikes, lite):
    src = write_folder(tmp_path / "in", bikes[:2])
    full = read_folder(upscale(src, tmp_path / "full", scale=2, model=lite, progress=False))
    part = read_folder(upscale(src, tmp_path / "part", scale=2, region="10,6,40,30", model=lite, progress=False))
    assert part[0].shape == (30, 40, 3)
    for f, p in zip(full, part):
        assert np.abs(f[6:36, 10:50].astype(int) - p).max() <= 1


# ------------------------------------------------------------------------------------------------- time
def test_times_render_explicit_positions(tmp_path, bikes):
    src = write_folder(tmp_path / "in", bikes[:4])
    fake = FakeModel()
    times = [0, 0.25, 0.5, 1, 2.5, 3]
    got = read_folder(upscale(src, tmp_path / "o", times=times, model=fake, scene_cuts=False, progress=False))
    assert len(got) == len(times)
    m = [mean_col(f) for f in bikes[:4]]
    for u, g in zip(times, got):
        k = min(int(u), 2)
        want = m[k] + (u - k) * (m[k + 1] - m[k])
        assert np.abs(mean_col(g) - want).max() <= 0.6
    assert pair_indices(fake, bikes[:4]) == [(0, 1), (1, 2), (2, 3)]  # each pair encoded once


def test_fps_uses_real_timestamps_of_vfr_video(tmp_path, bikes):
    times = [0.0, 0.04, 0.12, 0.16, 0.30]
    src = write_video(tmp_path / "vfr.mp4", bikes[:5], fps=25, times=times, crf=0)
    assert [f.time for f in iter_video(src)] == pytest.approx(times)
    decoded = read_video(src)
    fake = FakeModel()
    got = read_folder(upscale(src, tmp_path / "o", fps=20, model=fake, scene_cuts=False, progress=False))
    assert len(got) == 7  # 0, 0.05, ..., 0.30
    m = [mean_col(f) for f in decoded]
    for j, g in enumerate(got):
        t = j / 20
        k = min(max(np.searchsorted(times, t, side="right") - 1, 0), 3)
        u = k + (t - times[k]) / (times[k + 1] - times[k])
        want = m[k] + (u - k) * (m[k + 1] - m[k])
        assert np.abs(mean_col(g) - want).max() <= 0.6, (j, u)
    vid = upscale(src, tmp_path / "o.mp4", fps=20, model=fake, scene_cuts=False, progress=False)
    assert [f.time for f in iter_video(vid)] == pytest.approx([j / 20 for j in range(7)], abs=1e-3)


@pytest.mark.parametrize("ext,how", [("mkv", {"fps": 20}), ("mkv", {"time_scale": 2}), ("mkv", {}),
                                     ("mp4", {"fps": 20}), ("mp4", {})])
def test_vfr_output_ends_where_the_input_ends(tmp_path, bikes, how, ext):
    """The last input frame is shown for its own duration (0.04 s here), not for the last gap (0.14 s).
    (mp4 with B-frames in a VFR stream: FFmpeg's demuxer reports a decode-time duration, not the edit
    list's; not a case this test can measure.)"""
    times = [0.0, 0.04, 0.12, 0.16, 0.30]
    src = write_video(tmp_path / "vfr.mp4", bikes[:5], fps=25, times=times, crf=0)
    assert probe(src).duration == pytest.approx(0.34, abs=1e-3)
    vid = upscale(src, tmp_path / f"o.{ext}", model=FakeModel(), scene_cuts=False, progress=False, **how)
    tick = 1 / how["fps"] / 2 if "fps" in how else 0  # --fps output: time base 1 / fps, rounding to a tick
    assert probe(vid).duration == pytest.approx(0.34, abs=tick + 2e-3)
    if how:  # the joined segments keep it: display durations, not mp4's decode deltas (B-frames, VFR)
        assert probe(vid).duration < 0.38


def test_one_frame_input(tmp_path, bikes, lite, capsys):
    src = write_folder(tmp_path / "one", bikes[:1])
    got = read_folder(upscale(src, tmp_path / "o", scale=2, model=lite, progress=False))
    assert len(got) == 1 and got[0].shape == (64, 96, 3)
    with pytest.raises(VideoINRError, match="only 1 frame"):
        upscale(src, tmp_path / "o2", time_scale=2, model=lite, progress=False)
    assert not (tmp_path / "o2").exists()


# ------------------------------------------------------------------------------------------- scene cuts
def test_no_interpolation_across_scene_cut(tmp_path, shared_data):
    a = grab(shared_data / BIKES, 8)
    b = grab(shared_data / BEDROOM, 8)
    frames = a + b  # a real cut at frame 8
    src = write_folder(tmp_path / "cut", frames)
    fake = FakeModel()
    got = read_folder(upscale(src, tmp_path / "o", time_scale=4, model=fake, progress=False))
    assert len(got) == 15 * 4 + 1
    pairs = pair_indices(fake, frames)
    assert all(not (p[0] < 8 <= p[1]) for p in pairs)  # no pair straddles the cut
    assert len(pairs) == len(set(pairs))  # each pair encoded once
    m = [mean_col(f) for f in frames]
    # u = 7.25 -> frame 7 (nearer side); u = 7.5, 7.75 -> frame 8
    assert np.abs(mean_col(got[29]) - m[7]).max() <= 0.6
    assert np.abs(mean_col(got[30]) - m[8]).max() <= 0.6
    assert np.abs(mean_col(got[31]) - m[8]).max() <= 0.6
    # interpolation still happens inside each shot
    assert np.abs(mean_col(got[2]) - (m[0] + m[1]) / 2).max() <= 0.6


# --------------------------------------------------------------------------------- audio, batch, resume
def test_audio_stream_copied_and_duration_kept(tmp_path, bikes):
    src = tmp_path / "a.mp4"
    write_with_audio(src, bikes[:6], fps=10)
    out = upscale(src, tmp_path / "o.mp4", scale=2, time_scale=3, model=FakeModel(), progress=False)
    assert audio_packets(out) == audio_packets(src)
    o, i = probe(out), probe(src)
    assert o.frames == 16 and o.has_audio
    assert o.duration == pytest.approx(i.duration, abs=0.05)
    with av.open(str(out)) as c, av.open(str(src)) as d:
        v_out, v_in = c.streams.video[0], d.streams.video[0]
        assert float(v_out.duration * v_out.time_base) == pytest.approx(float(v_in.duration * v_in.time_base), abs=1e-3)


def test_folder_of_videos_and_resume_keeps_finished_outputs(tmp_path, bikes):
    inp = tmp_path / "videos"
    inp.mkdir()
    write_video(inp / "a.mp4", bikes[:2])
    write_video(inp / "b.mkv", bikes[2:4])
    outs = upscale(inp, tmp_path / "out", scale=2, model=FakeModel(), progress=False)
    assert sorted(p.name for p in outs) == ["a.mp4", "b.mkv"]
    assert probe(tmp_path / "out" / "b.mkv").width == 96
    # a batch interrupted after a.mp4: --resume keeps the finished output and makes the rest
    before = (tmp_path / "out" / "a.mp4").read_bytes()
    (tmp_path / "out" / "b.mkv").unlink()
    outs = upscale(inp, tmp_path / "out", scale=2, model=FakeModel(), progress=False, resume=True)
    assert sorted(p.name for p in outs) == ["a.mp4", "b.mkv"]
    assert (tmp_path / "out" / "a.mp4").read_bytes() == before and len(read_video(tmp_path / "out" / "b.mkv")) == 2
    with pytest.raises(VideoINRError, match="already exists"):  # without --resume an existing output is refused
        upscale(inp, tmp_path / "out", scale=2, model=FakeModel(), progress=False)


def test_one_video_extension_set_for_upscale_and_training(tmp_path, bikes):
    """A .y4m (PyAV's yuv4mpegpipe) in a folder is a video to `upscale` and to the training loader alike."""
    from videoinr.data.windows import load_clips

    inp = tmp_path / "videos"
    inp.mkdir()
    with av.open(str(inp / "a.y4m"), "w", format="yuv4mpegpipe") as c:
        s = c.add_stream("rawvideo", rate=10)
        s.width, s.height, s.pix_fmt = LR[0], LR[1], "yuv420p"
        for f in bikes[:3]:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())
    outs = upscale(inp, tmp_path / "out", scale=2, model=FakeModel(), progress=False)
    assert [p.name for p in outs] == ["a.mp4"] and probe(outs[0]).frames == 3
    assert [clip.frames.shape for clip in load_clips({"path": inp, "window": 3})] == [(3, LR[1], LR[0], 3)]


class _Stop:
    """Raise KeyboardInterrupt on the n-th call of a wrapped method (simulates Ctrl-C mid-run)."""

    def __init__(self, fn, n):
        self.fn, self.n, self.calls = fn, n, 0

    def __call__(self, *a, **k):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return self.fn(*a, **k)


@pytest.mark.filterwarnings("error:compiled rendering failed:RuntimeWarning")  # compiled must mean compiled
@pytest.mark.parametrize("kind,compiled", [("video", False), ("folder", False), ("video", True)])
def test_resume_equals_uninterrupted_run(tmp_path, bikes, lite, monkeypatch, request, kind, compiled):
    """Interrupted, then resumed: the same bytes as one uninterrupted run, also when the job's policy
    compiles the renderer (decided once per job, never from elapsed time)."""
    from videoinr.runtime import Policy

    request.addfinalizer(lambda: Policy().apply(lite))  # the module's model leaves with its switches off
    env = {"VIDEOINR_COMPILE": "1" if compiled else "0"}
    for k, v in env.items():  # the real environment: inductor passes a pointer to its C++ code through it
        monkeypatch.setenv(k, v)
    src = write_video(tmp_path / "in.mp4", bikes[:3])
    name = "o.mp4" if kind == "video" else "o"
    kw = dict(scale=2, time_scale=2, model=lite, progress=False, segment_frames=2)
    ref = upscale(src, tmp_path / f"ref_{name}", **kw)

    target = tmp_path / name
    if kind == "video":
        stop = _Stop(VideoWriter.write, 4)  # dies in the 2nd segment (frames 2, 3)
        monkeypatch.setattr(video_mod.VideoWriter, "write", lambda self, *a, **k: stop(self, *a, **k))
    else:
        from videoinr.pipeline.sinks import FolderSink

        stop = _Stop(FolderSink.write, 4)
        monkeypatch.setattr(FolderSink, "write", lambda self, *a, **k: stop(self, *a, **k))
    with pytest.raises(KeyboardInterrupt):
        upscale(src, target, **kw)
    monkeypatch.undo()
    for k, v in env.items():  # the real environment: inductor passes a pointer to its C++ code through it
        monkeypatch.setenv(k, v)
    assert not target.exists()  # nothing under the output name; finished work is kept aside
    with pytest.raises(VideoINRError, match="already exists"):
        upscale(src, ref, **kw)

    encodes = []
    orig = lite.encode
    monkeypatch.setattr(lite, "encode", lambda a, b, **k: encodes.append(1) or orig(a, b, **k))
    upscale(src, target, resume=True, **kw)
    assert lite.compile_render is compiled
    monkeypatch.undo()
    assert len(encodes) == 1  # only the unfinished pair is redone
    if kind == "video":
        assert target.read_bytes() == ref.read_bytes()
    else:
        assert sorted(os.listdir(target)) == sorted(os.listdir(ref))
        assert all((target / n).read_bytes() == (ref / n).read_bytes() for n in os.listdir(ref))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.mp4", f"ref_{name}", name])


def test_force_policy(tmp_path, bikes, capsys, weights):
    src = write_video(tmp_path / "in.mp4", bikes[:2])
    out = tmp_path / "o.mp4"
    out.write_bytes(b"precious")
    rc, err = run_cli([src, "-o", out, "--scale", "2", "--model", weights], capsys)
    assert rc == 2 and "already exists" in err and out.read_bytes() == b"precious"
    rc, err = run_cli([src, "-o", out, "--scale", "2", "--model", weights, "--force"], capsys)
    assert rc == 0 and probe(out).width == 96
    assert sorted(os.listdir(tmp_path)) == ["in.mp4", "o.mp4"]


# bad and odd inputs: tests/test_bad_inputs.py (one table)


def test_real_cuts_of_bikes_clip(tmp_path, shared_data):
    """bikes_scenecuts.mp4 has cuts at 30, 76, 137, 187, 242: positions next to them take the nearer shot."""
    fake = FakeModel()
    times = [28.5, 29.25, 29.75, 30.0, 75.4, 75.6]
    out = upscale(shared_data / BIKES, tmp_path / "o", times=times, scale=0.1, model=fake, progress=False)
    near = {f.index: f.image for f in iter_video(shared_data / BIKES) if 27 <= f.index <= 32 or 73 <= f.index <= 78}
    pairs = pair_indices(fake, near)
    assert pairs == [(28, 29), (30, 31), (74, 75), (76, 77)]
    assert len(list_frames(out)) == len(times)


def test_bundled_example(tmp_path):
    from videoinr.pipeline.cli import EXAMPLE_VIDEO, resolve_input

    assert resolve_input("example") == EXAMPLE_VIDEO and EXAMPLE_VIDEO.stat().st_size < 300_000
    info = probe(EXAMPLE_VIDEO)
    assert (info.width, info.height, info.frames, info.has_audio) == (192, 108, 60, True)
    out = upscale(EXAMPLE_VIDEO, tmp_path / "ex.mp4", scale=2, time_scale=2, model=FakeModel(), progress=False)
    o = probe(out)
    assert (o.width, o.height, o.frames, o.has_audio) == (384, 216, 119, True)
    assert o.duration == pytest.approx(info.duration, abs=0.04)


def test_max_memory_sets_render_chunk(tmp_path, bikes):
    from videoinr.pipeline import upscale_options

    assert upscale_options(max_memory="1.5G").max_memory == int(1.5 * 2**30)
    assert upscale_options(max_memory="512M").max_memory == 512 * 2**20
    assert upscale_options(max_memory="auto").max_memory is None
    seen = []
    fake = FakeModel()
    fake.encode = lambda a, b: seen.append(fake.max_query_points) or FakeState(a, b)
    src = write_folder(tmp_path / "in", bikes[:2])
    upscale(src, tmp_path / "small", scale=2, model=fake, max_memory="64M", progress=False)
    upscale(src, tmp_path / "big", scale=2, model=fake, max_memory="4G", progress=False)
    assert 1024 <= seen[0] < seen[1]
    assert fake.max_query_points == 1 << 16  # restored afterwards


def test_resume_refuses_other_settings(tmp_path, bikes, monkeypatch):
    from videoinr.pipeline.sinks import FolderSink

    src = write_folder(tmp_path / "in", bikes[:3])
    stop = _Stop(FolderSink.write, 2)
    monkeypatch.setattr(FolderSink, "write", lambda self, *a, **k: stop(self, *a, **k))
    with pytest.raises(KeyboardInterrupt):
        upscale(src, tmp_path / "o", scale=2, model=FakeModel(), progress=False)
    monkeypatch.undo()
    with pytest.raises(VideoINRError, match="other settings"):
        upscale(src, tmp_path / "o", scale=3, resume=True, model=FakeModel(), progress=False)
    # without --resume a new run starts over and succeeds
    assert len(list_frames(upscale(src, tmp_path / "o", scale=3, model=FakeModel(), progress=False))) == 3
    assert sorted(os.listdir(tmp_path)) == ["in", "o"]


def test_subtitles_stream_copied(tmp_path, bikes, capsys):
    src = tmp_path / "sub.mkv"
    with av.open(str(src), "w") as c:
        vs = c.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 48, 32, "yuv420p"
        ss = c.add_mux_stream("subrip")
        ss.time_base = Fraction(1, 1000)
        for i, img in enumerate(bikes[:4]):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts, fr.time_base = i, Fraction(1, 10)
            c.mux(vs.encode(fr))
            if i == 1:
                p = av.Packet(b"hello")
                p.stream, p.time_base, p.pts, p.dts, p.duration = ss, Fraction(1, 1000), 100, 100, 200
                c.mux(p)
        c.mux(vs.encode(None))
    out = upscale(src, tmp_path / "o.mkv", scale=2, time_scale=2, model=FakeModel(), progress=False)
    with av.open(str(out)) as c:
        subs = [(bytes(p), p.pts) for p in c.demux(c.streams.subtitles[0]) if p.size]
    assert subs == [(b"hello", 100)]
    capsys.readouterr()
    out = upscale(src, tmp_path / "o.mp4", scale=2, model=FakeModel(), progress=False)  # mp4 cannot hold SubRip
    assert probe(out).frames == 4 and "not copied" in capsys.readouterr().err
