"""Issue 15 items 6, 7, 4: `eval` output/usage/progress faults, truncated mkv/webm inputs, full disk in upscale.

Real files throughout: tiny clips cut from the bundled example video with PyAV.
"""
from __future__ import annotations

import errno
import importlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from videoinr import cli
from videoinr.data.video import read_video
from videoinr.errors import VideoINRError

from av_helpers import example_frames, write_with_audio
from cli_helpers import one_error_line

N_FRAMES = 30


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """30 real RGB frames of the example clip, cropped to 96x64."""
    return example_frames(N_FRAMES, crop=(64, 96))


def _encode(path: Path, frames: list[np.ndarray], codec: str, fps: int = 10) -> Path:
    with av.open(str(path), "w") as c:
        vs = c.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts, fr.time_base = i, Fraction(1, fps)
            c.mux(vs.encode(fr))
        c.mux(vs.encode(None))
    return path


# ------------------------------------------------------------------------------------------------ item 7
@pytest.fixture(scope="module")
def clips(tmp_path_factory, frames) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    out = {}
    for ext, codec in (("mkv", "libx264"), ("webm", "libvpx-vp9"), ("mp4", "libx264")):
        full = _encode(root / f"full.{ext}", frames, codec)
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


# the command on a truncated mkv: tests/test_bad_inputs.py (truncated_mkv)


# ------------------------------------------------------------------------------------------------ item 6
@pytest.fixture(scope="module")
def dataset(tmp_path_factory, frames) -> Path:
    """One sequence of 5 frames; frame 3 has another size (fails mid-evaluation)."""
    root = tmp_path_factory.mktemp("evaldata") / "data"
    (root / "seq").mkdir(parents=True)
    for i in range(5):
        img = frames[i] if i != 3 else frames[i][:48, :80]
        cv2.imwrite(str(root / "seq" / f"{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


@pytest.mark.parametrize("kind", ["file", "under_file", "results_dir"])
def test_eval_checks_out_before_working(kind, dataset, tmp_path, monkeypatch, capsys) -> None:
    import videoinr.evaluate.cli as ev

    def boom(*a, **k):
        raise AssertionError("evaluation ran although --out is unusable")

    monkeypatch.setattr(ev, "evaluate", boom)
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    out = {"file": blocker, "under_file": blocker / "out"}.get(kind, tmp_path / "o")
    if kind == "results_dir":
        (out / "results.json").mkdir(parents=True)
    argv = ["eval", "vid4", "--data", str(dataset), "--methods", "bicubic-blend", "--out", str(out)]
    assert cli.main(argv + ["--no-progress"]) == 2
    one_error_line(capsys.readouterr().err)
    assert blocker.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["blocker"] or kind == "results_dir"


def test_eval_disk_error_while_writing_is_one_line(dataset, tmp_path, monkeypatch, capsys) -> None:
    import videoinr.evaluate.report as ev

    ok = tmp_path / "data"
    (ok / "seq").mkdir(parents=True)
    for p in sorted((dataset / "seq").glob("*.png"))[:3]:
        (ok / "seq" / p.name).write_bytes(p.read_bytes())

    def full(path, write):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ev, "_replace_write", full)
    argv = ["eval", "vid4", "--data", str(ok), "--methods", "bicubic-blend", "--out", str(tmp_path / "o"), "--no-progress"]
    assert cli.main(argv) == 2
    assert "No space left" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["eval"], ["eval", "vid4", "--scale", "x"], ["train"], ["train", "--out", "o", "--bogus"]])
def test_eval_train_usage_errors_are_one_line(argv, capsys) -> None:
    assert cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: videoinr {argv[0]}: ")


def test_eval_error_not_glued_to_progress_bar(dataset, tmp_path, capsys) -> None:
    argv = ["eval", "vid4", "--data", str(dataset), "--methods", "bicubic-blend", "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 2  # progress bar on
    err = capsys.readouterr().err
    hits = [ln for ln in err.split("\n") if "error:" in ln]
    assert len(hits) == 1 and hits[0].startswith("error: ") and "frame size differs" in hits[0], err
    assert err.rstrip("\n").split("\n")[-1] == hits[0]


# ------------------------------------------------------------------------------------------------ item 4
def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


def _work_of(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(".") and p.is_dir()]


@pytest.fixture(scope="module")
def small_mkv(tmp_path_factory, frames) -> Path:
    return _encode(tmp_path_factory.mktemp("small") / "in.mkv", frames[:8], "libx264")


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
    assert len(list(work.glob("*.png"))) == 3 and not list(work.glob(".*.tmp.png"))
    monkeypatch.undo()
    assert cli.main(_upscale_cli(small_mkv, out, "--resume")) == 0
    assert len(list(out.glob("*.png"))) == 8


@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_eval_out_inside_data_is_refused_before_work(where, dataset, tmp_path, monkeypatch, capsys) -> None:
    """Issue 26 #9: `--out` equal to or inside `--data` (or holding it) would write results.json, plots and
    crops into the dataset, which the next `eval` on it then rejects; refused before any work."""
    import shutil

    import videoinr.evaluate.cli as ev

    def boom(*a, **k):
        raise AssertionError("evaluation ran although --out overlaps --data")

    monkeypatch.setattr(ev, "evaluate", boom)
    data = tmp_path / "ds" / "data"
    shutil.copytree(dataset, data)
    out = {"same": data, "inside": data / "seq" / "results", "around": tmp_path / "ds"}[where]
    before = sorted((p.relative_to(tmp_path), p.stat().st_size) for p in tmp_path.rglob("*"))
    argv = ["eval", "vid4", "--data", str(data), "--methods", "bicubic-blend", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--data" in line and ("inside" in line or "contains" in line), line
    assert sorted((p.relative_to(tmp_path), p.stat().st_size) for p in tmp_path.rglob("*")) == before
