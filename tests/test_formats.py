"""Issue 23: the formats video people bring, through the real `videoinr upscale` command on tiny clips.

- the codec follows the container (.webm: VP9, else H.264), `--preset` passes through to the encoder, and a
  codec/container or preset mismatch the user asked for is one `error:` line with nothing written;
- 10/12-bit in, 10/12-bit out: decoded as 16-bit RGB, encoded yuv420p10le/12le, colour metadata (HDR's PQ and
  HLG included) copied; 16-bit PNGs for a frame folder.
"""
from __future__ import annotations

import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from torch import nn

from av_helpers import example_frames, write_with_audio
from cli_helpers import one_error_line, run_cli

LR = (48, 32)  # (W, H)
PQ = {"color_primaries": 9, "color_trc": 16, "colorspace": 9, "color_range": 1}  # BT.2020, SMPTE 2084, limited
HLG = {**PQ, "color_trc": 18}  # ARIB STD-B67


def write_deep(path: Path, n: int = 3, bits: int = 10, look: dict | None = None) -> Path:
    """A lossless `bits`-deep (10: H.264 High 10, 12: HEVC) gray gradient, 64x48, 10 fps: the luma ramps over
    the frame in row-major order through nearly all 2^bits levels, shifted by one level per frame."""
    W, H = 64, 48
    fmt = f"yuv420p{bits}le"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264" if bits == 10 else "libx265", rate=10)
        s.width, s.height, s.pix_fmt = W, H, fmt
        s.options = {"qp": "0"} if bits == 10 else {"x265-params": "log-level=error:lossless=1"}
        for k, v in (look or {}).items():
            setattr(s.codec_context, k, v)
        top = (1 << bits) - 1
        for i in range(n):
            v = (np.arange(H * W).reshape(H, W) * top // (H * W - 1) + i).clip(0, top).astype(np.uint16)
            img = np.repeat((v << (16 - bits))[..., None], 3, axis=2)
            f = av.VideoFrame.from_ndarray(img, format="rgb48le").reformat(
                format=fmt, dst_colorspace=(look or {}).get("colorspace"), dst_color_range=1)
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return path


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane of a decoded frame as stored (uint16 for 10/12-bit formats), without line padding."""
    plane = frame.planes[0]
    dt = np.dtype(np.uint16 if frame.format.components[0].bits > 8 else np.uint8)
    return np.frombuffer(plane, dt).reshape(frame.height, plane.line_size // dt.itemsize)[:, : frame.width]


def lumas(path: Path) -> tuple[list[np.ndarray], av.VideoFrame, object]:
    """(Y planes of every frame, the first frame, the stream's codec context) of a video file."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        frames = list(c.decode(vs))
        return [luma(f) for f in frames], frames[0], vs.codec_context


class PassState:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def render(self, size, t, region=None):
        assert tuple(size) == tuple(self.a.shape[-2:])  # scale 1 only
        x, y, w, h = region or (0, 0, size[1], size[0])
        t = torch.tensor(t, dtype=torch.float32)[None, :, None, None, None]
        rgb = self.a[:, None] * (1 - t) + self.b[:, None] * t  # (1, T, 3, H, W)
        return rgb[..., y : y + h, x : x + w]


class PassModel(nn.Module):
    """At scale 1, renders the input pair blended linearly in t (t = 0, 1: the input frames, exactly)."""

    def __init__(self):
        super().__init__()
        from videoinr.models.config import CONFIGS

        self.cfg = CONFIGS["lite"]
        self.w = nn.Parameter(torch.zeros(1))
        self.max_query_points = 1 << 16

    def encode(self, a, b):
        return PassState(a, b)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """3 frames of the bundled clip at 48x32, H.264 + AAC, 10 fps."""
    p = tmp_path_factory.mktemp("clip") / "in.mp4"
    write_with_audio(p, example_frames(3, resize=LR), fps=10)
    return p


# ------------------------------------------------------------------------------ 2: codec follows container
@pytest.mark.parametrize("ext,want,extra", [("webm", "vp9", []), ("mkv", "h264", ["--preset", "ultrafast"])])
def test_codec_follows_the_container_and_preset_passes_through(tmp_path, clip, weights, capsys, ext, want, extra):
    """No --codec: .webm gets VP9, .mkv H.264. x264 writes its settings into the stream (an SEI message):
    --preset ultrafast shows as subme=0 (the default preset, medium, has subme=7)."""
    out = tmp_path / f"o.{ext}"
    rc, err = run_cli([clip, "-o", out, "--scale", "2", "--model", weights, *extra], capsys)
    assert rc == 0, err
    with av.open(str(out)) as c:
        vs = c.streams.video[0]
        assert vs.codec_context.codec.canonical_name == want
        assert (vs.codec_context.width, vs.codec_context.height) == (96, 64)
        assert sum(1 for _ in c.decode(vs)) == 3
    assert sorted(os.listdir(tmp_path)) == [out.name]
    if extra:
        assert b"subme=0" in out.read_bytes()


def test_webm_falls_back_to_av1_without_vp9(monkeypatch):
    import videoinr.data.video_codecs as vw

    monkeypatch.setattr(vw, "_has_encoder", lambda c: c not in ("libvpx-vp9", "librav1e"))
    assert vw.default_codec("x.webm") == "libsvtav1" and vw.default_codec("x.mp4") == "libx264"


@pytest.mark.parametrize("out,extra,msg", [
    ("o.webm", ["--codec", "libx264"], ".webm cannot hold libx264"),
    ("o.mp4", ["--preset", "bogus"], "not a preset of libx264"),
    ("o.webm", ["--preset", "slow"], "libvpx-vp9 has no presets"),
    ("o.mkv", ["--codec", "nosuchcodec"], "no such encoder"),
])
def test_mismatch_the_user_asked_for_is_one_error_line(tmp_path, clip, weights, capsys, out, extra, msg):
    rc, err = run_cli([clip, "-o", tmp_path / out, "--scale", "2", "--model", weights, *extra], capsys)
    assert rc == 2 and msg in one_error_line(err)
    assert os.listdir(tmp_path) == []


# -------------------------------------------------------------------------------- 3: 10-bit in, 10-bit out
def test_ten_bit_gradient_survives(tmp_path):
    """A 10-bit gradient through the pipeline (a pass-through model at scale 1) comes out 10-bit with more
    than 256 distinct levels, within compression noise of the input; the 8-bit path would keep at most 256."""
    from videoinr import upscale

    src = write_deep(tmp_path / "in.mkv")
    out = upscale(src, tmp_path / "out.mp4", model=PassModel(), scene_cuts=False, progress=False, crf=0)
    got, first, cc = lumas(out)
    want, _, _ = lumas(src)
    assert first.format.name == "yuv420p10le" and cc.profile == "High 10" and len(got) == 3
    assert len(np.unique(got[0])) > 256  # 836 measured; before, 8-bit output: 184
    for g, w in zip(got, want):  # in 10-bit levels (measured 0.33 and 2; rounding to 8 bits alone: ~1 and 2)
        d = np.abs(g.astype(int) - w)
        assert d.mean() < 0.6 and d.max() <= 4


@pytest.mark.parametrize("bits,look,ext,want", [(10, PQ, "mp4", ("h264", "yuv420p10le")),
                                                (10, PQ, "webm", ("av1", "yuv420p10le")),
                                                (12, HLG, "mkv", ("hevc", "yuv420p12le"))])
def test_deep_video_keeps_depth_and_colour_metadata(tmp_path, weights, capsys, bits, look, ext, want):
    """Through the command with a real (random-init) model: the output keeps the input's depth with the
    container's default encoder (H.264 High 10; AV1 in .webm, where this FFmpeg's VP9 is 8-bit only; HEVC
    for 12-bit), and its HDR colour metadata (primaries, transfer, matrix, range) on stream and frames."""
    src = write_deep(tmp_path / "in.mkv", bits=bits, look=look)
    out = tmp_path / f"o.{ext}"
    rc, err = run_cli([src, "-o", out, "--scale", "2", "--time-scale", "2", "--model", weights], capsys)
    assert rc == 0, err
    got, first, cc = lumas(out)
    assert (cc.codec.canonical_name, first.format.name) == want and len(got) == 5
    assert got[0].shape == (96, 128) and len(np.unique(got[0])) > 256
    for k, v in look.items():
        assert int(getattr(cc, k)) == v and int(getattr(first, k)) == v, k


def test_deep_video_to_frames_is_16_bit_png(tmp_path, weights, capsys):
    src = write_deep(tmp_path / "in.mkv", n=2)
    rc, err = run_cli([src, "-o", tmp_path / "o", "--scale", "2", "--model", weights], capsys)
    assert rc == 0, err
    img = cv2.imread(str(tmp_path / "o" / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert img.dtype == np.uint16 and img.shape == (96, 128, 3) and len(np.unique(img)) > 256


def test_deep_odd_size_in_webm(tmp_path, weights, capsys):
    """An odd size that 10-bit AV1 (4:2:0 only here) cannot store: the default falls back to 8-bit VP9 4:4:4
    with a note; an explicit --codec libsvtav1 is one error line naming the output, nothing written."""
    src = write_deep(tmp_path / "in.mkv", n=2)
    rc, err = run_cli([src, "-o", tmp_path / "o.webm", "--size", "33x21", "--model", weights], capsys)
    assert rc == 0, err
    with av.open(str(tmp_path / "o.webm")) as c:
        assert c.streams.video[0].codec_context.codec.canonical_name == "vp9"
    bad = tmp_path / "p.webm"
    rc, err = run_cli([src, "-o", bad, "--size", "33x21", "--codec", "libsvtav1", "--model", weights], capsys)
    assert rc == 2 and one_error_line(err).startswith(f"error: {bad}: size 33x21 is odd")
    assert sorted(os.listdir(tmp_path)) == ["in.mkv", "o.webm"]
