"""`videoinr.pipeline.sinks` under a full disk (ENOSPC while writing a segment, joining segments, writing a
PNG frame): one `error: ... disk full` line, the finished work kept, and `--resume` completes it."""
from __future__ import annotations

import errno
import importlib
from pathlib import Path

import numpy as np
import pytest

from videoinr import cli
from videoinr.data.video import read_video

from av_helpers import encode, example_frames
from cli_helpers import one_error_line


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """8 real RGB frames of the example clip, cropped to 96x64."""
    return example_frames(8, crop=(64, 96))


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def _work_of(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(".") and p.is_dir()]


@pytest.fixture(scope="module")
def small_mkv(tmp_path_factory, frames) -> Path:
    return encode(tmp_path_factory.mktemp("small") / "in.mkv", frames)


def _upscale_cli(src: Path, out: Path, *extra: str) -> list[str]:
    return ["upscale", str(src), "-o", str(out), "--scale", "1", "--model", "lite", "--device", "cpu", "--quiet",
            *extra]


def test_disk_full_during_segment_keeps_finished_segments(small_mkv, tmp_path, monkeypatch, capsys) -> None:
    from videoinr.data.video import VideoWriter

    import videoinr.pipeline.cli as pcli

    real_options = pcli.upscale_options  # the CLI's options, with 3-frame segments (an API-only field)
    monkeypatch.setattr(pcli, "upscale_options", lambda *a, **k: real_options(*a, **{**k, "segment_frames": 3}))
    real_write, calls = VideoWriter.write, []

    def write(self, *a, **k):
        calls.append(1)
        if len(calls) == 5:  # the second frame of segment 1: segment 0 is finished
            _enospc()
        return real_write(self, *a, **k)

    monkeypatch.setattr(VideoWriter, "write", write)
    out = tmp_path / "o.mp4"
    assert cli.main(_upscale_cli(small_mkv, out)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "disk full" in line and "--resume" in line
    (work,) = _work_of(out)
    assert [p.name for p in sorted(work.glob("segment_*"))] == ["segment_000000.mp4"]
    assert not out.exists()
    monkeypatch.setattr(VideoWriter, "write", real_write)
    calls.clear()
    monkeypatch.setattr(VideoWriter, "write", lambda self, *a, **k: (calls.append(1), real_write(self, *a, **k))[1])
    assert cli.main(_upscale_cli(small_mkv, out, "--resume")) == 0
    assert len(calls) == 5  # segment 0 was not rendered again
    assert len(read_video(out)) == 8 and not _work_of(out)


def test_disk_full_during_join_keeps_segments(small_mkv, tmp_path, monkeypatch, capsys) -> None:
    import videoinr.data.video as video_mod

    monkeypatch.setattr(video_mod, "concat_videos", _enospc)
    out = tmp_path / "o.mp4"
    assert cli.main(_upscale_cli(small_mkv, out)) == 2
    assert "disk full" in one_error_line(capsys.readouterr().err)
    (work,) = _work_of(out)
    assert list(work.glob("segment_*")) and not out.exists()
    monkeypatch.undo()
    assert cli.main(_upscale_cli(small_mkv, out, "--resume")) == 0
    assert len(read_video(out)) == 8 and not _work_of(out)


def test_disk_full_png_output_keeps_frames(small_mkv, tmp_path, monkeypatch, capfd) -> None:
    up = importlib.import_module("videoinr.pipeline.sinks")  # FolderSink.write looks _write_file up here

    real, calls = up._write_file, []

    def write_file(path, data):
        calls.append(1)
        if len(calls) == 4:
            _enospc()
        real(path, data)

    monkeypatch.setattr(up, "_write_file", write_file)
    out = tmp_path / "frames"
    assert cli.main(_upscale_cli(small_mkv, out)) == 2
    err = capfd.readouterr().err
    assert "libpng" not in err and "disk full" in one_error_line(err)
    (work,) = _work_of(out)
    assert len(list(work.glob("*.png"))) == 3 and not list(work.glob(".*.tmp*"))
    monkeypatch.undo()
    assert cli.main(_upscale_cli(small_mkv, out, "--resume")) == 0
    assert len(list(out.glob("*.png"))) == 8
