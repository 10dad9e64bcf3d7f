"""The options of one upscale job, validated once (`Job`) for `upscale()` and `estimate()`, and the parsers
of their command-line spellings ('1280x-1', '4G', '12h', ...)."""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch

from videoinr.errors import VideoINRError
from videoinr.fileio import OUTPUT_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS  # noqa: F401 (re-exported)
from videoinr.runtime import pick_device

DEFAULT_INPUT_FPS = Fraction(30)
EXAMPLE_VIDEO = Path(__file__).resolve().parent.parent / "assets" / "example.mp4"
"""The bundled 2 s example clip (192x108, with audio); the CLI input name `example` refers to it."""
SEGMENT_FRAMES = 240  # output frames per video segment (the unit of --resume for video outputs)


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


def _parse_scale(scale) -> float:
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise VideoINRError(f"--scale {scale!r}: not a number") from None
    if not math.isfinite(scale) or scale <= 0:
        raise VideoINRError(f"--scale {scale:g}: must be a positive number")
    return scale


def _parse_time_scale(time_scale) -> int:
    if isinstance(time_scale, float) and not time_scale.is_integer() or int(time_scale) < 1:
        raise VideoINRError(f"--time-scale {time_scale}: must be a whole number >= 1 (use --fps for other rates)")
    return int(time_scale)


def _parse_fps(fps) -> Fraction:
    try:
        fps_q = Fraction(str(fps)).limit_denominator(1_000_000)
    except (ValueError, ZeroDivisionError):
        raise VideoINRError(f"--fps {fps!r}: not a number") from None
    if fps_q <= 0 or fps_q > 10_000:
        raise VideoINRError(f"--fps {fps}: must be in (0, 10000]")
    return fps_q


def _parse_input_fps(input_fps) -> Fraction:
    try:
        input_fps = Fraction(str(input_fps)).limit_denominator(1_000_000)
    except (ValueError, ZeroDivisionError):
        raise VideoINRError(f"--input-fps {input_fps!r}: not a number") from None
    if input_fps <= 0:
        raise VideoINRError(f"--input-fps {input_fps}: must be positive")
    return input_fps


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


@dataclass
class Job:
    """What to make of each input, as the user gave it; construction validates and normalises every
    field in place (VideoINRError on the first bad one) and resolves `device` to a `torch.device`."""

    scale: float | None = None
    size: str | Sequence[int] | None = None  # -> (W, H)
    time_scale: int | None = None
    fps: float | Fraction | str | None = None  # -> Fraction
    times: str | Sequence[float] | None = None  # -> list[float]
    region: str | Sequence[int] | None = None  # -> (x, y, w, h)
    device: str | torch.device = "auto"  # -> torch.device
    codec: str = "libx264"
    crf: float | None = 18
    resume: bool = False
    force: bool = False
    max_memory: str | int | None = None  # -> bytes or None
    max_time: str | float | None = "7d"  # -> seconds or None
    scene_cuts: bool = True
    input_fps: float | Fraction | None = None  # -> Fraction
    progress: bool = True
    segment_frames: int = SEGMENT_FRAMES
    on_progress: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        if self.scale is not None and self.size is not None:
            raise VideoINRError("give either --scale or --size, not both")
        if self.scale is not None:
            self.scale = _parse_scale(self.scale)
        if self.size is not None:
            self.size = _parse_size(self.size)
        if sum(v is not None for v in (self.time_scale, self.fps, self.times)) > 1:
            raise VideoINRError("give at most one of --time-scale, --fps and --times")
        if self.time_scale is not None:
            self.time_scale = _parse_time_scale(self.time_scale)
        if self.fps is not None:
            self.fps = _parse_fps(self.fps)
        if self.times is not None:
            self.times = _parse_times(self.times)
        if self.region is not None:
            self.region = _parse_region(self.region)
        if self.input_fps is not None:
            self.input_fps = _parse_input_fps(self.input_fps)
        self.max_memory = parse_memory(self.max_memory)
        self.max_time = _parse_duration(self.max_time)
        if self.crf is not None and not (0 <= float(self.crf) <= 63):
            raise VideoINRError(f"--crf {self.crf}: must be in 0..63")
        self.device = pick_device(self.device)


def is_video_output(out: Path) -> bool:
    return out.suffix.lower() in VIDEO_EXTENSIONS


def shard(items: list, rank: int | None = None, world: int | None = None) -> list:
    """Items of this process under torchrun (RANK / WORLD_SIZE env vars): items[rank::world]."""
    rank = int(os.environ.get("RANK", 0)) if rank is None else rank
    world = int(os.environ.get("WORLD_SIZE", 1)) if world is None else world
    return items[rank::world] if world > 1 else items
