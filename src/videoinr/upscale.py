"""`videoinr upscale`: a video file or frame folder in, any resolution and frame rate out.

Pipeline (streaming, flat memory in video length):
1. scan: decode the input once to validate every frame (size, 8-bit RGB), read the real timestamps and
   find scene cuts with `videoinr.data.scenes.CutDetector`;
2. plan: each output frame gets a position u in input-frame units (2.5 = halfway between frames 2 and 3)
   and a presentation time; u maps to an input pair (k, k+1) and t in [0, 1]; no pair crosses a cut
   (frames near a cut come from the nearer side, rendered within their own shot);
3. render: each pair is encoded once (`model.encode`) and all its output frames are rendered from that
   state (`state.render(size=(H, W), t=[...], region=...)`) in memory-bounded chunks;
4. write: numbered PNGs (folder output) or video segments (video output), in a hidden work folder beside
   the output; at the end the segments are joined with the input's audio/subtitles stream-copied and the
   result is renamed to the output name. `--resume` reuses finished frames/segments of an interrupted
   run, so the final output is identical to an uninterrupted run's.
"""
from __future__ import annotations

import argparse
import dataclasses
import errno
import hashlib
import json
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
import uuid
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from videoinr.errors import ArgumentParser, VideoINRError, require_path, resolve_path
from videoinr.runtime import inference_policy, pick_device

try:
    import fcntl
except ImportError:  # Windows: no flock; runs on the same output are not guarded there
    fcntl = None

__all__ = ["upscale", "estimate", "Estimate", "main", "build_parser", "EXAMPLE_VIDEO", "VIDEO_EXTENSIONS",
           "output_size", "parse_memory"]

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".flv",
     ".wmv", ".3gp", ".ogv", ".gif"}
)
OUTPUT_VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm"})
DEFAULT_INPUT_FPS = Fraction(30)
EXAMPLE_VIDEO = Path(__file__).resolve().parent / "assets" / "example.mp4"
"""The bundled 2 s example clip (192x108, with audio); the CLI input name `example` refers to it."""
SEGMENT_FRAMES = 240  # output frames per video segment (the unit of --resume for video outputs)
_JOB_FILE = "job.json"
_LOCK_FILE = ".lock"  # in the work folder: flock'ed by the run that owns it, for that run's life
_FRAME_NAME = re.compile(r"\d{6,}\.png")  # the numbered frames of a folder output


# ----------------------------------------------------------------------------------------------------
# argument parsing helpers (shared by the CLI and the Python API)
# ----------------------------------------------------------------------------------------------------
def _parse_size(text: str | Sequence[int]) -> tuple[int, int]:
    """'WxH' (one side may be -1) -> (W, H)."""
    if isinstance(text, str):
        m = re.fullmatch(r"\s*(-?\d+)\s*[x:,]\s*(-?\d+)\s*", text)
        if not m:
            raise VideoINRError(f"--size {text!r}: expected WxH, e.g. 1280x720 or 1280x-1")
        w, h = int(m.group(1)), int(m.group(2))
    else:
        w, h = (int(v) for v in text)
    if (w == -1 and h == -1) or w == 0 or h == 0 or w < -1 or h < -1:
        raise VideoINRError(f"--size {w}x{h}: both sides must be positive (one may be -1 to keep the aspect)")
    return w, h


def _parse_region(text: str | Sequence[int]) -> tuple[int, int, int, int]:
    vals = text.split(",") if isinstance(text, str) else list(text)
    try:
        x, y, w, h = (int(str(v).strip()) for v in vals)
    except ValueError:
        raise VideoINRError(f"--region {text!r}: expected X,Y,W,H in output pixels") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise VideoINRError(f"--region {x},{y},{w},{h}: X, Y must be >= 0 and W, H >= 1")
    return x, y, w, h


def _parse_times(text: str | Sequence[float]) -> list[float]:
    vals = text.split(",") if isinstance(text, str) else list(text)
    try:
        times = [float(str(v).strip()) for v in vals if str(v).strip() != ""]
    except ValueError:
        raise VideoINRError(f"--times {text!r}: expected comma-separated numbers in input-frame units") from None
    if not times:
        raise VideoINRError("--times: no times given")
    if any(not math.isfinite(t) for t in times):
        raise VideoINRError(f"--times: times must be finite numbers, got {text!r}")
    if any(b < a for a, b in zip(times, times[1:])):
        raise VideoINRError("--times: times must not decrease (output is written in order)")
    return times


def parse_memory(text: str | int | float | None) -> int | None:
    """'4G', '512M', '1.5GiB', 2e9 -> bytes; None or 'auto' -> None."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "auto"):
        return None
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([kmgt]?)(i?b)?\s*", text.lower())
        if not m:
            raise VideoINRError(f"--max-memory {text!r}: expected a size such as 4G or 512M")
        value = float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " ")
    if not math.isfinite(value) or value < 64 * 2**20:
        raise VideoINRError(f"--max-memory {text!r}: must be at least 64M")
    return int(value)


def _parse_duration(text: str | float | None) -> float | None:
    """'12h', '30m', '2d', 3600 -> seconds; None, 0 or 'none' -> no limit."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text) if text > 0 else None
    if text.strip().lower() in ("none", "0", "inf"):
        return None
    m = re.fullmatch(r"\s*([0-9.]+)\s*([smhd]?)\s*", text.lower())
    if not m:
        raise VideoINRError(f"--max-time {text!r}: expected a duration such as 12h, 90m or 2d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def output_size(in_hw: tuple[int, int], scale: float | None, size: tuple[int, int] | None) -> tuple[int, int]:
    """Output (H, W): ceil(h * scale), ceil(w * scale) like MATLAB imresize, or exactly `size` = (W, H)
    with a -1 side following the input aspect (rounded)."""
    h, w = in_hw
    if size is not None:
        sw, sh = size
        if sw == -1:
            sw = max(1, round(w * sh / h))
        if sh == -1:
            sh = max(1, round(h * sw / w))
        return int(sh), int(sw)
    s = 1.0 if scale is None else float(scale)
    return max(1, math.ceil(h * s - 1e-9)), max(1, math.ceil(w * s - 1e-9))


# ----------------------------------------------------------------------------------------------------
# input: scan and stream
# ----------------------------------------------------------------------------------------------------
@dataclass
class _Source:
    """A scanned input: frame count, times (seconds), size, cuts, and how to stream its frames again."""

    path: Path
    kind: str  # "video" | "frames"
    frame_paths: list[Path] | None
    times: list[float]
    fps: Fraction
    time_base: Fraction
    height: int
    width: int
    cuts: list[int]
    info: object = None  # VideoInfo for videos
    last_duration: float | None = None  # seconds the last input frame is shown, when the container says

    @property
    def end(self) -> float:
        """End of the input (s): the last frame's own duration when known, else one last interval."""
        if self.last_duration:
            return self.times[-1] + self.last_duration
        return self.times[-1] + (self.times[-1] - self.times[-2] if self.n > 1 else float(1 / self.fps))

    @property
    def n(self) -> int:
        return len(self.times)

    def frames(self) -> Iterator[np.ndarray]:
        if self.kind == "video":
            from videoinr.data.video import iter_video

            n = 0
            for f in iter_video(self.path):
                n += 1
                yield f.image
            if n != self.n:
                raise VideoINRError(f"{self.path}: decoded {n} frames, but {self.n} when scanned (file changed?)")
        else:
            from videoinr.data.frames import read_image

            for p in self.frame_paths:
                img = read_image(p)
                if img.shape[:2] != (self.height, self.width):
                    raise VideoINRError(f"{p}: frame size changed since the scan")
                yield img


def _is_frame_folder(path: Path) -> bool:
    from videoinr.data.frames import IMAGE_EXTENSIONS

    return any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir() if p.is_file())


def _check_pix_fmt(path: Path, pix_fmt: str, verbose: bool) -> None:
    """Refuse grayscale and alpha video (as for frames); note when >8-bit video is converted to 8-bit."""
    import av

    try:
        fmt = av.video.format.VideoFormat(pix_fmt)
    except (ValueError, TypeError):
        return
    n = len(fmt.components)
    if n <= 2 and not fmt.has_palette:
        raise VideoINRError(f"{path}: grayscale video ({pix_fmt}); only colour video is supported")
    if n == 4:
        raise VideoINRError(f"{path}: video has an alpha channel ({pix_fmt}); only opaque video is supported")
    if verbose and max(c.bits for c in fmt.components) > 8:
        print(f"note: {path}: {pix_fmt} video is processed as 8-bit RGB", file=sys.stderr)


def _scan(path: Path, input_fps: Fraction | None, scene_cuts: bool, progress: bool) -> _Source:
    """Decode the whole input once: validate frames, collect timestamps, detect cuts. Nothing is kept."""
    from videoinr.data.scenes import CutDetector

    detector = CutDetector() if scene_cuts else None
    times: list[float] = []
    size = None
    last_duration = None
    if path.is_dir():
        from videoinr.data.frames import list_frames, read_image

        paths = list_frames(path)
        fps = Fraction(input_fps) if input_fps else DEFAULT_INPUT_FPS
        frames_iter = ((p, read_image(p)) for p in paths)
        kind, info, tb, total = "frames", None, 1 / fps, len(paths)
    else:
        from videoinr.data.video import iter_video, probe

        paths = None
        info = probe(path)
        _check_pix_fmt(path, info.pix_fmt, progress)
        fps = info.fps
        if input_fps:
            raise VideoINRError("--input-fps applies to frame folders only; a video has its own timestamps")
        frames_iter = ((i, f) for i, f in enumerate(iter_video(path)))
        kind, tb, total = "video", info.time_base, info.frames
    bar = tqdm(total=total, desc=f"scan {path.name}", unit="frame", disable=None if progress else True, leave=False)
    try:
        for i, (key, item) in enumerate(frames_iter):
            img = item if kind == "frames" else item.image
            if size is None:
                size = img.shape[:2]
            elif img.shape[:2] != size:
                name = key if kind == "frames" else f"{path}: frame {i}"
                raise VideoINRError(
                    f"{name}: frame size {img.shape[1]}x{img.shape[0]} differs from {size[1]}x{size[0]} "
                    "of the first frame"
                )
            times.append(i / float(fps) if kind == "frames" else item.time)
            last_duration = None if kind == "frames" else item.duration
            if detector is not None:
                detector.push(img)
            bar.update(1)
    finally:
        bar.close()
    if not times:
        raise VideoINRError(f"{path}: no frames")
    cuts = sorted(set(detector.cuts)) if detector is not None else []
    return _Source(path, kind, paths, times, Fraction(fps), Fraction(tb), size[0], size[1], cuts, info, last_duration)


# ----------------------------------------------------------------------------------------------------
# plan: output positions -> (pair, t)
# ----------------------------------------------------------------------------------------------------
@dataclass
class _Plan:
    u: list[float]  # position of each output frame in input-frame units
    times: list[float]  # presentation time of each output frame, seconds
    fps: Fraction  # nominal output frame rate
    time_base: Fraction  # output video time base
    last_duration: float  # seconds the last output frame is shown
    copy_audio: bool


def _interp(xs: Sequence[float], u: float) -> float:
    """Piecewise-linear value of xs at fractional index u (clamped)."""
    k = min(max(int(math.floor(u)), 0), len(xs) - 1)
    if k >= len(xs) - 1:
        return xs[-1]
    return xs[k] + (u - k) * (xs[k + 1] - xs[k])


def _make_plan(src: _Source, time_scale: int | None, fps: Fraction | None, times: list[float] | None) -> _Plan:
    n = src.n
    t_in = src.times
    end = src.end
    frame_dur = end - t_in[-1]  # how long the last input frame is shown
    if (time_scale and time_scale > 1) or fps is not None or times is not None:
        if n < 2:
            what = "--time-scale" if time_scale else "--fps" if fps is not None else "--times"
            raise VideoINRError(
                f"{src.path}: has only 1 frame; {what} needs at least 2 frames to interpolate between "
                "(space-only upscaling works)"
            )
    if times is not None:
        bad = [t for t in times if t < 0 or t > n - 1]
        if bad:
            raise VideoINRError(f"--times: {bad[0]:g} is outside 0..{n - 1} (input-frame units, {n} frames)")
        out_fps = src.fps
        tb = 1 / out_fps
        out_t = [t_in[0] + j / float(out_fps) for j in range(len(times))]
        return _Plan(list(times), out_t, out_fps, tb, float(1 / out_fps), copy_audio=False)
    if fps is not None:
        out_fps = Fraction(fps)
        span = t_in[-1] - t_in[0]
        count = int(math.floor(span * float(out_fps) + 1e-6)) + 1
        out_t = [t_in[0] + j / float(out_fps) for j in range(count)]
        u = []
        for t in out_t:  # invert the (monotone) time curve: real timestamps, VFR included
            k = min(max(bisect_right(t_in, t) - 1, 0), n - 2)
            d = t_in[k + 1] - t_in[k]
            u.append(min(float(n - 1), k + ((t - t_in[k]) / d if d > 0 else 0.0)))
        return _Plan(u, out_t, out_fps, 1 / out_fps, max(end - out_t[-1], 1e-3), copy_audio=True)
    N = int(time_scale or 1)
    count = (n - 1) * N + 1
    u = [j / N for j in range(count)]
    out_t = [_interp(t_in, x) for x in u]
    return _Plan(u, out_t, src.fps * N, src.time_base / N, frame_dur, copy_audio=True)


def _frame_ref(k: int, shots_start: list[int], n: int) -> tuple[tuple[int, int], float]:
    """Pair and t that render input frame k within its own shot."""
    i = bisect_right(shots_start, k) - 1
    a = shots_start[i]
    b = shots_start[i + 1] if i + 1 < len(shots_start) else n
    if b - a == 1:
        return (k, k), 0.0
    if k < b - 1:
        return (k, k + 1), 0.0
    return (k - 1, k), 1.0


def _locate(u: float, cuts: set[int], shots_start: list[int], n: int) -> tuple[tuple[int, int], float]:
    """(pair (a, b), t in [0, 1]) rendering position u; never interpolates across a cut."""
    k = min(int(math.floor(u)), n - 1)
    frac = u - k
    if k == n - 1 or frac == 0.0:
        return _frame_ref(k, shots_start, n)
    if (k + 1) not in cuts:
        return (k, k + 1), frac
    return _frame_ref(k if frac < 0.5 else k + 1, shots_start, n)


# ----------------------------------------------------------------------------------------------------
# resources: device, memory budget, estimate
# ----------------------------------------------------------------------------------------------------
def _default_memory(device: torch.device) -> int:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * 0.8)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(min(8 * 2**30, total * 0.5))


def _bytes_per_point(model) -> int:
    """Estimated peak bytes per rendered (pixel, t) query inside `State.render` (float32 activations)."""
    cfg = model.cfg
    widest = max(*cfg.spatial_hidden, *cfg.temporal_hidden, *cfg.decoder_hidden)
    per = 3 * cfg.hr_dim + 2 * sum(cfg.spatial_hidden) + sum(cfg.temporal_hidden) + sum(cfg.decoder_hidden)
    return int(4 * (per + 4 * widest + 64) * 1.5)


def _encode_bytes(model, h: int, w: int) -> int:
    """Estimated peak bytes of `model.encode` on an h x w pair plus the kept state (float32)."""
    cfg = model.cfg
    lr_dim = getattr(model, "lr_dim", 3 * cfg.nf + 6)
    state = h * w * (lr_dim + sum((cfg.spatial_hidden[0], cfg.temporal_hidden[0], 2 * cfg.decoder_hidden[0])))
    state += h * w * 4 * int(getattr(cfg, "flow_prior", False))  # the prior's two flows
    encoder = h * w * cfg.nf * 24  # several feature maps at LR (pyramid levels add ~1/3)
    return int(4 * (state + encoder))


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if b < 1024 or unit == "PiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b:.1f} PiB"


def _fmt_secs(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


@dataclass
class _Budget:
    max_query_points: int
    t_per_call: int
    peak_bytes: int


def _budget(model, lr_hw: tuple[int, int], out_hw: tuple[int, int], limit: int, label: str,
            device: torch.device) -> _Budget:
    """Split the memory limit between encoder, frame buffers and render chunks; refuse what cannot fit.

    Chunks are capped where bigger ones stop paying: on CPU 2^16 points (the model's default; eagerly 25%
    faster than 2^14, compiled as fast; 2^18 no faster), on GPUs 2^20.
    """
    h, w = lr_hw
    H, W = out_hw
    fixed = _encode_bytes(model, h, w) + 4 * h * w * 3 * 4
    per_frame = H * W * 3 * (4 * 2 + 1)  # float32 render output (+ a copy when joining chunks) + uint8
    if not model.cfg.spatial_uses_t:  # warp form: two HR maps per pixel (chunks + joined) and 4 flows per t
        fixed += H * W * 2 * model.cfg.decoder_hidden[0] * 4 * 2
        per_frame += H * W * 4 * 4
    bpp = _bytes_per_point(model)
    min_chunk = 1024 * bpp
    need = fixed + per_frame + min_chunk
    if need > limit:
        raise VideoINRError(
            f"{label}: one {W}x{H} output frame needs about {_fmt_bytes(need)}, over the memory limit of "
            f"{_fmt_bytes(limit)} (lower --scale/--size, render a --region, or raise --max-memory)"
        )
    room = limit - fixed
    t_per_call = int(max(1, min(16, (room // 2) // per_frame)))
    points = (room - t_per_call * per_frame) // bpp
    points = int(max(1024, min(points, 1 << 16 if device.type == "cpu" else 1 << 20)))
    return _Budget(points, t_per_call, fixed + t_per_call * per_frame + points * bpp)


# ----------------------------------------------------------------------------------------------------
# outputs: a hidden work folder beside the output, renamed into place at the end
# ----------------------------------------------------------------------------------------------------
def _name_max(folder: Path) -> int:
    """The longest file name (bytes) that `folder` accepts."""
    try:
        return min(255, int(os.pathconf(folder, "PC_NAME_MAX")))
    except (OSError, ValueError, AttributeError):
        return 255


def _aside(path: Path, tag: str) -> Path:
    """The hidden sibling `.NAME.videoinr-TAG` of `path`; a NAME too long for that is cut to 64 characters
    plus 16 hex digits of its SHA-1, so every legal output name has one that is legal too."""
    name = f".{path.name}.videoinr-{tag}"
    if len(os.fsencode(name)) <= _name_max(path.parent):
        return path.with_name(name)
    stem = path.name[:64]
    while len(os.fsencode(stem)) > 64:
        stem = stem[:-1]
    digest = hashlib.sha1(os.fsencode(path.name)).hexdigest()[:16]
    return path.with_name(f".{stem}~{digest}.videoinr-{tag}")


def _work_dir(output: Path) -> Path:
    return _aside(output, "part")


class _WorkLock:
    """Exclusive ownership of an output's work folder: `fcntl.flock` on `.lock` inside it.

    Held for the run's life and released by the OS however the process ends (a killed run's folder is
    taken over by the next run, e.g. with --resume). A second run on the same output stops at once with
    the first one's process id, touching nothing. The owner removes the folder only by first renaming it
    away (or renaming it into place as a folder output), so a run that locked the lock file of a folder
    being removed sees that the path no longer names the file it locked, and starts over.
    """

    def __init__(self, work: Path, output: Path) -> None:
        self.work, self.output = work, output
        self.fd: int | None = None
        self.fresh = False  # the folder held nothing but the lock file when locked (nothing to keep)

    def acquire(self) -> "_WorkLock":
        lock = self.work / _LOCK_FILE
        for _ in range(50):
            try:
                self.work.mkdir()
            except FileExistsError:
                pass
            try:
                fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:
                continue  # renamed away by the run that held it: make a new one
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                        who = f"process {pid}" if pid.isdigit() else "a process that is just starting"
                        raise VideoINRError(
                            f"{self.output}: another videoinr run ({who}) is writing this output; wait for it "
                            "to end or choose another output"
                        ) from None
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(lock))
                except FileNotFoundError:
                    same = False
                if same:
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                    self.fd, fd = fd, None
                    self.fresh = set(os.listdir(self.work)) <= {_LOCK_FILE}
                    return self
            finally:
                if fd is not None:
                    os.close(fd)
        raise VideoINRError(f"{self.work}: cannot lock the work folder (it keeps being replaced)")

    def remove_work(self) -> None:
        """Delete the work folder (lock file included) while still holding the lock."""
        gone = self.work.with_name(f".videoinr-gone-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(self.work, gone)
        except OSError:
            gone = self.work
        shutil.rmtree(gone, ignore_errors=True)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _check_name(out: Path, parent: Path) -> None:
    limit = _name_max(parent)
    n = len(os.fsencode(out.name))
    if n > limit:
        raise VideoINRError(f"{out}: file name too long ({n} bytes; at most {limit} here)")


def _replace_problem(out: Path, out_is_video: bool) -> str | None:
    """Why --force may not replace `out` (None: it may). Only what this tool writes is replaced: a file
    for a video output, a folder of its numbered PNG frames for a folder output; an empty folder too."""
    if out.is_dir():
        if out.is_symlink():
            return "is a link to a folder"
        entries = list(out.iterdir())
        if not entries:
            return None
        if out_is_video:
            return "is a folder, not a video file"
        for p in entries:
            if p.is_symlink() or not p.is_file() or not (_FRAME_NAME.fullmatch(p.name) or p.name == _LOCK_FILE):
                return f"holds {p.name!r}, which is not a frame written by videoinr"
        return None
    if not out_is_video:
        return "exists and is not a folder"
    return None


def _check_output(out: Path, src_path: Path, out_is_video: bool, force: bool) -> None:
    """Refuse an output that is or contains the input, or that --force may not replace."""
    o, s = resolve_path(out), resolve_path(src_path)
    if o == s:
        raise VideoINRError(f"{out}: output would overwrite the input")
    if o in s.parents:
        raise VideoINRError(f"{out}: output folder contains the input {src_path}; choose another output")
    if not out.exists():
        return
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        return  # an empty folder is as good as none
    if not force:
        raise VideoINRError(f"{out}: already exists (use --force to overwrite)")
    why = _replace_problem(out, out_is_video)
    if why:
        raise VideoINRError(f"{out}: {why}; --force replaces only outputs of videoinr (move it away yourself)")


def _write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` (the PNG sink's only disk write; tests inject a full disk here)."""
    with open(path, "wb") as f:
        f.write(data)


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def _disk_full(e: BaseException) -> bool:
    """True for an out-of-space error (builtin OSError or PyAV's av.error.OSError, which subclasses it)."""
    return isinstance(e, OSError) and getattr(e, "errno", None) in _DISK_FULL


class _FolderSink:
    """Numbered PNG frames written atomically into the work folder; finished frames survive for --resume."""

    def __init__(self, output: Path, work: Path, n: int) -> None:
        self.output, self.work = output, work
        self.digits = max(6, len(str(n - 1)))

    def name(self, j: int) -> Path:
        return self.work / f"{j:0{self.digits}d}.png"

    def is_done(self, j: int) -> bool:
        return self.name(j).is_file()

    def write(self, j: int, image: np.ndarray, time_s: float, duration: float | None) -> None:
        p = self.name(j)
        tmp = p.with_name(f".{p.name}.tmp.png")
        # encoded in memory and written by Python: a full disk is an OSError here, not libpng's stderr noise
        ok, png = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
        if not ok:
            raise VideoINRError(f"{p}: cannot encode PNG")
        try:
            _write_file(tmp, png.tobytes())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, p)

    def finish(self) -> None:
        (self.work / _JOB_FILE).unlink(missing_ok=True)
        for stray in self.work.glob(".*.tmp.png"):  # a write cut short by a hard kill
            stray.unlink()
        _move_into_place(self.work, self.output, video=False)
        (self.output / _LOCK_FILE).unlink(missing_ok=True)  # still held (open) until the run ends

    def close(self) -> None:
        pass


class _VideoSink:
    """Output frames encoded in fixed segments of `segment` frames (the unit of --resume), joined at the end.

    Segment s holds output frames [s * segment, (s + 1) * segment) and exists under its final name only once
    complete. The join remuxes them (no re-encode) with the input's audio/subtitles and metadata.
    """

    def __init__(self, output: Path, work: Path, n: int, plan: _Plan, src: _Source, codec: str,
                 crf: float | None, segment: int) -> None:
        import av

        self.output, self.work, self.n, self.plan, self.src = output, work, n, plan, src
        self.codec, self.crf, self.segment = codec, crf, max(1, int(segment))
        fmt = av.open(os.devnull, "w", format="mp4")
        try:
            self.ext = ".mp4" if codec in fmt.supported_codecs else ".mkv"
        finally:
            fmt.close()
        self.writer = None
        self.open_seg: int | None = None

    def seg_path(self, s: int) -> Path:
        return self.work / f"segment_{s:06d}{self.ext}"

    def is_done(self, j: int) -> bool:
        return self.seg_path(j // self.segment).is_file()

    def write(self, j: int, image: np.ndarray, time_s: float, duration: float | None) -> None:
        from videoinr.data.video import VideoWriter

        s = j // self.segment
        if self.open_seg != s:
            if self.writer is not None:
                raise RuntimeError("segment left unfinished")  # frames arrive in order; cannot happen
            source = self.src.path if self.src.kind == "video" else None
            self.writer = VideoWriter(self.seg_path(s), self.plan.fps, codec=self.codec, crf=self.crf,
                                      source=source, copy_streams=False, time_base=self.plan.time_base)
            self.open_seg = s
        self.writer.write(image, time_s, duration)
        if j == min(self.n, (s + 1) * self.segment) - 1:
            self.writer.close()
            self.writer, self.open_seg = None, None

    def finish(self) -> None:
        from videoinr.data.video import concat_videos

        n_seg = -(-self.n // self.segment)
        parts = [self.seg_path(s) for s in range(n_seg)]
        source = self.src.path if self.src.kind == "video" else None
        tmp = self.work / f"joined{self.output.suffix}"
        concat_videos(parts, tmp, source=source, copy_streams=self.plan.copy_audio)
        _move_into_place(tmp, self.output, video=True)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None


def _move_into_place(src: Path, dst: Path, video: bool) -> None:
    """Rename src to dst, replacing an existing dst (file or folder) only after src is complete, and only
    if dst is still something --force may replace (checked again: it may have changed meanwhile)."""
    if dst.exists():
        why = _replace_problem(dst, video)
        if why:
            raise VideoINRError(f"{dst}: {why} (changed during the run); nothing replaced")
    if dst.is_dir() and not dst.is_symlink():
        old = _aside(dst, "old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
        try:
            os.replace(src, dst)
        except BaseException:
            os.replace(old, dst)  # put the previous output back
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def _model_fingerprint(model) -> str:
    h = hashlib.sha1()
    h.update(json.dumps(getattr(model.cfg, "to_dict", lambda: repr(model.cfg))(), sort_keys=True, default=str).encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------------
# the engine
# ----------------------------------------------------------------------------------------------------
class _FrameWindow:
    """Sequential random access to a frame stream, keeping only the frames still needed."""

    def __init__(self, frames: Iterator[np.ndarray]) -> None:
        self.it = frames
        self.buf: dict[int, np.ndarray] = {}
        self.next = 0
        self.floor = 0

    def get(self, i: int) -> np.ndarray:
        while self.next <= i:
            try:
                frame = next(self.it)
            except StopIteration:
                raise VideoINRError(f"input ended before frame {i}") from None
            if self.next >= self.floor:
                self.buf[self.next] = frame
            self.next += 1
        return self.buf[i]

    def drop_before(self, i: int) -> None:
        """Frames below i are no longer needed (and are not stored when read later)."""
        self.floor = max(self.floor, i)
        for k in [k for k in self.buf if k < i]:
            del self.buf[k]


def _to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(img).to(device).permute(2, 0, 1).unsqueeze(0).float().div_(255)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> uint8 (H, W, 3)."""
    return x.clamp(0, 1).mul(255).round_().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _load_model(model, device: torch.device):
    if isinstance(model, torch.nn.Module):
        return model.to(device).eval()
    from videoinr import create_model

    return create_model(str(model), device=device)


def _upscale_one(
    src_path: Path, out: Path, *, scale, size, time_scale, fps, times, region, net, device, codec, crf,
    resume, force, max_memory, max_time, scene_cuts, input_fps, progress, segment_frames, on_progress=None,
) -> Path:
    label = str(src_path)
    out_is_video = out.suffix.lower() in VIDEO_EXTENSIONS
    if out.suffix and not out_is_video:
        raise VideoINRError(f"{out}: unknown output type {out.suffix!r} (use a video extension such as .mp4, "
                            "or a folder name without extension for PNG frames)")
    if out_is_video and out.suffix.lower() not in OUTPUT_VIDEO_EXTENSIONS:
        raise VideoINRError(f"{out}: cannot write {out.suffix} (use one of "
                            f"{', '.join(sorted(OUTPUT_VIDEO_EXTENSIONS))})")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise VideoINRError(f"{out}: output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VideoINRError(f"{out}: output folder {parent} is not writable")
    try:
        _check_name(out, parent)
        _check_output(out, src_path, out_is_video, force)  # before the lock: refuse without touching anything
        lock = _WorkLock(_work_dir(out), out).acquire()
    except OSError as e:
        raise VideoINRError(f"{out}: cannot write here ({e.strerror or e})") from None
    try:
        try:
            _check_output(out, src_path, out_is_video, force)  # again, now that no other run can write it
        except OSError as e:
            raise VideoINRError(f"{out}: cannot write here ({e.strerror or e})") from None
        return _upscale_locked(
            src_path, out, lock, label, out_is_video, scale=scale, size=size, time_scale=time_scale, fps=fps,
            times=times, region=region, net=net, device=device, codec=codec, crf=crf, resume=resume,
            max_memory=max_memory, max_time=max_time, scene_cuts=scene_cuts, input_fps=input_fps,
            progress=progress, segment_frames=segment_frames, on_progress=on_progress,
        )
    except BaseException:
        if lock.fresh and lock.work.exists():
            lock.remove_work()  # created by this run and holding nothing to keep
        raise
    finally:
        lock.release()


def _upscale_locked(
    src_path: Path, out: Path, lock: _WorkLock, label: str, out_is_video: bool, *, scale, size, time_scale,
    fps, times, region, net, device, codec, crf, resume, max_memory, max_time, scene_cuts, input_fps, progress,
    segment_frames, on_progress=None,
) -> Path:
    """The run itself, holding the lock on the work folder."""
    if out_is_video:
        from videoinr.data.video import check_encoder

        check_encoder(codec)
        _check_container(out, codec)

    src = _scan(src_path, input_fps, scene_cuts, progress)
    plan = _make_plan(src, time_scale, fps, times)
    H, W = output_size((src.height, src.width), scale, size)
    if region is not None:
        rx, ry, rw, rh = region
        if rx + rw > W or ry + rh > H:
            raise VideoINRError(f"--region {rx},{ry},{rw},{rh}: not inside the {W}x{H} output frame")
        frame_hw = (rh, rw)
    else:
        frame_hw = (H, W)
    if out_is_video and src.kind == "video" and plan.copy_audio is False and src.info.has_audio and progress:
        print(f"note: {src_path}: audio not copied (--times changes the timeline)", file=sys.stderr)

    limit = max_memory if max_memory is not None else _default_memory(device)
    policy = inference_policy(device, len(plan.u) * frame_hw[0] * frame_hw[1])  # decided once per job
    policy.apply(net)
    budget = _budget(net, (src.height, src.width), frame_hw, limit, label, device)

    n_out = len(plan.u)
    shots_start = [0, *[c for c in src.cuts if 0 < c < src.n]]
    cutset = set(shots_start[1:])
    jobs = [_locate(u, cutset, shots_start, src.n) for u in plan.u]

    # job description for --resume: everything that determines the output bytes
    settings = {
        "input": str(src_path.resolve()), "input_size": _input_stamp(src_path), "frames": src.n,
        "out": [H, W], "region": list(region) if region else None, "u": hashlib.sha1(
            json.dumps([plan.u, plan.times]).encode()).hexdigest(), "cuts": src.cuts,
        "codec": codec if out_is_video else "png", "crf": crf, "segment": segment_frames,
        "model": _model_fingerprint(net), "policy": dataclasses.asdict(policy), "version": 2,
    }
    work = lock.work
    budget = _prepare_work(work, settings, budget, limit, resume)
    lock.fresh = False  # from here on the work folder is kept or removed below
    sink = (_VideoSink(out, work, n_out, plan, src, codec, crf, segment_frames) if out_is_video
            else _FolderSink(out, work, n_out))
    old_points = net.max_query_points
    try:
        net.max_query_points = budget.max_query_points
        _render_all(src, plan, jobs, sink, net, device, (H, W), region, budget, max_time, progress, label,
                    on_progress)
        sink.close()
        sink.finish()
        if out_is_video:
            lock.remove_work()
    except BaseException as e:
        sink.close()
        if isinstance(e, _Terminated):
            # SIGTERM: like Ctrl-C, keep finished work; main() reports it in one line
            e.detail = f"finished work kept in {work}; rerun with --resume to continue"
        elif isinstance(e, (KeyboardInterrupt, MemoryError, torch.OutOfMemoryError)):
            # not the input's fault: keep finished frames/segments for --resume (never under the output name)
            print(f"{type(e).__name__}: finished work kept in {work}; rerun with --resume to continue",
                  file=sys.stderr)
        elif _disk_full(e):
            # nor is a full disk: keep every finished frame/segment, say so in one line
            raise VideoINRError(
                f"{out}: disk full ({e.strerror or 'no space left'}); finished work kept in {work}: "
                "free some space and rerun with --resume to continue"
            ) from None
        elif work.exists():
            lock.remove_work()
        raise
    finally:
        net.max_query_points = old_points
    return out


class _Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM: handled like Ctrl-C (finished work kept for --resume)."""

    detail = ""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _check_container(out: Path, codec: str) -> None:
    import av

    fmt = {".m4v": "mp4", ".mkv": "matroska"}.get(out.suffix.lower(), out.suffix.lower().lstrip("."))
    try:
        c = av.open(os.devnull, "w", format=fmt)
    except (av.FFmpegError, ValueError) as e:
        raise VideoINRError(f"{out}: cannot write {out.suffix} files ({e})") from None
    try:
        if codec not in c.supported_codecs:
            raise VideoINRError(f"{out}: {out.suffix} cannot hold {codec} video (choose another --codec)")
    finally:
        c.close()


def _input_stamp(path: Path) -> list:
    if path.is_dir():
        st = [(p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in sorted(path.iterdir()) if p.is_file()]
        return [len(st), hashlib.sha1(json.dumps(st).encode()).hexdigest()]
    s = path.stat()
    return [s.st_size, int(s.st_mtime)]


def _prepare_work(work: Path, settings: dict, budget: _Budget, limit: int, resume: bool) -> _Budget:
    """Create (or, with resume, reopen) the work folder; returns the render chunking to use.

    A resumed run must match the interrupted one's `settings` exactly, and reuses its chunking so the
    result is the same as one uninterrupted run's (when it still fits the memory limit).
    """
    job = work / _JOB_FILE
    try:
        leftovers = [p for p in work.iterdir() if p.name != _LOCK_FILE]  # of an interrupted run
    except OSError as e:
        raise VideoINRError(f"{work}: cannot read ({e.strerror or e})") from None
    if leftovers:
        old = None
        if resume:
            try:
                old = json.loads(job.read_text())
            except (OSError, ValueError):
                old = None
            if old is None or old.get("settings") != json.loads(json.dumps(settings)):
                raise VideoINRError(
                    f"{work}: the interrupted run used other settings or input; rerun without --resume to start over"
                )
            b = old.get("budget", {})
            if b and b.get("peak_bytes", 1 << 62) <= limit:
                budget = _Budget(int(b["max_query_points"]), int(b["t_per_call"]), int(b["peak_bytes"]))
        if old is None:
            for p in leftovers:  # start over, keeping the lock file
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
    tmp = job.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps({"settings": settings, "budget": dataclasses.asdict(budget)}))
        os.replace(tmp, job)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise VideoINRError(f"{work}: cannot write here ({e.strerror or e})") from None
    return budget


def _render_all(src, plan, jobs, sink, net, device, out_hw, region, budget, max_time, progress, label,
                on_progress=None) -> None:
    n_out = len(jobs)
    done = 0  # frames written (or already there, on --resume), for on_progress
    window = _FrameWindow(src.frames())
    bar = tqdm(total=n_out, desc=src.path.name, unit="frame", disable=None if progress else True,
               dynamic_ncols=True)
    checked_estimate = False
    try:
        j = 0
        while j < n_out:
            pair = jobs[j][0]
            end = j
            while end < n_out and jobs[end][0] == pair:
                end += 1
            group = range(j, end)
            todo = [i for i in group if not sink.is_done(i)]
            bar.update(len(group) - len(todo))
            done += len(group) - len(todo)
            if todo:
                window.drop_before(pair[0])
                a = _to_tensor(window.get(pair[0]), device)
                b = _to_tensor(window.get(pair[1]), device)
                t0 = time.perf_counter()
                with torch.inference_mode():
                    state = net.encode(a, b)
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    t_enc = time.perf_counter() - t0
                    if not checked_estimate:
                        _check_estimate(state, jobs, todo, out_hw, region, t_enc, n_out, src.n, max_time,
                                        progress, label, budget)
                        checked_estimate = True
                        if on_progress is not None:
                            on_progress(done, n_out)
                    for c in range(0, len(todo), budget.t_per_call):
                        chunk = todo[c : c + budget.t_per_call]
                        rgb = state.render(size=out_hw, t=[jobs[i][1] for i in chunk], region=region)
                        for i, img in zip(chunk, rgb[0]):
                            last = i == n_out - 1
                            sink.write(i, _to_uint8(img), plan.times[i], plan.last_duration if last else None)
                            bar.update(1)
                            done += 1
                            if on_progress is not None:
                                on_progress(done, n_out)
                del state
            j = end
    finally:
        bar.close()
    # finish reading the input so truncation or a change since the scan is still reported
    for _ in window.it:
        pass


def _check_estimate(state, jobs, todo, out_hw, region, t_enc, n_out, n_in, max_time, progress, label, budget):
    """Time one small render to estimate the whole run; refuse it up front when over --max-time."""
    H, W = out_hw
    rh, rw = (region[3], region[2]) if region else (H, W)
    ch, cw = min(rh, 128), min(rw, 128)
    rx, ry = (region[0], region[1]) if region else (0, 0)
    t = [jobs[todo[0]][1]]
    state.render(size=out_hw, t=t, region=(rx, ry, min(cw, 8), min(ch, 8)))  # warm-up: first-call costs
    t0 = time.perf_counter()
    state.render(size=out_hw, t=t, region=(rx, ry, cw, ch))
    per_px = (time.perf_counter() - t0) / (ch * cw)
    n_pairs = len({jb[0] for jb in jobs})
    est = n_pairs * t_enc + n_out * rh * rw * per_px
    if max_time is not None and est > max_time:
        raise VideoINRError(
            f"{label}: estimated {_fmt_secs(est)} for {n_out} frames of {rw}x{rh}, over the --max-time limit "
            f"of {_fmt_secs(max_time)} (lower --scale/--size/--time-scale or raise --max-time)"
        )
    if progress:
        tqdm.write(f"{label}: {n_in} -> {n_out} frames of {rw}x{rh}; estimate ~{_fmt_secs(est)}, "
                   f"peak memory ~{_fmt_bytes(budget.peak_bytes)}", file=sys.stderr)
    return est


# ----------------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------------
def _shard(items: list, rank: int | None = None, world: int | None = None) -> list:
    """Items of this process under torchrun (RANK / WORLD_SIZE env vars): items[rank::world]."""
    rank = int(os.environ.get("RANK", 0)) if rank is None else rank
    world = int(os.environ.get("WORLD_SIZE", 1)) if world is None else world
    return items[rank::world] if world > 1 else items


def upscale(
    input: str | os.PathLike,
    output: str | os.PathLike,
    *,
    scale: float | None = None,
    size: str | tuple[int, int] | None = None,
    time_scale: int | None = None,
    fps: float | Fraction | str | None = None,
    times: str | Sequence[float] | None = None,
    region: str | tuple[int, int, int, int] | None = None,
    model: str | os.PathLike | torch.nn.Module = "lite",
    device: str | torch.device = "auto",
    codec: str = "libx264",
    crf: float | None = 18,
    resume: bool = False,
    force: bool = False,
    max_memory: str | int | None = None,
    max_time: str | float | None = "7d",
    scene_cuts: bool = True,
    input_fps: float | Fraction | None = None,
    progress: bool = True,
    segment_frames: int = SEGMENT_FRAMES,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path | list[Path]:
    """Upscale `input` (video file, frame folder, or folder of videos) to `output` in space and time.

    Space: `scale` (float, output = ceil(scale * input)) or `size` (W, H) / "WxH", one side -1 keeping the
    aspect. Time (at most one): `time_scale` N -> (F - 1) * N + 1 frames at t = k / N, last input frame
    kept; `fps` -> a frame rate from the real timestamps (variable frame rate sources included); `times` ->
    explicit positions in input-frame units (2.5 = halfway between frames 2 and 3), non-decreasing.
    `region` (x, y, w, h) in output pixels renders only that window. `output`: a video file (container by
    extension; audio/subtitles stream-copied) or a folder (numbered PNGs). `model`: "lite", "paper", a
    .safetensors path, or a VideoINR module. `max_memory` bounds peak memory (e.g. "4G"; default: half the
    RAM up to 8 GiB, or 80% of free GPU memory); `max_time` refuses runs estimated to take longer.
    `on_progress(frames_done, frames_total)` is called once rendering starts (after the estimate) and after
    each output frame is written (per input file for a folder of videos); an exception it raises aborts the
    run like any error (the work folder is removed, nothing is written under the output name).
    A folder of videos gives a folder of outputs, split across processes under torchrun (RANK/WORLD_SIZE).
    Returns the output path (a list of paths for a folder of videos). Raises VideoINRError on bad input.
    """
    inp, out = Path(input), Path(output)
    require_path(inp)
    if scale is not None and size is not None:
        raise VideoINRError("give either --scale or --size, not both")
    if scale is not None:
        try:
            scale = float(scale)
        except (TypeError, ValueError):
            raise VideoINRError(f"--scale {scale!r}: not a number") from None
        if not math.isfinite(scale) or scale <= 0:
            raise VideoINRError(f"--scale {scale:g}: must be a positive number")
    size_wh = _parse_size(size) if size is not None else None
    n_time = sum(v is not None for v in (time_scale, fps, times))
    if n_time > 1:
        raise VideoINRError("give at most one of --time-scale, --fps and --times")
    if time_scale is not None:
        if isinstance(time_scale, float) and not time_scale.is_integer() or int(time_scale) < 1:
            raise VideoINRError(f"--time-scale {time_scale}: must be a whole number >= 1 (use --fps for other rates)")
        time_scale = int(time_scale)
    fps_q = None
    if fps is not None:
        try:
            fps_q = Fraction(str(fps)).limit_denominator(1_000_000)
        except (ValueError, ZeroDivisionError):
            raise VideoINRError(f"--fps {fps!r}: not a number") from None
        if fps_q <= 0 or fps_q > 10_000:
            raise VideoINRError(f"--fps {fps}: must be in (0, 10000]")
    times_l = _parse_times(times) if times is not None else None
    region_t = _parse_region(region) if region is not None else None
    if input_fps is not None:
        try:
            input_fps = Fraction(str(input_fps)).limit_denominator(1_000_000)
        except (ValueError, ZeroDivisionError):
            raise VideoINRError(f"--input-fps {input_fps!r}: not a number") from None
        if input_fps <= 0:
            raise VideoINRError(f"--input-fps {input_fps}: must be positive")
    mem = parse_memory(max_memory)
    tmax = _parse_duration(max_time)
    if crf is not None and not (0 <= float(crf) <= 63):
        raise VideoINRError(f"--crf {crf}: must be in 0..63")
    dev = pick_device(device)

    batch = inp.is_dir() and not _is_frame_folder(inp)
    if batch:
        videos = sorted(p for p in inp.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        if not videos:
            raise VideoINRError(f"{inp}: no image frames or video files in this folder")
        if out.suffix:
            raise VideoINRError(f"{out}: a folder of videos needs a folder as output, not a {out.suffix} file")
        if out.exists() and not out.is_dir():
            raise VideoINRError(f"{out}: exists and is not a folder")
        pairs = [(v, out / v.name) for v in videos]
        pairs = [(v, o) for v, o in pairs if o.suffix.lower() in OUTPUT_VIDEO_EXTENSIONS] + [
            (v, o.with_suffix(".mp4")) for v, o in pairs if o.suffix.lower() not in OUTPUT_VIDEO_EXTENSIONS]
        pairs.sort()
        inputs = {v.resolve() for v in videos}
        for v, o in pairs:
            if resolve_path(o) in inputs:
                raise VideoINRError(f"{o}: output for {v.name} would overwrite an input; choose another output folder")
        mine = _shard(pairs)
        if not force:
            for _, o in mine:
                if o.exists():
                    raise VideoINRError(f"{o}: already exists (use --force to overwrite)")
        for v, _ in mine:  # decode every input of this shard before writing anything (a truncated
            _scan(v, None, False, progress)  # mkv shows only when decoded; decoding costs little next to rendering)
        try:
            out.mkdir(parents=False, exist_ok=True)
        except OSError as e:
            raise VideoINRError(f"{out}: cannot create output folder ({e.strerror or e})") from None
    if not batch and int(os.environ.get("WORLD_SIZE", 1)) > 1 and int(os.environ.get("RANK", 0)) != 0:
        return out  # one input under torchrun: rank 0 does it; the others must not write the same file
    net = _load_model(model, dev)
    kw = dict(scale=scale, size=size_wh, time_scale=time_scale, fps=fps_q, times=times_l, region=region_t,
              net=net, device=dev, codec=codec, crf=crf, resume=resume, force=force, max_memory=mem,
              max_time=tmax, scene_cuts=scene_cuts, input_fps=input_fps, progress=progress,
              segment_frames=segment_frames, on_progress=on_progress)
    if batch:
        return [_upscale_one(v, o, **kw) for v, o in mine]
    return _upscale_one(inp, out, **kw)


@dataclass(frozen=True)
class Estimate:
    """What `upscale()` would produce and cost (see `estimate()`)."""

    frames_in: int
    frames_out: int
    width: int
    height: int
    fps: Fraction  # nominal output frame rate
    seconds: float  # estimated run time
    peak_bytes: int  # estimated peak memory
    audio: bool  # whether a video output would carry the input's audio


def estimate(
    input: str | os.PathLike,
    *,
    scale: float | None = None,
    size: str | tuple[int, int] | None = None,
    time_scale: int | None = None,
    fps: float | Fraction | str | None = None,
    model: str | os.PathLike | torch.nn.Module = "lite",
    device: str | torch.device = "auto",
    max_memory: str | int | None = None,
) -> Estimate:
    """Frames, output size, run time and peak memory of `upscale(input, ..., same options)`, writing nothing.

    Decodes the input once (as the run's scan, without scene-cut detection), loads the model and times the
    first pair as the run does before rendering (eager renderer: a long job that compiles runs faster).
    Raises the run's VideoINRError for bad input or settings over the memory limit.
    """
    inp = Path(input)
    require_path(inp)
    if inp.is_dir() and not _is_frame_folder(inp):
        raise VideoINRError(f"{inp}: estimate takes one video or frame folder")
    if scale is not None and size is not None:
        raise VideoINRError("give either --scale or --size, not both")
    if scale is not None and not (math.isfinite(float(scale)) and float(scale) > 0):
        raise VideoINRError(f"--scale {float(scale):g}: must be a positive number")
    if time_scale is not None and fps is not None:
        raise VideoINRError("give at most one of --time-scale, --fps and --times")
    if time_scale is not None and (float(time_scale) != int(time_scale) or int(time_scale) < 1):
        raise VideoINRError(f"--time-scale {time_scale}: must be a whole number >= 1 (use --fps for other rates)")
    fps_q = None
    if fps is not None:
        try:
            fps_q = Fraction(str(fps)).limit_denominator(1_000_000)
        except (ValueError, ZeroDivisionError):
            raise VideoINRError(f"--fps {fps!r}: not a number") from None
        if fps_q <= 0 or fps_q > 10_000:
            raise VideoINRError(f"--fps {fps}: must be in (0, 10000]")
    size_wh = _parse_size(size) if size is not None else None
    mem = parse_memory(max_memory)
    dev = pick_device(device)

    src = _scan(inp, None, False, False)
    plan = _make_plan(src, int(time_scale) if time_scale is not None else None, fps_q, None)
    H, W = output_size((src.height, src.width), None if scale is None else float(scale), size_wh)
    net = _load_model(model, dev)
    limit = mem if mem is not None else _default_memory(dev)
    budget = _budget(net, (src.height, src.width), (H, W), limit, str(inp), dev)
    jobs = [_locate(u, set(), [0], src.n) for u in plan.u]
    window = _FrameWindow(src.frames())
    old_points = net.max_query_points
    try:
        net.max_query_points = budget.max_query_points
        a, b = (_to_tensor(window.get(k), dev) for k in jobs[0][0])
        with torch.inference_mode():
            t0 = time.perf_counter()
            state = net.encode(a, b)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t_enc = time.perf_counter() - t0
            secs = _check_estimate(state, jobs, [0], (H, W), None, t_enc, len(jobs), src.n, None, False,
                                   str(inp), budget)
    finally:
        net.max_query_points = old_points
        window.it.close()
    audio = bool(src.kind == "video" and src.info.has_audio and plan.copy_audio)
    return Estimate(src.n, len(jobs), W, H, Fraction(plan.fps), float(secs), budget.peak_bytes, audio)


# ----------------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="videoinr upscale",
        description="Upscale a video (or frame folder, or folder of videos) to any resolution and frame rate.",
        epilog="Examples: videoinr upscale in.mp4 -o out.mp4 --scale 4 --time-scale 2;  "
               "videoinr upscale frames/ -o big/ --size 1920x-1 --fps 60",
    )
    p.add_argument("input", help="video file, folder of frames, or folder of videos ('example': the bundled clip)")
    p.add_argument("-o", "--output", required=True,
                   help="video file (.mp4, .mkv, .mov, .webm) or folder (numbered PNG frames)")
    space = p.add_mutually_exclusive_group()
    space.add_argument("--scale", type=float, help="space scale factor, any positive float (e.g. 2.7)")
    space.add_argument("--size", help="exact output size WxH; one side may be -1 to keep the aspect")
    tm = p.add_mutually_exclusive_group()
    tm.add_argument("--time-scale", type=int, metavar="N", help="N output frames per input interval")
    tm.add_argument("--fps", help="output frame rate (uses the real input timestamps)")
    tm.add_argument("--times", help="explicit output times in input-frame units, e.g. 0,0.25,0.5,1,2")
    p.add_argument("--region", help="X,Y,W,H window of the output frame (output pixels) to render "
                   "(a value starting with '-' is accepted, e.g. --region=-5,0,10,10, and reported)")
    p.add_argument("--model", default="lite", help="lite, paper, or a .safetensors weights file (default lite)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--codec", default="libx264", help="video encoder for video outputs (default libx264)")
    p.add_argument("--crf", type=float, default=18, help="encoder quality, lower is better (default 18)")
    p.add_argument("--input-fps", type=float, help=f"frame rate of a frame-folder input (default {DEFAULT_INPUT_FPS})")
    p.add_argument("--max-memory", default="auto", help="peak memory bound, e.g. 4G (default auto)")
    p.add_argument("--max-time", default="7d", help="refuse runs estimated to take longer (default 7d; none)")
    p.add_argument("--no-scene-cuts", action="store_true", help="do not detect scene cuts")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def resolve_input(name: str) -> Path:
    """The CLI input: `example` means the bundled clip unless a file or folder of that name exists."""
    p = Path(name)
    if name == "example" and not p.exists():
        return EXAMPLE_VIDEO
    return p


def _join_region(argv: Sequence[str] | None) -> list[str]:
    """`--region -5,0,10,10` -> `--region=-5,0,10,10`, so argparse does not take the value for an option
    and the real problem (a negative X) is reported by _parse_region."""
    args = list(sys.argv[1:] if argv is None else argv)
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            out.extend(args[i:])
            break
        if a == "--region" and i + 1 < len(args) and re.fullmatch(r"-[\d\s,+-]*", args[i + 1]):
            out.append(f"--region={args[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """`videoinr upscale ...`; returns the exit status (VideoINRError is handled by the caller)."""
    args = build_parser().parse_args(_join_region(argv))
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result = upscale(
            resolve_input(args.input), args.output, scale=args.scale, size=args.size, time_scale=args.time_scale,
            fps=args.fps, times=args.times, region=args.region, model=args.model, device=args.device,
            codec=args.codec, crf=args.crf, resume=args.resume, force=args.force, max_memory=args.max_memory,
            max_time=args.max_time, scene_cuts=not args.no_scene_cuts, input_fps=args.input_fps,
            progress=not args.quiet,
        )
    except _Terminated as e:
        print(f"error: terminated{'; ' + e.detail if e.detail else ''}", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    if not args.quiet:
        outs = result if isinstance(result, list) else [result]
        for o in outs:
            print(f"wrote {o}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from videoinr.cli import run_with_errors

    sys.exit(run_with_errors(main, sys.argv[1:]))
