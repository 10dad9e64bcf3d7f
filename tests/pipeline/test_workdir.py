"""`videoinr.pipeline.workdir` through the real command: what `--force` may replace (never the input or
folders it did not write), the lock that stops a second run on one output (and is released when a run is
killed), output names near the file-name length limit, and `--resume` verifying every file it reuses
(size and checksum) with every finished file fsynced before its rename and its folder after.

Real files and real processes: the concurrent-run tests start real `videoinr upscale` processes (the first
one held at its first frame write by a gate file, so the second one starts while the first holds the lock).
Inputs are tiny (3 frames of 24x16) and the model is a random-init `lite`, so each test takes seconds.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import pytest

from videoinr.data.frames import list_frames
from videoinr.data.video import VideoWriter, probe

from av_helpers import example_frames
from cli_helpers import one_error_line, run_cli

LR = (24, 16)  # (W, H) of the test frames


# ----------------------------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def frames():
    return example_frames(3, resize=LR)


def write_video(path: Path, frames) -> Path:
    with VideoWriter(path, 10, crf=12) as w:
        for f in frames:
            w.write(f)
    return path


def write_folder(folder: Path, frames) -> Path:
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"f{i}.png"), f[..., ::-1])
    return folder


def snapshot(root: Path) -> dict:
    """Every file and folder under root (hidden ones included) -> its bytes (None for folders)."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


# ------------------------------------------------------------------------------- 1. --force and the input
def test_force_refuses_output_folder_that_contains_frame_folder_input(tmp_path, frames, weights, capsys):
    proj = tmp_path / "proj"
    write_folder(proj / "frames", frames)
    (proj / "notes.txt").write_text("not yours")
    before = snapshot(tmp_path)
    rc, err = run_cli([proj / "frames", "-o", proj, "--scale", "2", "--model", weights, "--force"], capsys)
    assert rc == 2 and "contains the input" in one_error_line(err)
    assert snapshot(tmp_path) == before


def test_force_refuses_output_folder_that_contains_video_input(tmp_path, frames, weights, capsys):
    d = tmp_path / "dir"
    d.mkdir()
    src = write_video(d / "in.mp4", frames)
    before = snapshot(tmp_path)
    rc, err = run_cli([src, "-o", d, "--scale", "2", "--model", weights, "--force"], capsys)
    assert rc == 2 and "contains the input" in one_error_line(err)
    assert snapshot(tmp_path) == before


def test_force_refuses_folders_it_did_not_write(tmp_path, frames, weights, capsys):
    src = write_video(tmp_path / "in.mp4", frames)
    # a video output name that is a non-empty folder
    (tmp_path / "o.mp4" / "sub").mkdir(parents=True)
    (tmp_path / "o.mp4" / "sub" / "keep.txt").write_text("keep")
    # a folder output holding something besides numbered frames
    (tmp_path / "frames_out").mkdir()
    (tmp_path / "frames_out" / "000000.png").write_bytes(b"png?")
    (tmp_path / "frames_out" / "notes.txt").write_text("keep")
    # a folder output name that is a file
    (tmp_path / "plain").write_text("keep")
    before = snapshot(tmp_path)
    for out, what in [("o.mp4", "is a folder"), ("frames_out", "notes.txt"), ("plain", "not a folder")]:
        rc, err = run_cli([src, "-o", tmp_path / out, "--scale", "2", "--model", weights, "--force"], capsys)
        assert rc == 2 and what in one_error_line(err), (out, err)
        assert snapshot(tmp_path) == before


def test_force_replaces_a_previous_frame_folder_output(tmp_path, frames, weights, capsys):
    src = write_video(tmp_path / "in.mp4", frames)
    out = tmp_path / "big"
    rc, err = run_cli([src, "-o", out, "--scale", "2", "--model", weights], capsys)
    assert rc == 0, err
    rc, err = run_cli([src, "-o", out, "--scale", "3", "--model", weights, "--force"], capsys)
    assert rc == 0, err
    got = list_frames(out)
    assert [p.name for p in got] == ["000000.png", "000001.png", "000002.png"]
    assert cv2.imread(str(got[0])).shape == (48, 72, 3)
    assert sorted(os.listdir(tmp_path)) == ["big", "in.mp4"]


# --------------------------------------------------------------------------- 2. two runs on one output
GATED = textwrap.dedent("""
    import importlib, sys, time
    from pathlib import Path
    u = importlib.import_module("videoinr.pipeline.sinks")
    gate, ready = Path(sys.argv[1]), Path(sys.argv[2])
    orig = u.FolderSink.write
    def write(self, *a, **k):
        ready.touch()
        while not gate.exists():
            time.sleep(0.05)
        return orig(self, *a, **k)
    u.FolderSink.write = write
    from videoinr.cli import main
    sys.exit(main(["upscale", *sys.argv[3:]]))
""")


def start_gated(tmp_path: Path, args) -> tuple[subprocess.Popen, Path]:
    """A real `videoinr upscale` process that stops at its first frame write until `gate` exists."""
    gate, ready = tmp_path / "gate", tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", GATED, gate, ready, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not ready.exists():
        if proc.poll() is not None:
            pytest.fail(f"first run ended early: {proc.communicate()}")
        if time.monotonic() - t0 > 60:
            proc.kill()
            pytest.fail("first run did not reach its first frame write within 60 s")
        time.sleep(0.05)
    return proc, gate


def test_second_run_on_same_output_stops_at_once(tmp_path, frames, weights):
    src = write_folder(tmp_path / "in", frames)
    out = tmp_path / "o"
    args = [src, "-o", out, "--scale", "2", "--model", weights, "--quiet"]
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    first, gate = start_gated(ctl, args)
    try:
        work = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert len(work) == 1  # the first run's hidden work folder
        before = snapshot(tmp_path)
        t0 = time.monotonic()
        second = subprocess.run([sys.executable, "-m", "videoinr.cli", "upscale", *map(str, args)],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        line = one_error_line(second.stderr)
        assert str(first.pid) in line and "another" in line
        assert time.monotonic() - t0 < 60
        assert snapshot(tmp_path) == before  # the first run's files are untouched
        gate.touch()
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert [p.name for p in list_frames(out)] == ["000000.png", "000001.png", "000002.png"]
    assert sorted(os.listdir(tmp_path)) == ["ctl", "in", "o"]


def test_lock_of_a_killed_run_is_released(tmp_path, frames, weights, capsys):
    src = write_video(tmp_path / "in.mp4", frames)
    out = tmp_path / "frames"
    args = [src, "-o", out, "--scale", "2", "--model", weights]
    ctl = tmp_path / "ctl"
    ctl.mkdir()
    first, _ = start_gated(ctl, [*args, "--quiet"])
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    # the killed run's work folder (with its lock file) stays for --resume; the OS released the lock
    rc, err = run_cli([*args, "--resume"], capsys)
    assert rc == 0, err
    assert len(list_frames(out)) == 3
    assert sorted(os.listdir(tmp_path)) == ["ctl", "frames", "in.mp4"]


# ------------------------------------------------------------------------------------ 5. long names
@pytest.mark.parametrize("suffix", [".mp4", ""])
def test_longest_legal_output_name(tmp_path, frames, weights, capsys, suffix):
    src = write_video(tmp_path / "in.mp4", frames)
    name = "a" * (250 - len(suffix)) + suffix
    rc, err = run_cli([src, "-o", tmp_path / name, "--scale", "2", "--model", weights], capsys)
    assert rc == 0, err
    out = tmp_path / name
    assert (probe(out).frames if suffix else len(list_frames(out))) == 3
    assert sorted(os.listdir(tmp_path)) == sorted(["in.mp4", name])


def test_too_long_output_name_is_one_error_line(tmp_path, frames, weights, capsys):
    src = write_video(tmp_path / "in.mp4", frames)
    for name in ["b" * 300 + ".mp4", "c" * 300]:
        rc, err = run_cli([src, "-o", tmp_path / name, "--scale", "2", "--model", weights], capsys)
        assert rc == 2 and "too long" in one_error_line(err)
    assert os.listdir(tmp_path) == ["in.mp4"]


# ------------------------------------------------ 6. crash consistency: --resume verifies what it reuses
def _interrupt_at(monkeypatch, cls, j_stop: int) -> None:
    """`cls.write` raises KeyboardInterrupt (as Ctrl-C would) when asked for output frame `j_stop`."""
    orig = cls.write

    def write(self, j, *a, **k):
        if j == j_stop:
            raise KeyboardInterrupt
        return orig(self, j, *a, **k)

    monkeypatch.setattr(cls, "write", write)


@pytest.mark.parametrize("damage", ["empty", "truncated", "flipped_byte"])
def test_resume_redoes_a_damaged_frame(tmp_path, frames, weights, capsys, monkeypatch, damage):
    """Issue 26 #6: a finished frame cut to 0 bytes (power loss after the rename), truncated or changed in
    the work folder is found by its recorded size/checksum on --resume and rendered again."""
    from videoinr.pipeline import sinks

    src = write_folder(tmp_path / "in", frames)
    args = [src, "--scale", "2", "--time-scale", "2", "--model", weights]
    rc, err = run_cli([*args, "-o", tmp_path / "ref"], capsys)
    assert rc == 0, err
    with monkeypatch.context() as m:
        _interrupt_at(m, sinks.FolderSink, 3)
        rc, err = run_cli([*args, "-o", tmp_path / "out"], capsys)
    assert rc == 130 and err.strip().endswith("interrupted"), err
    work = tmp_path / ".out.videoinr-part"
    last = work / "000002.png"
    data = last.read_bytes()
    last.write_bytes({"empty": b"", "truncated": data[: len(data) // 2],
                      "flipped_byte": data[:-20] + bytes([data[-20] ^ 1]) + data[-19:]}[damage])
    rc, err = run_cli([*args, "-o", tmp_path / "out", "--resume"], capsys)
    assert rc == 0, err
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "ref")  # byte-identical, no 0-byte frame
    assert sorted(os.listdir(tmp_path)) == ["in", "out", "ref"]


def test_resume_redoes_a_truncated_segment(tmp_path, frames, weights, capsys, monkeypatch):
    """Issue 26 #6: a truncated mp4 segment in the work folder used to end the resumed run with an
    av.error.InvalidDataError traceback; now it is redone and the output equals an uninterrupted run's."""
    from videoinr.pipeline import sinks

    orig_init = sinks.VideoSink.__init__

    def one_frame_segments(self, *a, **k):
        orig_init(self, *a, **k)
        self.segment = 1

    monkeypatch.setattr(sinks.VideoSink, "__init__", one_frame_segments)
    src = write_video(tmp_path / "in.mp4", frames)
    args = [src, "--scale", "2", "--model", weights]
    rc, err = run_cli([*args, "-o", tmp_path / "ref.mp4"], capsys)
    assert rc == 0, err
    with monkeypatch.context() as m:
        _interrupt_at(m, sinks.VideoSink, 2)
        rc, err = run_cli([*args, "-o", tmp_path / "out.mp4"], capsys)
    assert rc == 130, err
    seg = sorted((tmp_path / ".out.mp4.videoinr-part").glob("segment_*"))
    assert len(seg) == 2
    data = seg[1].read_bytes()
    seg[1].write_bytes(data[: len(data) // 2])
    rc, err = run_cli([*args, "-o", tmp_path / "out.mp4", "--resume"], capsys)
    assert rc == 0, err
    assert (tmp_path / "out.mp4").read_bytes() == (tmp_path / "ref.mp4").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["in.mp4", "out.mp4", "ref.mp4"]


def test_finished_files_are_fsynced_before_rename_and_folder_after(tmp_path, frames, weights, capsys, monkeypatch):
    """Issue 26 #6: every finished file (frames here, the job record, the record of finished files) reaches
    the disk before it is renamed into place, and its folder after."""
    import videoinr.fileio as fileio

    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(a, b):
        events.append(("replace", str(a), str(b)))
        return real_replace(a, b)

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    monkeypatch.setattr(fileio.os, "replace", replace)
    src = write_folder(tmp_path / "in", frames)
    rc, err = run_cli([src, "-o", tmp_path / "out", "--scale", "2", "--model", weights], capsys)
    assert rc == 0, err
    renames = [i for i, e in enumerate(events) if e[0] == "replace"]
    frame_renames = [i for i in renames if events[i][2].endswith(".png")]
    assert len(frame_renames) == 3
    for i in renames:
        tmp, dst = events[i][1], events[i][2]
        assert ("fsync", tmp) in events[:i], f"{tmp} renamed without fsync"
        assert ("fsync", str(Path(dst).parent)) in events[i + 1:], f"folder of {dst} not fsynced after the rename"
