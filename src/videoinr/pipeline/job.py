"""The options of one upscale job: `UpscaleOptions`, built and validated once (`upscale_options`) for
`upscale()`, `estimate()`, the CLI and the web page, and the parsers of their spellings ('1280x-1', '4G',
'12h', ...)."""
from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path

import torch

from videoinr.errors import VideoINRError
from videoinr.fileio import OUTPUT_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS, parse_bytes  # noqa: F401 (re-exported)
from videoinr.runtime import pick_device
from videoinr.validate import from_mapping, require, shown

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
        raise VideoINRError(f"{option} {shown(value)}: not a number")
    if isinstance(value, (int, float, Fraction)):
        return float(value)
    text = str(value).strip()
    if not _FLOAT.fullmatch(text):
        raise VideoINRError(f"{option} {shown(value)}: not a number (ASCII digits, e.g. 2 or 2.5)")
    return float(text)


def _strict_int(value, option: str) -> int:
    """A whole number: an int, an integral float, or text of ASCII digits."""
    if isinstance(value, bool):
        raise VideoINRError(f"{option} {shown(value)}: not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise VideoINRError(f"{option} {shown(value)}: not a whole number")
        return int(value)
    text = str(value).strip()
    if not _INT.fullmatch(text):
        raise VideoINRError(f"{option} {shown(value)}: not a whole number (ASCII digits)")
    return int(text)


def _strict_fraction(value, option: str) -> Fraction:
    """A rate: a number or 'N/D' text (ASCII digits), e.g. 30000/1001."""
    if isinstance(value, bool):
        raise VideoINRError(f"{option} {shown(value)}: not a number")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VideoINRError(f"{option} {shown(value)}: must be a finite number")
        return Fraction(value).limit_denominator(1_000_000)
    text = str(value).strip()
    num, slash, den = text.partition("/")
    if slash:  # N/D: two whole numbers
        if not (_INT.fullmatch(num) and _INT.fullmatch(den)) or int(den) == 0:
            raise VideoINRError(f"{option} {shown(value)}: not a number (ASCII digits, e.g. 60 or 30000/1001)")
        return Fraction(int(num), int(den)).limit_denominator(1_000_000)
    if not _FLOAT.fullmatch(num):
        raise VideoINRError(f"{option} {shown(value)}: not a number (ASCII digits, e.g. 60 or 30000/1001)")
    f = float(num)  # never Fraction('1e999999999'), which would build a billion-digit integer
    if not math.isfinite(f):
        raise VideoINRError(f"{option} {shown(value)}: must be a finite number")
    return Fraction(f).limit_denominator(1_000_000)


def _parse_size(text: str | Sequence[int], path: str = "--size") -> tuple[int, int]:
    """'WxH' (one side may be -1) -> (W, H)."""
    if isinstance(text, str):
        m = re.fullmatch(r"\s*(-?[0-9]+)\s*[x:,]\s*(-?[0-9]+)\s*", text)
        if not m:
            raise VideoINRError(f"{path} {shown(text)}: expected WxH in ASCII digits, e.g. 1280x720 or 1280x-1")
        if max(len(m.group(1)), len(m.group(2))) > 18:
            raise VideoINRError(f"{path} {shown(text)}: a side is over {MAX_SIDE} pixels, the largest output frame")
        w, h = int(m.group(1)), int(m.group(2))
    else:
        vals = _items(text, path, "expected WxH text or (W, H)")
        if len(vals) != 2:
            raise VideoINRError(f"{path} {shown(text)}: expected (W, H)")
        w, h = (_strict_int(v, path) for v in vals)
    if (w == -1 and h == -1) or w == 0 or h == 0 or w < -1 or h < -1:
        raise VideoINRError(f"{path} {w}x{h}: both sides must be positive (one may be -1 to keep the aspect)")
    if max(w, h) > MAX_SIDE:
        raise VideoINRError(f"{path} {w}x{h}: a side is over {MAX_SIDE} pixels, the largest output frame")
    return w, h


def _items(value: object, path: str, allowed: str) -> list:
    """The items of a list or tuple option value (a set, a number or a mapping is refused)."""
    require(isinstance(value, (list, tuple)), path, value, allowed)
    return list(value)


def _parse_region(text: str | Sequence[int], path: str = "--region") -> tuple[int, int, int, int]:
    allowed = "expected X,Y,W,H in output pixels (ASCII digits)"
    vals = text.split(",") if isinstance(text, str) else _items(text, path, allowed)
    if len(vals) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) or _INT.fullmatch(str(v).strip())
                                 for v in vals):
        raise VideoINRError(f"{path} {shown(text)}: {allowed}")
    x, y, w, h = (int(str(v).strip()) for v in vals)
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise VideoINRError(f"{path} {x},{y},{w},{h}: X, Y must be >= 0 and W, H >= 1")
    return x, y, w, h


def _parse_times(text: str | Sequence[float], path: str = "--times") -> list[float]:
    vals = text.split(",") if isinstance(text, str) else _items(text, path, "expected times such as 0,0.5,1")
    if isinstance(text, str) and not text.strip():
        raise VideoINRError(f"{path}: no times given")
    if len(vals) > max_output_frames():
        check_frame_count(len(vals), path)
    times = []
    for i, v in enumerate(vals):
        if isinstance(v, str) and not v.strip():
            raise VideoINRError(f"{path} {shown(text)}: item {i + 1} is empty (a doubled or trailing comma?)")
        times.append(_strict_float(v, path))
    if not times:
        raise VideoINRError(f"{path}: no times given")
    if any(not math.isfinite(t) for t in times):
        raise VideoINRError(f"{path}: times must be finite numbers, got {shown(text)}")
    if any(b < a for a, b in zip(times, times[1:])):
        raise VideoINRError(f"{path}: times must not decrease (output is written in order)")
    return times


def _parse_memory(text: str | int | float, path: str = "--max-memory") -> int | None:
    """'4G', '512M', '1.5GiB', 2e9 -> bytes (at least 64M; `videoinr.fileio.parse_bytes`); 'auto' -> None
    (the device's default)."""
    if isinstance(text, str) and text.strip().lower() == "auto":
        return None
    return parse_bytes(text, path, 64 * 2**20)


def _parse_duration(text: str | float, path: str = "--max-time") -> float | None:
    """'12h', '30m', '2d', 3600 -> seconds; 0, 'none' or 'inf' -> no limit (None)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text) if text > 0 else None
    if str(text).strip().lower() in ("none", "0", "inf"):
        return None
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([smhd]?)\s*", str(text).lower())
    if not m:
        raise VideoINRError(f"{path} {shown(text)}: expected a duration such as 12h, 90m or 2d")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def _parse_scale(scale: object, path: str = "--scale") -> float:
    scale = _strict_float(scale, path)
    if not math.isfinite(scale) or scale <= 0:
        raise VideoINRError(f"{path} {scale:g}: must be a positive number")
    return scale


def _parse_time_scale(time_scale: object, path: str = "--time-scale") -> int:
    if isinstance(time_scale, float) and not time_scale.is_integer() or (
            isinstance(time_scale, str) and not _INT.fullmatch(time_scale.strip())):
        raise VideoINRError(f"{path} {shown(time_scale)}: must be a whole number >= 1 in ASCII digits "
                            "(use --fps for other rates)")
    n = _strict_int(time_scale, path)
    if n < 1:
        raise VideoINRError(f"{path} {time_scale}: must be a whole number >= 1 (use --fps for other rates)")
    check_frame_count(n, f"{path} {n}")  # frames per input interval alone
    return n


def _parse_fps(fps: object, path: str = "--fps") -> Fraction:
    fps_q = _strict_fraction(fps, path)
    if fps_q <= 0 or fps_q > 10_000:
        raise VideoINRError(f"{path} {fps}: must be in (0, 10000]")
    return fps_q


def _parse_input_fps(input_fps: object, path: str = "--input-fps") -> Fraction:
    q = _strict_fraction(input_fps, path)
    if q <= 0 or q > 10_000:
        raise VideoINRError(f"{path} {input_fps}: must be in (0, 10000]")
    return q


def _parse_crf(crf: object, path: str = "--crf") -> float:
    value = _strict_float(crf, path)
    if not 0 <= value <= 63:
        raise VideoINRError(f"{path} {crf}: must be in 0..63")
    return value


def _parse_dedup(value: object, path: str = "--dedup") -> float | None:
    """--dedup: None/False off; True (or the bare option) the default threshold; else a number in 0..255
    (8-bit luma levels of `videoinr.pipeline.scan.frame_difference`)."""
    from videoinr.pipeline.scan import DEFAULT_DEDUP

    if value is False:
        return None
    if value is True:
        return DEFAULT_DEDUP
    v = _strict_float(value, path)
    if not (math.isfinite(v) and 0 <= v <= 255):
        raise VideoINRError(f"{path} {shown(value)}: the threshold must be in 0..255 (8-bit luma levels; default "
                            f"{DEFAULT_DEDUP:g})")
    return v


def _parse_name(value: object, option: str) -> str:
    """An encoder or preset name: ASCII letters, digits and `_.+-`, 1..32 characters."""
    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9_.+-]{1,32}", text):
        raise VideoINRError(f"{option} {shown(value)}: not a name (ASCII letters, digits, '-', e.g. libx264, slow)")
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


def _parse_name_opt(option: str) -> Callable[[object, str], str]:
    return lambda value, path: _parse_name(value, option)


def _parse_switch(value: object, path: str) -> bool:
    require(isinstance(value, bool), path, value, "must be true or false")
    return value


def _parse_callback(value: object, path: str) -> Callable[[int, int], None]:
    require(callable(value), path, value, "must be a function (frames_done, frames_total)")
    return value


def _parse_segment_frames(value: object, path: str) -> int:
    n = _strict_int(value, path)
    require(1 <= n <= MAX_OUTPUT_FRAMES, path, value, f"must be a whole number in 1..{MAX_OUTPUT_FRAMES}")
    return n


_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]")


def _parse_ray(value: object, path: str = "--ray") -> str:
    """--ray: 'auto' (the Ray cluster this machine is part of, or a local one) or a Ray address HOST:PORT
    (a host name, IPv4 address or [IPv6] address, port 1..65535)."""
    allowed = "expected auto or HOST:PORT with a port in 1..65535, e.g. 10.0.0.5:6379"
    require(isinstance(value, str), path, value, allowed)
    text = value.strip()
    if text == "auto":
        return text
    host, sep, port = text.rpartition(":")
    require(bool(sep) and bool(_HOST.fullmatch(host)) and re.fullmatch(r"[0-9]{1,5}", port) is not None
            and 1 <= int(port) <= 65535, path, value, allowed)
    return text


def _option(check: Callable[[object, str], object], default: object = None) -> object:
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True)
class UpscaleOptions:
    """What to make of each input, validated and normalised: build it with `upscale_options` (the one
    place that checks and converts the user's spellings); everything downstream reads it as is."""

    scale: float | None = _option(_parse_scale)
    size: tuple[int, int] | None = _option(_parse_size)  # (W, H), one side may be -1
    time_scale: int | None = _option(_parse_time_scale)
    fps: Fraction | None = _option(_parse_fps)
    times: tuple[float, ...] | None = _option(lambda v, p: tuple(_parse_times(v, p)))
    region: tuple[int, int, int, int] | None = _option(_parse_region)  # (x, y, w, h) in output pixels
    device: torch.device = field(default_factory=lambda: pick_device("auto"),
                                 metadata={"check": lambda v, p: pick_device(v, what=p)})
    codec: str | None = _option(_parse_name_opt("--codec"))  # None: follows the container (`default_codec`)
    preset: str | None = _option(_parse_name_opt("--preset"))  # the encoder's own `preset` option
    crf: float | None = _option(_parse_crf, 18.0)
    resume: bool = _option(_parse_switch, False)
    force: bool = _option(_parse_switch, False)
    max_memory: int | None = _option(_parse_memory)  # bytes; None: the device's default
    max_time: float | None = _option(_parse_duration, 7 * 86400.0)  # seconds; None: no limit
    scene_cuts: bool = _option(_parse_switch, True)
    dedup: float | None = _option(_parse_dedup)  # threshold (8-bit luma levels); None: off
    input_fps: Fraction | None = _option(_parse_input_fps)  # a frame folder's rate (None: DEFAULT_INPUT_FPS)
    progress: bool = _option(_parse_switch, True)
    segment_frames: int = _option(_parse_segment_frames, SEGMENT_FRAMES)
    on_progress: Callable[[int, int], None] | None = _option(_parse_callback)
    ray: str | None = _option(_parse_ray)  # None: run here; 'auto' or a Ray address HOST:PORT


_API_ONLY = ("scene_cuts", "progress", "segment_frames", "on_progress")  # no --option of that name


def _option_path(key: str) -> str:
    return key if key in _API_ONLY else "--" + key.replace("_", "-")


def _check_combination(values: dict) -> None:
    if values.get("scale") is not None and values.get("size") is not None:
        raise VideoINRError("give either --scale or --size, not both")
    if sum(values.get(k) is not None for k in ("time_scale", "fps", "times")) > 1:
        raise VideoINRError("give at most one of --time-scale, --fps and --times")


def upscale_options(options: UpscaleOptions | Mapping[str, object] | None = None, /,
                    **changes: object) -> UpscaleOptions:
    """The one way to build `UpscaleOptions`: from a mapping of option names to values as a user spells
    them ('1280x-1', '4G', '12h', '30000/1001', ...; None: the default), or an `UpscaleOptions`, updated
    by `changes`. Every value is checked and converted (`videoinr.validate.from_mapping`): VideoINRError
    naming the option (`--scale` ...), the bad value and what is allowed."""
    if isinstance(options, UpscaleOptions):
        if not changes:
            return options
        options = {f.name: getattr(options, f.name) for f in fields(UpscaleOptions)}
    data = {**(options or {}), **changes}
    return from_mapping(UpscaleOptions, data, what="upscale option", path=_option_path, whole=_check_combination)


def is_video_output(out: Path) -> bool:
    return out.suffix.lower() in VIDEO_EXTENSIONS
