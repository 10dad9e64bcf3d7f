"""Video I/O through PyAV on real footage: probe, streaming decode with timestamps, writing, stream copy."""
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from videoinr.data.video import (
    VideoWriter,
    concat_videos,
    iter_video,
    probe,
    read_video,
)
from videoinr.errors import VideoINRError

from av_helpers import audio_packets, write_with_audio

BIKES = Path("train/bikes_scenecuts.mp4")
DOG = Path("train/sam2_clips/01_dog.mp4")  # 1280x720, with an AAC audio stream


def _first_frames(path: Path, n: int, size: tuple[int, int] | None = (96, 64)) -> list[np.ndarray]:
    out = []
    for f in iter_video(path):
        img = f.image
        out.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA) if size else img)
        if len(out) == n:
            break
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-12))


def test_probe_real_file(shared_data):
    info = probe(shared_data / BIKES)
    assert info.fps == Fraction(25) and info.frames == 250 and info.frames_exact
    assert (info.width, info.height) == (640, 272)
    assert info.duration == pytest.approx(10.0)
    assert not info.has_audio and info.rotation == 0
    dog = probe(shared_data / DOG)
    assert dog.fps == Fraction(30000, 1001) and dog.has_audio and (dog.width, dog.height) == (1280, 720)


def test_iter_video_streams_frames_with_times(shared_data):
    frames = []
    for f in iter_video(shared_data / DOG):  # 720p: read only a few frames
        frames.append(f)
        if len(frames) == 4:
            break
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert frames[0].image.shape == (720, 1280, 3) and frames[0].image.dtype == np.uint8
    assert [f.time for f in frames] == pytest.approx([k * 1001 / 30000 for k in range(4)])


def test_read_video_all_frames(shared_data):
    frames = read_video(shared_data / BIKES)
    assert len(frames) == 250 and frames[0].shape == (272, 640, 3)


def test_writer_roundtrip_exact_size_and_odd_sizes(tmp_path, shared_data):
    frames = _first_frames(shared_data / BIKES, 6, size=None)
    for w, h in [(96, 64), (95, 63)]:
        small = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
        out = tmp_path / f"v{w}x{h}.mp4"
        with VideoWriter(out, Fraction(25), crf=12) as wr:
            for f in small:
                wr.write(f)
        info = probe(out)
        assert (info.width, info.height, info.frames) == (w, h, 6)
        assert info.pix_fmt == ("yuv420p" if w % 2 == 0 else "yuv444p")
        back = read_video(out)
        assert min(_psnr(a, b) for a, b in zip(small, back)) > 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v95x63.mp4", "v96x64.mp4"]  # no temp files left


def test_writer_keeps_variable_timestamps_and_last_duration(tmp_path, shared_data):
    frames = _first_frames(shared_data / BIKES, 5)
    times = [0.0, 0.04, 0.12, 0.16, 0.30]
    out = tmp_path / "vfr.mp4"
    with VideoWriter(out, Fraction(25), time_base=Fraction(1, 100)) as wr:
        for i, (f, t) in enumerate(zip(frames, times)):
            wr.write(f, t, duration=0.1 if i == 4 else None)
    assert [f.time for f in iter_video(out)] == pytest.approx(times)
    assert probe(out).duration == pytest.approx(0.40, abs=1e-3)


def test_writer_stream_copies_audio_and_metadata(tmp_path, shared_data):
    frames = _first_frames(shared_data / BIKES, 8, size=(48, 32))
    src = tmp_path / "with_audio.mp4"
    write_with_audio(src, frames, fps=10)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, Fraction(10), source=src) as wr:
        for f in iter_video(src):
            wr.write(np.ascontiguousarray(np.repeat(np.repeat(f.image, 2, 0), 2, 1)), f.time)
    assert probe(out).has_audio
    assert audio_packets(out) == audio_packets(src)  # bit-exact stream copy
    assert probe(out).duration == pytest.approx(probe(src).duration, abs=0.1)


def test_writer_carries_rotation_and_full_range(tmp_path, shared_data):
    frames = _first_frames(shared_data / BIKES, 3)
    src = tmp_path / "rot.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.codec_context.color_range = 2
        s.set_display_rotation(90)
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p", dst_color_range=2)
            fr.pts = i
            c.mux(s.encode(fr))
        c.mux(s.encode(None))
    info = probe(src)
    assert info.rotation == 90 and info.color_range == 2
    decoded = read_video(src)
    assert min(_psnr(a, b) for a, b in zip(frames, decoded)) > 28  # full range decoded as full range
    out = tmp_path / "out.mp4"
    with VideoWriter(out, Fraction(25), source=src) as wr:
        for f in decoded:
            wr.write(f)
    o = probe(out)
    assert o.rotation == 90 and o.color_range == 2
    assert min(_psnr(a, b) for a, b in zip(frames, read_video(out))) > 28


def test_writer_error_removes_temp_file(tmp_path, shared_data):
    frames = _first_frames(shared_data / BIKES, 2)
    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 25) as wr:
            wr.write(frames[0])
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_concat_equals_parts(tmp_path, shared_data):
    frames = _first_frames(shared_data / BIKES, 9, size=(48, 32))
    parts = []
    for k in range(0, 9, 4):
        p = tmp_path / f"part{k}.mp4"
        with VideoWriter(p, 25, crf=0) as wr:
            for i in range(k, min(k + 4, 9)):
                wr.write(frames[i], i / 25)
        parts.append(p)
    joined = concat_videos(parts, tmp_path / "joined.mkv")
    got = list(iter_video(joined))
    assert len(got) == 9
    assert [g.time for g in got] == pytest.approx([i / 25 for i in range(9)], abs=1e-3)
    assert min(_psnr(a, g.image) for a, g in zip(frames, got)) > 40


@pytest.mark.parametrize("case", ["missing", "empty", "random", "truncated", "folder"])
def test_unreadable_files_raise_one_line_error(tmp_path, shared_data, case):
    path = tmp_path / "bad.mp4"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    elif case == "truncated":
        # moov atom first ("faststart"), so a cut file opens but ends early
        frames = _first_frames(shared_data / BIKES, 20)
        full = tmp_path / "full.mp4"
        with av.open(str(full), "w", options={"movflags": "faststart"}) as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
            for i, img in enumerate(frames):
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                fr.pts = i
                c.mux(s.encode(fr))
            c.mux(s.encode(None))
        data = full.read_bytes()
        path.write_bytes(data[: len(data) * 6 // 10])
    elif case == "folder":
        path = tmp_path
    with pytest.raises(VideoINRError) as e:
        read_video(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
