"""`videoinr upscale` (`videoinr.pipeline.cli`) against a table of bad and odd inputs, and SIGTERM.

Every row runs the real command in-process on tiny real files (frames of the bundled clip, 48x32) with a
random-init `lite` and checks the promise for its kind:
- error rows: exit status 2, stderr is exactly one `error: ...` line naming the problem (no traceback),
  and the folder is byte-for-byte as before (inputs untouched, no partial output, no temp or work files);
- accepted rows (odd but legal inputs): exit status 0, inputs untouched, the output is the only new entry,
  and it has the expected frame count and size.
SIGTERM (a real process) says `error: terminated` and keeps the finished work for `--resume` like Ctrl-C.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from videoinr.data.frames import list_frames
from videoinr.data.video import VideoWriter, probe

from av_helpers import encode, example_frames
from cli_helpers import one_error_line, run_cli

LR = (48, 32)  # (W, H)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return example_frames(5, resize=LR)


# ------------------------------------------------------------------------------------- input makers
def folder(d: Path, frames, name="in", edit=None) -> Path:
    """PNG frames f0.png, f1.png, ... in d/name; `edit(path)` rewrites f1.png."""
    p = d / name
    p.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(p / f"f{i}.png"), f[..., ::-1])
    if edit is not None:
        edit(p / "f1.png")
    return p


def video(path: Path, frames, pix_fmt="yuv420p", faststart=False) -> Path:
    """A real H.264 file through PyAV (mp4 or mkv by suffix), 10 fps."""
    opts = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=opts) as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = LR[0], LR[1], pix_fmt
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            fr.pts = i
            c.mux(s.encode(fr))
        c.mux(s.encode(None))
    return path


def vfr(path: Path, frames, times) -> Path:
    from fractions import Fraction

    with VideoWriter(path, 10, crf=12, time_base=Fraction(1, 1000)) as w:
        for f, t in zip(frames, times):
            w.write(f, t)
    return path


def truncated(path: Path, frames) -> Path:
    """The first 70% of a complete file (an mp4 with its index first, or an mkv)."""
    full = video(path.with_name("full" + path.suffix), frames, faststart=path.suffix == ".mp4")
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) * 7 // 10])
    return path


def weights_with(d: Path, weights: Path, change) -> Path:
    """A copy of the test weights with its metadata or tensors changed by `change(tensors, meta)`."""
    with safe_open(str(weights), framework="pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())
    change(tensors, meta)
    path = d / "bad.safetensors"
    save_file(tensors, str(path), metadata=meta)
    return path


def cfg_change(**kw):
    def change(tensors, meta):
        meta["config"] = json.dumps({**json.loads(meta["config"]), **kw})
    return change


def file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def symlink(d: Path, name: str, target: str) -> Path:
    os.symlink(target, d / name)
    return d / name


def png16(p: Path) -> None:
    cv2.imwrite(str(p), np.full((LR[1], LR[0], 3), 40000, np.uint16))


def huge_png(p: Path, w: int = 100_000, h: int = 100_000) -> None:
    """A valid 4x4 PNG whose header (IHDR, CRC fixed) declares w x h pixels: a decompression bomb's shape."""
    import struct
    import zlib

    _, png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    d = bytearray(png.tobytes())
    d[16:24] = struct.pack(">II", w, h)
    d[29:33] = struct.pack(">I", zlib.crc32(bytes(d[12:29])))
    p.write_bytes(bytes(d))


def huge_jpeg(p: Path) -> None:
    """A valid 8x8 JPEG whose frame header (SOF0) declares 65000 x 65000 pixels (OpenCV's own size check)."""
    _, jpg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    d = bytearray(jpg.tobytes())
    i = d.index(b"\xff\xc0")
    d[i + 5 : i + 9] = (65000).to_bytes(2, "big") * 2
    p.with_suffix(".jpg").write_bytes(bytes(d))
    p.unlink()


def with_system_files(p: Path) -> None:
    """What file managers leave in a folder of frames (issue 26 #4): all ignored, with a note."""
    d = p.parent
    (d / "._f0.png").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    (d / ".hidden.png").write_bytes(b"")
    (d / "Thumbs.db").write_bytes(os.urandom(64))
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")


# ------------------------------------------------------------------------------------------ the table
# name -> (make(d, frames, weights) -> (input, extra args), expected): expected is "error: <substring>"
# or ("ok", frames out, (W, H) out). "OUT" in the extra args stands for the output path d/out.mp4.
def _in(make, *extra):
    return lambda d, f, w: (make(d, f, w), list(extra))


def _loop(d, f, w):
    symlink(d, "loop_a", "loop_b")
    return symlink(d, "loop_b", "loop_a")


CASES = {
    # missing, empty, unreadable
    "missing": (_in(lambda d, f, w: d / "nope.mp4"), "error: no such file"),
    "empty_file": (_in(lambda d, f, w: file(d / "e.mp4", b"")), "error: empty"),
    "empty_folder": (_in(lambda d, f, w: (d / "ef").mkdir() or d / "ef"), "error: no image frames"),
    "random_bytes": (_in(lambda d, f, w: file(d / "r.mp4", os.urandom(4096))),
                     "error: not a readable"),
    "text_file": (_in(lambda d, f, w: file(d / "notes.txt", bytes(97 + (i * 7) % 26 if i % 41 else 10
                                                                  for i in range(20000)))), "error: not a video"),
    "truncated_mp4": (_in(lambda d, f, w: truncated(d / "t.mp4", f)), "error: truncated"),
    "truncated_mkv": (_in(lambda d, f, w: truncated(d / "t.mkv", f)), "error: truncated"),
    "symlink_loop": (_in(_loop), "error: symlink loop"),
    "broken_symlink": (_in(lambda d, f, w: symlink(d, "dangling.mp4", "gone.mp4")), "error: broken symlink"),
    # pixel formats and sizes
    "grayscale_frame": (_in(lambda d, f, w: folder(d, f[:3], edit=lambda p: cv2.imwrite(str(p), f[0][..., 0]))),
                        "error: grayscale"),
    "rgba_frame": (_in(lambda d, f, w: folder(d, f[:3], edit=lambda p: cv2.imwrite(
        str(p), np.dstack([f[0], f[0][..., :1]])))), "error: alpha"),
    "16bit_frame": (_in(lambda d, f, w: folder(d, f[:3], edit=png16)), "error: 16-bit"),
    "mixed_sizes": (_in(lambda d, f, w: folder(d, f[:3], edit=lambda p: cv2.imwrite(str(p), f[0][:16]))),
                    "error: differs"),
    "one_frame_time": (_in(lambda d, f, w: folder(d, f[:1]), "--time-scale", "2"), "error: only 1 frame"),
    # absurd options
    "zero_scale": (_in(lambda d, f, w: folder(d, f[:2]), "--scale", "0"), "error: positive"),
    "negative_scale": (_in(lambda d, f, w: folder(d, f[:2]), "--scale", "-2"), "error: positive"),
    "absurd_scale": (_in(lambda d, f, w: folder(d, f[:2]), "--scale", "10000"), "error: memory limit"),
    # issue 26: sizes and counts bounded before anything is allocated (#12, #2), typos refused (#5)
    "huge_png_header": (_in(lambda d, f, w: folder(d, f[:3], edit=huge_png)), "error: header declares 100000x100000"),
    "huge_jpeg_header": (_in(lambda d, f, w: folder(d, f[:3], edit=huge_jpeg)), "error: more pixels than a frame"),
    "scale_1e308": (_in(lambda d, f, w: folder(d, f[:2]), "--scale", "1e308"), "error: the largest output frame"),
    "scale_over_max_side": (_in(lambda d, f, w: folder(d, f[:2]), "--scale", "100000"),
                            "error: the largest output frame"),
    "size_overflow": (_in(lambda d, f, w: folder(d, f[:2]), "--size", "9" * 30 + "x-1"),
                      "error: the largest output frame"),
    "size_aspect_overflow": (_in(lambda d, f, w: folder(d, f[:2]), "--size", "-1x1000000"),
                             "error: over 1048576 pixels"),
    "time_scale_1e9": (_in(lambda d, f, w: folder(d, f[:2]), "--time-scale", "1000000000"),
                       "error: over the limit of"),
    "time_scale_total": (_in(lambda d, f, w: folder(d, f[:3]), "--time-scale", "3000000"), "error: 6,000,001 output"),
    "fps_total": (_in(lambda d, f, w: folder(d, f[:3]), "--fps", "10000", "--input-fps", "0.001"),
                  "error: over the limit of"),
    "max_memory_over_machine": (_in(lambda d, f, w: folder(d, f[:2]), "--max-memory", "100000T"),
                                "error: more than the"),
    "times_empty_item": (_in(lambda d, f, w: folder(d, f[:2]), "--times", "0,,1"), "error: item 2 is empty"),
    "times_trailing_comma": (_in(lambda d, f, w: folder(d, f[:2]), "--times", "0,1,"), "error: item 3 is empty"),
    "fullwidth_size": (_in(lambda d, f, w: folder(d, f[:2]), "--size", "\uff19\uff16x\uff16\uff14"),
                       "error: ASCII digits"),
    "fullwidth_scale": (_in(lambda d, f, w: folder(d, f[:2]), "--scale", "\uff12"), "error: ASCII digits"),
    "fullwidth_time_scale": (_in(lambda d, f, w: folder(d, f[:2]), "--time-scale", "\uff12"), "error: ASCII digits"),
    "fullwidth_fps": (_in(lambda d, f, w: folder(d, f[:2]), "--fps", "\uff16\uff10"), "error: ASCII digits"),
    "fullwidth_region": (_in(lambda d, f, w: folder(d, f[:2]), "--region", "0,0,\uff11,1"), "error: ASCII digits"),
    "fps_huge_exponent": (_in(lambda d, f, w: folder(d, f[:2]), "--fps", "1e999999999"), "error: finite"),
    "time_scale_5000_digits": (_in(lambda d, f, w: folder(d, f[:2]), "--time-scale", "9" * 5000),
                               "error: --time-scale"),
    "crf_typo": (_in(lambda d, f, w: folder(d, f[:2]), "--crf", "1.2.3"), "error: --crf"),
    "max_time_typo": (_in(lambda d, f, w: folder(d, f[:2]), "--max-time", "1.2.3h"), "error: --max-time"),
    "bad_size": (_in(lambda d, f, w: folder(d, f[:2]), "--size", "0x-1"), "error: --size"),
    "scale_and_size": (_in(lambda d, f, w: folder(d, f[:2]), "--scale", "2", "--size", "96x64"),
                       "error: argument --size: not allowed with argument --scale"),
    "absurd_time": (_in(lambda d, f, w: folder(d, f[:2]), "--max-time", "0.000001s"), "error: --max-time"),
    "times_out_of_range": (_in(lambda d, f, w: folder(d, f[:2]), "--times", "0,1.5"), "error: outside"),
    "region_outside": (_in(lambda d, f, w: folder(d, f[:2]), "--region", "0,0,500,10"), "error: region"),
    "region_negative": (_in(lambda d, f, w: folder(d, f[:2]), "--region=-5,0,10,10"), "error: X, Y must be >= 0"),
    "unknown_option": (_in(lambda d, f, w: folder(d, f[:2]), "--colour", "red"), "error: "),
    # outputs
    "output_under_a_file": (_in(lambda d, f, w: folder(d, f[:2]), "-o", "in/f0.png/x.mp4"), "error: does not exist"),
    "output_folder_missing": (_in(lambda d, f, w: folder(d, f[:2]), "-o", "nofolder/x.mp4"), "error: does not exist"),
    "unknown_output_type": (_in(lambda d, f, w: folder(d, f[:2]), "-o", "x.xyz"), "error: unknown output type"),
    "output_is_input": (_in(lambda d, f, w: video(d / "in.mp4", f[:2]), "-o", "in.mp4", "--force"),
                        "error: overwrite the input"),
    "output_contains_input": (_in(lambda d, f, w: folder(d, f[:2]), "-o", ".", "--force"),
                              "error: contains the input"),
    "output_symlink_loop": (lambda d, f, w: (folder(d, f[:2]), ["-o", str(_loop(d, f, w))]), "error: symlink loop"),
    "output_broken_symlink": (lambda d, f, w: (folder(d, f[:2]), ["-o", str(symlink(d, "o.mp4", "gone.mp4"))]),
                              "error: broken symlink"),
    "output_broken_symlink_force": (lambda d, f, w: (folder(d, f[:2]), ["-o", str(symlink(
        d, "o.mp4", "gone.mp4")), "--force"]), "error: broken symlink"),
    "output_symlink_to_file_force": (lambda d, f, w: (folder(d, f[:2]), ["-o", str(symlink(
        d, "o.mp4", str(file(d / "mine.mp4", b"mine")))), "--force"]), "error: does not replace links"),
    "output_exists": (lambda d, f, w: (folder(d, f[:2]), ["-o", str(file(d / "out.mp4", b"mine"))]),
                      "error: already exists"),
    "output_name_too_long": (_in(lambda d, f, w: folder(d, f[:2]), "-o", "n" * 300 + ".mp4"), "error: too long"),
    # weights
    "weights_missing": (_in(lambda d, f, w: folder(d, f[:2]), "--model", "nothere.safetensors"), "error: "),
    "weights_bad_json": (lambda d, f, w: (folder(d, f[:2]), ["--model", str(weights_with(
        d, w, lambda t, m: m.update(config="{nf: 8")))]), "error: not valid JSON"),
    "weights_zero_groups": (lambda d, f, w: (folder(d, f[:2]), ["--model", str(weights_with(
        d, w, cfg_change(groups=0)))]), "error: groups"),
    "weights_huge_width": (lambda d, f, w: (folder(d, f[:2]), ["--model", str(weights_with(
        d, w, cfg_change(nf=2**40)))]), "error: nf"),
    "weights_other_shapes": (lambda d, f, w: (folder(d, f[:2]), ["--model", str(weights_with(
        d, w, cfg_change(back_blocks=3)))]), "error: does not match"),
    # odd but legal: these must work
    "system_files_ignored": (_in(lambda d, f, w: folder(d, f[:3], edit=with_system_files), "--scale", "2"),
                             ("ok", 3, (96, 64))),
    "one_pixel": (_in(lambda d, f, w: folder(d, [x[:1, :1] for x in f[:2]]), "--scale", "2"), ("ok", 2, (2, 2))),
    "odd_size_space_time": (_in(lambda d, f, w: folder(d, [x[:13, :17] for x in f[:3]]), "--scale", "2",
                                "--time-scale", "2"), ("ok", 5, (34, 26))),
    "ten_bit_video": (_in(lambda d, f, w: video(d / "in.mkv", f[:3], pix_fmt="yuv420p10le"), "--scale", "2"),
                      ("ok", 3, (96, 64))),
    "vfr_to_fps": (_in(lambda d, f, w: vfr(d / "in.mp4", f[:4], [0.0, 0.05, 0.2, 0.25]), "--fps", "20",
                         "--scale", "2"), ("ok", 6, (96, 64))),
}


def snapshot(root: Path) -> dict:
    """Every entry under root (hidden ones, symlinks as their target text) -> its bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel] = None
        else:
            out[rel] = p.read_bytes()
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_table(case, tmp_path, frames, weights, capsys, monkeypatch):
    make, expected = CASES[case]
    d = tmp_path / "work"
    d.mkdir()
    src, extra = make(d, frames, weights)
    monkeypatch.chdir(d)
    args = [src] + (["-o", d / "out.mp4"] if "-o" not in extra else [])
    if "--model" not in extra:
        args += ["--model", weights]
    before = snapshot(d)
    rc, err = run_cli([*args, *extra], capsys)
    if isinstance(expected, str):
        assert rc == 2, (rc, err)
        assert expected[len("error: "):] in one_error_line(err), err
        assert snapshot(d) == before, "the folder changed: partial output, temp files or a touched input"
    else:
        _, n, (w, h) = expected
        assert rc == 0, err
        after = snapshot(d)
        assert {k: v for k, v in after.items() if k in before} == before, "an input changed"
        assert sorted(set(after) - set(before)) == ["out.mp4"], sorted(set(after) - set(before))
        info = probe(d / "out.mp4")
        assert (info.frames, info.width, info.height) == (n, w, h)


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


def test_sigterm_says_terminated_and_keeps_work_for_resume(tmp_path, weights, capsys):
    src = encode(tmp_path / "in.mp4", example_frames(3, crop=(16, 24)), faststart=True)
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
