"""Issue 23: the formats video people bring, through the real `videoinr upscale` command on tiny clips.

- the codec follows the container (.webm: VP9, else H.264), `--preset` passes through to the encoder, and a
  codec/container or preset mismatch the user asked for is one `error:` line with nothing written.
"""
from __future__ import annotations

import os
from pathlib import Path

import av
import pytest

from av_helpers import example_frames, write_with_audio
from cli_helpers import one_error_line, run_cli

LR = (48, 32)  # (W, H)


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
    import videoinr.data.video_write as vw

    monkeypatch.setattr(vw, "_has_encoder", lambda c: c in ("libsvtav1", "libaom-av1"))
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
