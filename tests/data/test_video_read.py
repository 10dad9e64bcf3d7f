"""`videoinr.data.video_read`: truncated files are errors (`probe` on an index-first mp4, `read_video` on cut
mkv/webm/mp4 files), and an mkv whose audio is longer than its video is not called truncated. Real files:
tiny clips cut from the bundled example video with PyAV."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videoinr.data.video import probe, read_video
from videoinr.errors import VideoINRError
from videoinr.pipeline import EXAMPLE_VIDEO

from av_helpers import cut, encode, example_frames, write_with_audio

N_FRAMES = 30


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """30 real RGB frames of the example clip, cropped to 96x64."""
    return example_frames(N_FRAMES, crop=(64, 96))


@pytest.fixture(scope="module")
def small_frames() -> list[np.ndarray]:
    """30 real RGB frames of the example clip, cropped to 24x16."""
    return example_frames(30, crop=(16, 24))


def test_probe_detects_truncated_faststart_mp4(tmp_path, small_frames):
    full = encode(tmp_path / "full.mp4", small_frames, faststart=True)
    assert probe(full).frames == 30  # complete files still pass
    assert probe(encode(tmp_path / "plain.mp4", small_frames)).frames == 30
    assert probe(EXAMPLE_VIDEO).frames > 0
    with pytest.raises(VideoINRError, match="truncated"):
        probe(cut(full, tmp_path / "cut.mp4"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory, frames) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    out = {}
    for ext, codec in (("mkv", "libx264"), ("webm", "libvpx-vp9"), ("mp4", "libx264")):
        full = encode(root / f"full.{ext}", frames, codec)
        data = full.read_bytes()
        cut = root / f"cut.{ext}"
        cut.write_bytes(data[: int(len(data) * 0.8)])  # keeps ~11 of 30 frames decodable
        out[ext], out[f"cut.{ext}"] = full, cut
    return out


@pytest.mark.parametrize("ext", ["mkv", "webm", "mp4"])
def test_truncated_video_is_an_error(clips, ext) -> None:
    assert len(read_video(clips[ext])) == N_FRAMES  # the intact file reads whole
    with pytest.raises(VideoINRError, match="truncated|not a readable video") as e:
        read_video(clips[f"cut.{ext}"])
    assert "\n" not in str(e.value)


def test_mkv_with_longer_audio_is_not_called_truncated(tmp_path, frames) -> None:
    path = tmp_path / "a.mkv"
    write_with_audio(path, frames[:20], fps=10, seconds=4.0)  # 2 s of video, 4 s of audio
    assert len(read_video(path)) == 20
