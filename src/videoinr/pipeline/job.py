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
from videoinr.fileio import OUTPUT_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS, parse_bytes  # noqa: F401 (re-exported)
from videoinr.runtime import pick_device

DEFAULT_INPUT_FPS = Fraction(30)
EXAMPLE_VIDEO = Path(__file__).resolve().parent.parent / "assets" / "example.mp4"
"""The bundled 2 s example clip (192x108, with audio); the CLI input name `example` refers to it."""
SEGMENT_FRAMES = 240  # output frames per video segment (the unit of --resume for video outputs)


# Bounds on what a user can ask for, checked before anything is allocated (CLI, API and web page alike).
MAX_OUTPUT_FRAMES = 5_000_000
"""Most output frames of one job (about 23 h at 60 fps; the plan keeps ~PLAN_BYTES_PER_FRAME per frame, and
at the fastest measured rate, 0.04 s per frame on a GPU, such a job runs for over two days)."""
PLAN_BYTES_PER_FRAME = 256  # Python objects per planned output frame (position, time, pair reference)
MAX_SIDE = 1 << 20
"""Widest or tallest output frame (pixels): float32 coordinates still resolve pixel centres up to 2^20."""

_INT = re.compile(r"[+-]?[0-9]{1,18}")  # at most 18 digits: int() of thousands of digits is refused by Python
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _shown(value) -> str:
    """`value` for an error message: its repr, cut to 40 characters (a pasted megabyte stays one short line)."""
    r = repr(value)
    return r if len(r) <= 40 else r[:30] + f"...({len(r)} chars)"


def total_ram() -> int:
    """Physical memory of this machine in bytes (8 GiB where it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def max_output_frames() -> int:
    """The frame-count bound of this machine: MAX_OUTPUT_FRAMES, or less where the plan would take over a
    quarter of the RAM."""
    return int(min(MAX_OUTPUT_FRAMES, total_ram() // (4 * PLAN_BYTES_PER_FRAME)))


def check_frame_count(count: int, what: str) -> None:
    """VideoINRError when a job would have more output frames than `max_output_frames()` (before any list
    of them is built)."""
    limit = max_output_frames()
    if count > limit:
        raise VideoINRError(f"{what}: {count:,} output frames, over the limit of {limit:,} per job "
                            "(lower --time-scale/--fps, or split the input)")


def _strict_float(value, option: str) -> float:
    """A number from the command line or the API: ASCII digits only in text (a fullwidth '２' is refused),
    never a bool."""
    if isinstance(value, bool):
        raise VideoINRError(f"{option} {_shown(value)}: not a number")
    if isinstance(value, (int, float, Fraction)):
        return float(value)
    text = str(value).strip()
    if not _FLOAT.fullmatch(text):
        raise VideoINRError(f"{option} {_shown(value)}: not a number (ASCII digits, e.g. 2 or 2.5)")
    return float(text)


def _strict_int(value, option: str) -> int:
    """A whole number: an int, an integral float, or text of ASCII digits."""
    if isinstance(value, bool):
        raise VideoINRError(f"{option} {_shown(value)}: not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise VideoINRError(f"{option} {_shown(value)}: not a whole number")
        return int(value)
    text = str(value).strip()
    if not _INT.fullmatch(text):
        raise VideoINRError(f"{option} {_shown(value)}: not a whole number (ASCII digits)")
    return int(text)


def _strict_fraction(value, option: str) -> Fraction:
    """A rate: a number or 'N/D' text (ASCII digits), e.g. 30000/1001."""
    if isinstance(value, bool):
        raise VideoINRError(f"{option} {_shown(value)}: not a number")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VideoINRError(f"{option} {_shown(value)}: must be a finite number")
        return Fraction(value).limit_denominator(1_000_000)
    text = str(value).strip()
    num, slash, den = text.partition("/")
    if slash:  # N/D: two whole numbers
        if not (_INT.fullmatch(num) and _INT.fullmatch(den)) or int(den) == 0:
            raise VideoINRError(f"{option} {_shown(value)}: not a number (ASCII digits, e.g. 60 or 30000/1001)")
        return Fraction(int(num), int(den)).limit_denominator(1_000_000)
    if not _FLOAT.fullmatch(num):
        raise VideoINRError(f"{option} {_shown(value)}: not a number (ASCII digits, e.g. 60 or 30000/1001)")
    f = float(num)  # never Fraction('1e999999999'), which would build a billion-digit integer
    if not math.isfinite(f):
        raise VideoINRError(f"{option} {_shown(value)}: must be a finite number")
    return Fraction(f).limit_denominator(1_000_000)


def _parse_size(text: str | Sequence[int]) -> tuple[int, int]:
    """'WxH' (one side may be -1) -> (W, H)."""
    if isinstance(text, str):
        m = re.fullmatch(r"\s*(-?[0-9]+)\s*[x:,]\s*(-?[0-9]+)\s*", text)
        if not m:
            raise VideoINRError(f"--size {_shown(text)}: expected WxH in ASCII digits, e.g. 1280x720 or 1280x-1")
        if max(len(m.group(1)), len(m.group(2))) > 18:
            raise VideoINRError(f"--size {_shown(text)}: a side is over {MAX_SIDE} pixels, the largest output frame")
        w, h = int(m.group(1)), int(m.group(2))
    else:
        vals = list(text)
        if len(vals) != 2:
            raise VideoINRError(f"--size {text!r}: expected (W, H)")
        w, h = (_strict_int(v, "--size") for v in vals)
    if (w == -1 and h == -1) or w == 0 or h == 0 or w < -1 or h < -1:
        raise VideoINRError(f"--size {w}x{h}: both sides must be positive (one may be -1 to keep the aspect)")
    if max(w, h) > MAX_SIDE:
        raise VideoINRError(f"--size {w}x{h}: a side is over {MAX_SIDE} pixels, the largest output frame")
    return w, h


def _parse_region(text: str | Sequence[int]) -> tuple[int, int, int, int]:
    vals = text.split(",") if isinstance(text, str) else list(text)
    if len(vals) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) or _INT.fullmatch(str(v).strip())
                                 for v in vals):
        raise VideoINRError(f"--region {_shown(text)}: expected X,Y,W,H in output pixels (ASCII digits)")
    x, y, w, h = (int(str(v).strip()) for v in vals)
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise VideoINRError(f"--region {x},{y},{w},{h}: X, Y must be >= 0 and W, H >= 1")
    return x, y, w, h


def _parse_times(text: str | Sequence[float]) -> list[float]:
    vals = text.split(",") if isinstance(text, str) else list(text)
    if isinstance(text, str) and not text.strip():
        raise VideoINRError("--times: no times given")
    if len(vals) > max_output_frames():
        check_frame_count(len(vals), "--times")
    times = []
    for i, v in enumerate(vals):
        if isinstance(v, str) and not v.strip():
            raise VideoINRError(f"--times {_shown(text)}: item {i + 1} is empty (a doubled or trailing comma?)")
        times.append(_strict_float(v, "--times"))
    if not times:
        raise VideoINRError("--times: no times given")
    if any(not math.isfinite(t) for t in times):
        raise VideoINRError(f"--times: times must be finite numbers, got {_shown(text)}")
    if any(b < a for a, b in zip(times, times[1:])):
        raise VideoINRError("--times: times must not decrease (output is written in order)")
    return times


def parse_memory(text: str | int | float | None) -> int | None:
    """'4G', '512M', '1.5GiB', 2e9 -> bytes (at least 64M; `videoinr.fileio.parse_bytes`); None or 'auto' ->
    None."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "auto"):
        return None
    return parse_bytes(text, "--max-memory", 64 * 2**20)


def _parse_duration(text: str | float | None) -> float | None:
    """'12h', '30m', '2d', 3600 -> seconds; None, 0 or 'none' -> no limit."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) if text > 0 else None
    if str(text).strip().lower() in ("none", "0", "inf"):
        return None
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([smhd]?)\s*", str(text).lower())
    if not m:
        raise VideoINRError(f"--max-time {_shown(text)}: expected a duration such as 12h, 90m or 2d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _parse_scale(scale) -> float:
    scale = _strict_float(scale, "--scale")
    if not math.isfinite(scale) or scale <= 0:
        raise VideoINRError(f"--scale {scale:g}: must be a positive number")
    return scale


def _parse_time_scale(time_scale) -> int:
    if isinstance(time_scale, float) and not time_scale.is_integer() or (
            isinstance(time_scale, str) and not _INT.fullmatch(time_scale.strip())):
        raise VideoINRError(f"--time-scale {_shown(time_scale)}: must be a whole number >= 1 in ASCII digits "
                            "(use --fps for other rates)")
    n = _strict_int(time_scale, "--time-scale")
    if n < 1:
        raise VideoINRError(f"--time-scale {time_scale}: must be a whole number >= 1 (use --fps for other rates)")
    check_frame_count(n, f"--time-scale {n}")  # frames per input interval alone
    return n


def _parse_fps(fps) -> Fraction:
    fps_q = _strict_fraction(fps, "--fps")
    if fps_q <= 0 or fps_q > 10_000:
        raise VideoINRError(f"--fps {fps}: must be in (0, 10000]")
    return fps_q


def _parse_input_fps(input_fps) -> Fraction:
    q = _strict_fraction(input_fps, "--input-fps")
    if q <= 0 or q > 10_000:
        raise VideoINRError(f"--input-fps {input_fps}: must be in (0, 10000]")
    return q


def _parse_crf(crf) -> float | None:
    if crf is None:
        return None
    value = _strict_float(crf, "--crf")
    if not 0 <= value <= 63:
        raise VideoINRError(f"--crf {crf}: must be in 0..63")
    return value


def _parse_dedup(value) -> float | None:
    """--dedup: None/False off; True (or the bare option) the default threshold; else a number in 0..255
    (8-bit luma levels of `videoinr.pipeline.scan.frame_difference`)."""
    from videoinr.pipeline.scan import DEFAULT_DEDUP

    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_DEDUP
    v = _strict_float(value, "--dedup")
    if not (math.isfinite(v) and 0 <= v <= 255):
        raise VideoINRError(f"--dedup {_shown(value)}: the threshold must be in 0..255 (8-bit luma levels; default "
                            f"{DEFAULT_DEDUP:g})")
    return v


def _parse_name(value, option: str) -> str | None:
    """An encoder or preset name: None (the default), else ASCII letters, digits and `_.+-`, 1..32 characters."""
    if value is None:
        return None
    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9_.+-]{1,32}", text):
        raise VideoINRError(f"{option} {_shown(value)}: not a name (ASCII letters, digits, '-', e.g. libx264, slow)")
    return text


def output_size(in_hw: tuple[int, int], scale: float | None, size: tuple[int, int] | None) -> tuple[int, int]:
    """Output (H, W): ceil(h * scale), ceil(w * scale) like MATLAB imresize, or exactly `size` = (W, H)
    with a -1 side following the input aspect (rounded). VideoINRError when a side would exceed MAX_SIDE."""
    h, w = in_hw
    if size is not None:
        sw, sh = size
        if sw == -1:
            sw = max(1, round(w * sh / h))
        if sh == -1:
            sh = max(1, round(h * sw / w))
        out = int(sh), int(sw)
        what = f"--size {size[0]}x{size[1]}"
    else:
        s = 1.0 if scale is None else float(scale)
        fh, fw = h * s, w * s
        if not (math.isfinite(fh) and math.isfinite(fw)) or max(fh, fw) > MAX_SIDE:
            raise VideoINRError(f"--scale {s:g}: the {w}x{h} input would become over {MAX_SIDE} pixels wide "
                                "or tall, the largest output frame")
        out = max(1, math.ceil(fh - 1e-9)), max(1, math.ceil(fw - 1e-9))
        what = f"--scale {s:g}"
    if max(out) > MAX_SIDE:
        raise VideoINRError(f"{what}: the output would be {out[1]}x{out[0]}, over {MAX_SIDE} pixels on a side "
                            "(the largest output frame)")
    return out


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
    codec: str | None = None  # None: follows the container (`videoinr.data.video.default_codec`)
    preset: str | None = None  # the encoder's own `preset` option, passed through
    crf: float | None = 18
    resume: bool = False
    force: bool = False
    max_memory: str | int | None = None  # -> bytes or None
    max_time: str | float | None = "7d"  # -> seconds or None
    scene_cuts: bool = True
    dedup: bool | float | str | None = None  # -> threshold (8-bit luma levels) or None (off)
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
        self.crf = _parse_crf(self.crf)
        self.dedup = _parse_dedup(self.dedup)
        self.codec = _parse_name(self.codec, "--codec")
        self.preset = _parse_name(self.preset, "--preset")
        self.device = pick_device(self.device)


def is_video_output(out: Path) -> bool:
    return out.suffix.lower() in VIDEO_EXTENSIONS


def shard(items: list, rank: int | None = None, world: int | None = None) -> list:
    """Items of this process under torchrun (RANK / WORLD_SIZE env vars): items[rank::world]."""
    rank = int(os.environ.get("RANK", 0)) if rank is None else rank
    world = int(os.environ.get("WORLD_SIZE", 1)) if world is None else world
    return items[rank::world] if world > 1 else items
