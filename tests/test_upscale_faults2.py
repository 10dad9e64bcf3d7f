"""`videoinr upscale` faults, issue 15 item 8 and two minor ones: a folder of videos with one truncated
(index-first, "faststart") mp4 is refused up front with nothing written; SIGTERM says `error: terminated`
and keeps the finished work for `--resume` like Ctrl-C; `--region -5,0,10,10` reports the negative X.

Real files (tiny clips cut from the bundled example with PyAV) and, for SIGTERM, a real process.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

from videoinr.data.frames import list_frames
from videoinr.data.video import probe
from videoinr.errors import VideoINRError
from videoinr.pipeline import EXAMPLE_VIDEO

from av_helpers import example_frames
from cli_helpers import one_error_line, run_cli


@pytest.fixture(scope="module")
def frames():
    return example_frames(30, crop=(16, 24))


def encode(path: Path, frames, faststart: bool = True) -> Path:
    opts = {"movflags": "faststart"} if faststart and path.suffix == ".mp4" else {}
    with av.open(str(path), "w", options=opts) as c:
        vs = c.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts, fr.time_base = i, Fraction(1, 10)
            c.mux(vs.encode(fr))
        c.mux(vs.encode(None))
    return path


def cut(src: Path, dst: Path, keep: float = 0.9) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])  # index (moov) first: keeps it, loses the last frames
    return dst


# ------------------------------------------------------------------- 8. truncated file in a batch folder
def test_probe_detects_truncated_faststart_mp4(tmp_path, frames):
    full = encode(tmp_path / "full.mp4", frames)
    assert probe(full).frames == 30  # complete files still pass
    assert probe(encode(tmp_path / "plain.mp4", frames, faststart=False)).frames == 30
    assert probe(EXAMPLE_VIDEO).frames > 0
    with pytest.raises(VideoINRError, match="truncated"):
        probe(cut(full, tmp_path / "cut.mp4"))


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


# ------------------------------------------------------------------------------------------ SIGTERM
HELD = textwrap.dedent("""
    import importlib, sys, time
    from pathlib import Path
    u = importlib.import_module("videoinr.pipeline.sinks")
    ready = Path(sys.argv[1])
    orig = u.FolderSink.write
    calls = []
    def write(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:  # the first frame is written; hold at the second
            ready.touch()
            while True:
                time.sleep(0.05)
        return orig(self, *a, **k)
    u.FolderSink.write = write
    from videoinr.cli import main
    sys.exit(main(["upscale", *sys.argv[2:]]))
""")


def test_sigterm_says_terminated_and_keeps_work_for_resume(tmp_path, frames, weights, capsys):
    src = encode(tmp_path / "in.mp4", frames[:3])
    out = tmp_path / "frames"
    args = [src, "-o", out, "--scale", "2", "--model", weights, "--quiet"]
    ready = tmp_path / "ready"  # removed below
    proc = subprocess.Popen([sys.executable, "-c", HELD, ready, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.monotonic()
        while not ready.exists():
            if proc.poll() is not None:
                pytest.fail(f"run ended early: {proc.communicate()}")
            if time.monotonic() - t0 > 60:
                pytest.fail("run did not reach its second frame write within 60 s")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    line = one_error_line(err)
    assert line.startswith("error: terminated") and "--resume" in line
    work = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(work) == 1 and str(work[0]) in line  # finished work kept, not under the output name
    assert not out.exists()
    rc, err = run_cli([src, "-o", out, "--scale", "2", "--model", weights, "--resume"], capsys)
    assert rc == 0, err
    assert len(list_frames(out)) == 3
    ready.unlink()
    assert sorted(os.listdir(tmp_path)) == ["frames", "in.mp4"]


# ------------------------------------------------------------------------------------ --region -5,...
@pytest.mark.parametrize("form", [["--region", "-5,0,10,10"], ["--region=-5,0,10,10"]])
def test_negative_region_reports_the_real_problem(tmp_path, frames, weights, capsys, form):
    src = encode(tmp_path / "in.mp4", frames[:3])
    out = tmp_path / "o.mp4"
    rc, err = run_cli([src, "-o", out, "--model", weights, *form], capsys)
    assert rc == 2
    line = one_error_line(err)
    assert "--region -5,0,10,10" in line and "X, Y must be >= 0" in line
    assert "expected one argument" not in err
    assert not out.exists()


# ------------------------------------------- issue 26 #3: a batch probes every input before rendering any
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
