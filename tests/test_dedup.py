"""Issue 23, duplicate frames: `--dedup [THRESHOLD]` renders from the distinct frames only, by their true
timestamps, at the same output frame rate; the estimate and progress count the frames actually rendered."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from videoinr.data.frames import list_frames, read_image
from videoinr.data.video import VideoWriter, probe
from videoinr.errors import VideoINRError
from videoinr.pipeline import upscale

from cli_helpers import one_error_line, run_cli
from test_formats import PassModel

HOLDS = [2, 3, 2, 3, 3]  # anime-style: each drawing shown 2 or 3 times; the last one held
STEP = 2  # pixels the square moves per input frame (true motion, sampled on the drawings' first frames)


def drawn_clip(path: Path) -> Path:
    """A white 6x6 square on gray moving right STEP px per frame, redrawn only on each drawing's first frame
    (the drawings' positions follow the true times); H.264 CRF 23, so repeats carry compression noise."""
    frames, i = [], 0
    for hold in HOLDS:
        img = np.full((32, 48, 3), 60, np.uint8)
        img[13:19, 4 + STEP * i : 10 + STEP * i] = 240
        frames += [img] * hold
        i += hold
    with VideoWriter(path, 10, crf=23) as w:
        for f in frames:
            w.write(f)
    return path


def centroid_x(img: np.ndarray) -> float:
    """x of the brightness centroid above the background: a linear blend of two frames moves it linearly."""
    y = img.astype(np.float64).mean(2) - 60
    y = np.clip(y, 0, None)
    return float((y.sum(0) * np.arange(img.shape[1])).sum() / y.sum())


class CountingPass(PassModel):
    def __init__(self):
        super().__init__()
        self.encodes = 0

    def encode(self, a, b):
        self.encodes += 1
        return super().encode(a, b)


def test_dedup_interpolates_real_motion_evenly(tmp_path):
    src = drawn_clip(tmp_path / "anime.mp4")
    n_in = sum(HOLDS)
    last_drawing = n_in - HOLDS[-1]  # input frame 10: after it, nothing new is drawn
    runs = {}
    for dedup in (None, True):
        model, seen = CountingPass(), []
        out = upscale(src, tmp_path / f"o_{dedup}", time_scale=2, dedup=dedup, model=model, scene_cuts=False,
                      progress=False, on_progress=lambda d, t: seen.append((d, t)))
        xs = [centroid_x(read_image(p)) for p in list_frames(out)]
        runs[dedup] = xs, model.encodes, seen[-1]
    (plain, plain_enc, plain_prog), (xs, enc, prog) = runs[None], runs[True]
    assert len(xs) == len(plain) == (n_in - 1) * 2 + 1  # the same frames at the same rate
    moving = np.diff(xs[: 2 * last_drawing + 1])  # output frames up to the last drawing
    assert (moving > 0).all() and np.abs(moving - STEP / 2).max() < 0.15, moving  # monotone, even: no stutter
    assert np.abs(np.diff(xs[2 * last_drawing :])).max() < 0.05  # then the last drawing is held
    assert (np.abs(np.diff(plain)) < 0.05).sum() >= 10  # without --dedup: stalls on every repeat (stutter)
    assert (enc, plain_enc) == (len(HOLDS) - 1, n_in - 1)  # 4 pairs encoded instead of 12
    # progress counts rendered frames: the 4 held copies of the last drawing are not rendered
    assert plain_prog == (len(plain), len(plain)) and prog == (len(xs) - 4, len(xs) - 4)


def test_dedup_on_the_command_line(tmp_path, weights, capsys):
    src = drawn_clip(tmp_path / "anime.mp4")
    out = tmp_path / "o.mp4"
    rc = run_cli([src, "-o", out, "--fps", "20", "--dedup", "--model", weights], capsys)[0]
    assert rc == 0 and probe(out).frames == 25  # 0 .. 1.2 s at 20 fps
    for bad, msg in (("-1", "must be in 0..255"), ("x", "not a number")):
        rc, err = run_cli([src, "-o", tmp_path / "p.mp4", "--dedup", bad, "--model", weights], capsys)
        assert rc == 2 and msg in one_error_line(err)
    assert sorted(os.listdir(tmp_path)) == ["anime.mp4", "o.mp4"]


def test_dedup_threshold_and_estimate(tmp_path):
    from videoinr.pipeline import estimate
    from videoinr.pipeline.scan import scan

    src = drawn_clip(tmp_path / "anime.mp4")
    assert scan(src, dedup=20.0).keep == [0, 2, 5, 7, 10]
    assert scan(src, dedup=255.0).keep == [0]  # everything within the threshold of the first frame
    assert scan(src).keep is None  # off by default
    e = estimate(src, time_scale=2, model=PassModel(), dedup=True)
    assert e.frames_out == 25
    with pytest.raises(VideoINRError, match="--dedup"):
        upscale(src, tmp_path / "o", dedup="nan", model=PassModel(), progress=False)


def test_dedup_resume_equals_uninterrupted_run(tmp_path, monkeypatch):
    """Interrupted inside the held tail (copies span segments), then resumed: the same video."""
    import videoinr.data.video as video_mod

    src = drawn_clip(tmp_path / "anime.mp4")
    kw = dict(time_scale=2, dedup=True, scene_cuts=False, progress=False, segment_frames=4)
    ref = upscale(src, tmp_path / "ref.mp4", model=PassModel(), **kw)
    calls = []
    write = video_mod.VideoWriter.write

    def stop(self, *a, **k):
        calls.append(1)
        if len(calls) == 23:  # in the 6th segment, output frames 20..23: the held tail
            raise KeyboardInterrupt
        return write(self, *a, **k)

    monkeypatch.setattr(video_mod.VideoWriter, "write", stop)
    with pytest.raises(KeyboardInterrupt):
        upscale(src, tmp_path / "o.mp4", model=PassModel(), **kw)
    monkeypatch.undo()
    out = upscale(src, tmp_path / "o.mp4", model=PassModel(), resume=True, **kw)
    # the same frames at the same times: decoded pictures and every packet's timing equal. Not the same
    # bytes: on this flat drawn clip x264 does not always repeat its bitstream even uninterrupted, with
    # identical input frames (2026-12-04: 4 of 30 plain runs differed in a few mdat bytes, decoding equal)
    want = _decoded(ref)
    assert len(want[1]) > 20 and _decoded(out) == want


def _decoded(path: Path) -> tuple[list, list]:
    """(pts, dts, duration) of every video packet, and the md5 of every decoded picture."""
    import hashlib

    import av

    with av.open(str(path)) as c:
        timing = [(p.pts, p.dts, p.duration) for p in c.demux(video=0) if p.size]
    with av.open(str(path)) as c:
        pictures = [hashlib.md5(f.to_ndarray(format="yuv420p").tobytes()).hexdigest() for f in c.decode(video=0)]
    return timing, pictures
