"""Which frames `videoinr check` scores: the factors a request implies, the segments spread over the file
(the whole file when it fits in ``--seconds``), and the scenes inside each segment (split at the cuts that
`videoinr.data.scenes.CutDetector` finds; no pair is ever interpolated across a cut).

Frames cross this module as uint8 (H, W, 3) RGB arrays; indices are 0-based source frame numbers.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from videoinr.data.scenes import CutDetector, split_shots
from videoinr.errors import VideoINRError, require_path

SEGMENTS = 3  # segments spread over a file longer than --seconds
MIN_SEGMENT_SECONDS = 1.0  # fewer, longer segments rather than many short ones


@dataclass(frozen=True)
class Factors:
    """The degradation a request implies: the original is downscaled by `scale` in space and every
    `time_scale`-th frame kept; the methods bring it back to the original size and rate."""

    scale: float
    time_scale: int

    def label(self) -> str:
        s = f"{self.scale:g}"
        return f"x{s}/x{self.time_scale}"


def _parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(-?\d+)\s*[xX]\s*(-?\d+)\s*", str(text))
    if not m:
        raise VideoINRError(f"--size {text}: expected WxH, e.g. 1920x1080 or 1920x-1")
    w, h = int(m.group(1)), int(m.group(2))
    if (w <= 0 and w != -1) or (h <= 0 and h != -1) or (w == -1 and h == -1):
        raise VideoINRError(f"--size {text}: both sides must be positive (one may be -1 to keep the aspect)")
    return w, h


def resolve_factors(width: int, height: int, fps: Fraction, scale=None, time_scale=None, size=None,
                    target_fps=None) -> Factors:
    """Space and time factors from --scale/--size and --time-scale/--fps for a source of width x height at
    `fps`. --size must be the source scaled by one factor (within a pixel's rounding); --fps a whole
    multiple of the source rate. Defaults: x4, x2."""
    if scale is not None and size is not None:
        raise VideoINRError("give either --scale or --size, not both")
    if time_scale is not None and target_fps is not None:
        raise VideoINRError("give either --time-scale or --fps, not both")
    if size is not None:
        w, h = _parse_size(size)
        sw, sh = (w / width if w > 0 else None), (h / height if h > 0 else None)
        s = sw if sw is not None else sh
        if sw is not None and sh is not None and abs(math.ceil(sw * height - 1e-9) - h) > 1:
            raise VideoINRError(f"--size {size}: not the {width}x{height} source scaled by one factor (x{sw:.3g} "
                                f"wide, x{sh:.3g} high); check measures one space factor")
    else:
        try:
            s = float(scale) if scale is not None else 4.0
        except ValueError:
            raise VideoINRError(f"--scale {scale}: expected a number, e.g. 4") from None
    if not (math.isfinite(s) and s >= 1.0):
        raise VideoINRError(f"--scale {s:g}: check needs a factor >= 1 (it downscales the original by it)")
    if s > 16:
        raise VideoINRError(f"--scale {s:g}: over x16 the downscaled sample is a few pixels; use a smaller factor")
    if round(s) != s and abs(s - round(s)) < 1e-3:
        s = float(round(s))
    if target_fps is not None:
        try:
            f = Fraction(str(target_fps))
        except (ValueError, ZeroDivisionError):
            raise VideoINRError(f"--fps {target_fps}: expected a number, e.g. 60") from None
        ratio = f / Fraction(fps)
        n = round(ratio)
        if n < 1 or abs(float(ratio) - n) > 0.01 * n:
            raise VideoINRError(f"--fps {target_fps}: {float(ratio):.3g} times the source's {float(fps):.3g} fps; "
                                "check needs a whole multiple (it keeps every N-th frame)")
    else:
        try:
            n = int(time_scale) if time_scale is not None else 2
        except ValueError:
            raise VideoINRError(f"--time-scale {time_scale}: expected a whole number, e.g. 2") from None
        if n < 1:
            raise VideoINRError(f"--time-scale {n}: must be >= 1")
    if min(width, height) / s < 8:
        raise VideoINRError(f"--scale {s:g}: the {width}x{height} source would shrink below 8 pixels")
    return Factors(float(s), int(n))


@dataclass
class Source:
    """A video file or frame folder: frame count, rate, size, and ranged reads."""

    path: Path
    kind: str  # "video" or "frames"
    n: int
    fps: Fraction
    width: int
    height: int
    start_time: float = 0.0
    frame_paths: list = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.n / float(self.fps)

    def read(self, frames: range) -> list[np.ndarray]:
        """uint8 RGB frames of `frames` (consecutive source indices); fewer when the file ends early."""
        if self.kind == "frames":
            from videoinr.data.frames import read_image

            return [read_image(self.frame_paths[i]) for i in frames]
        return _read_video_range(self, frames)


def open_source(path: str | Path, input_fps: float | None = None) -> Source:
    """Probe a video file or a folder of frames (at `input_fps`, default 30). One-line errors for missing,
    unreadable or non-video inputs."""
    p = Path(path)
    require_path(p)
    if p.is_dir():
        from videoinr.data.frames import list_frames, read_image

        paths = list_frames(p)
        if not paths:
            raise VideoINRError(f"{p}: no image frames in this folder")
        first = read_image(paths[0])
        fps = Fraction(str(input_fps)) if input_fps else Fraction(30)
        return Source(p, "frames", len(paths), fps, first.shape[1], first.shape[0], 0.0, paths)
    from videoinr.data.video import probe

    info = probe(p)
    if info.rotation:
        pass  # frames are scored in their stored orientation, as upscale renders them
    n = info.frames
    if n < 1:
        raise VideoINRError(f"{p}: video stream has no frames")
    return Source(p, "video", n, info.fps, info.width, info.height, info.start_time)


def _read_video_range(src: Source, frames: range) -> list[np.ndarray]:
    """Decode `frames` of a video: from the start by streaming, elsewhere by seeking to the keyframe before
    and decoding forward (a 2-hour file is not decoded whole). Source indices come from timestamps."""
    import av

    from videoinr.data.video_read import _open_input, _short, _to_rgb

    if len(frames) == 0:
        return []
    if frames.start == 0:
        from videoinr.data.video import iter_video

        out = []
        for f in iter_video(src.path) if frames.stop >= src.n else _iter_prefix(src.path, frames.stop):
            if f.index >= frames.stop:
                break
            out.append(f.image)
        return out
    container = _open_input(src.path)
    out: list[np.ndarray] = []
    try:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        tb = Fraction(vs.time_base) if vs.time_base else Fraction(1, 1_000_000)
        fps = float(src.fps)
        target = src.start_time + frames.start / fps
        container.seek(max(0, int((target - 1.0) / tb)), stream=vs, backward=True, any_frame=False)
        for frame in container.decode(vs):
            if frame.time is None:
                continue
            idx = round((float(frame.time) - src.start_time) * fps)
            if idx < frames.start:
                continue
            out.append(_to_rgb(frame))
            if len(out) == len(frames):
                break
    except av.FFmpegError as e:
        raise VideoINRError(f"{src.path}: truncated or corrupt video near frame {frames.start} ({_short(e)})") from None
    finally:
        container.close()
    return out


def _iter_prefix(path: Path, stop: int):
    """The first `stop` frames of a video through `iter_video`, stopping early (the generator is closed)."""
    from videoinr.data.video import iter_video

    it = iter_video(path)
    try:
        for f in it:
            yield f
            if f.index + 1 >= stop:
                break
    finally:
        it.close()


def plan_segments(n: int, fps: Fraction, seconds: float, min_len: int) -> list[range]:
    """Source frame ranges to check: the whole file when it has at most `seconds` of frames, else up to
    SEGMENTS segments of equal length (each at least MIN_SEGMENT_SECONDS and `min_len` frames) centred at
    evenly spaced points of the file, together `seconds` long."""
    budget = max(min_len, int(round(seconds * float(fps))))
    if n <= budget:
        return [range(0, n)]
    per = max(min_len, int(round(MIN_SEGMENT_SECONDS * float(fps))))
    k = max(1, min(SEGMENTS, budget // per))
    length = budget // k
    out = []
    for j in range(k):
        centre = (j + 0.5) * n / k
        start = int(min(max(0, round(centre - length / 2)), n - length))
        out.append(range(start, start + length))
    return out


@dataclass
class Scene:
    """Consecutive frames of one shot inside a checked segment."""

    name: str  # "scene 2 (12.3-14.1 s)"
    start: int  # source index of frames[0]
    frames: list[np.ndarray]
    whole: bool  # both ends are a cut or an end of the file (else the segment's edge cut it)
    fps: float

    @property
    def t0(self) -> float:
        return self.start / self.fps

    @property
    def t1(self) -> float:
        return (self.start + len(self.frames)) / self.fps


def iter_scenes(src: Source, segments: list[range], min_frames: int) -> Iterator[tuple[range, list[Scene], int]]:
    """Per segment: (its range, its scenes of at least `min_frames` frames, frames dropped in shorter shots).

    Raises VideoINRError when the video decodes fewer frames than its header promises at a segment (as
    `iter_video` does for truncated files)."""
    count = 0
    for seg in segments:
        frames = src.read(seg)
        if len(frames) < len(seg) and seg.stop < src.n - max(2, src.n // 100):
            raise VideoINRError(f"{src.path}: decoded {len(frames)} of the {len(seg)} frames from frame "
                                f"{seg.start} (truncated or corrupt video)")
        det = CutDetector()
        for f in frames:
            det.push(f)
        scenes, dropped = [], 0
        for shot in split_shots(len(frames), det.cuts):
            if len(shot) < min_frames:
                dropped += len(shot)
                continue
            start = seg.start + shot.start
            whole = (shot.start > 0 or seg.start == 0) and (shot.stop < len(frames) or seg.start + len(frames) >= src.n)
            count += 1
            fps = float(src.fps)
            sc = Scene("", start, frames[shot.start:shot.stop], bool(whole), fps)
            sc.name = f"scene {count} ({sc.t0:.1f}-{sc.t1:.1f} s)"
            scenes.append(sc)
        yield seg, scenes, dropped
