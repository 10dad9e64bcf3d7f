"""Choosing and checking video encoders through PyAV (FFmpeg): the default codec of a container (and of a
10/12-bit input), the pixel format (4:4:4 for odd sizes, 10/12-bit formats), --preset and encoder checks."""
from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

import av

from videoinr.data.video_read import _short, pix_fmt_bits
from videoinr.errors import VideoINRError

__all__ = ["check_encoder", "check_preset", "choose_pix_fmt", "deep_pix_fmt", "default_codec"]

_CRF_CODECS = ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1", "librav1e")
_WEBM_CODECS = ("libvpx-vp9", "libsvtav1", "libaom-av1", "librav1e")  # VP9 first, then the AV1 encoders
_OTHER_CODECS = ("libx264", "libx265")  # H.264 first (plays everywhere); HEVC where only it keeps the depth
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                 "placebo")


def _has_encoder(codec: str) -> bool:
    try:
        return av.codec.Codec(codec, "w").type == "video"
    except Exception:
        return False


def deep_pix_fmt(codec: str, bits: int) -> str | None:
    """The 4:2:0 pixel format of `codec` closest to `bits` per component above 8 (yuv420p10le for 10-bit,
    yuv420p12le for 12-bit and deeper, else 10-bit where the encoder stops there); None when it has none."""
    if bits <= 8:
        return None
    try:
        formats = {f.name for f in (av.codec.Codec(codec, "w").video_formats or [])}
    except Exception:
        return None
    for depth in ((12, 10) if bits > 10 else (10,)):
        if f"yuv420p{depth}le" in formats:
            return f"yuv420p{depth}le"
    return None


def default_codec(path: str | os.PathLike, bits: int = 8) -> str:
    """The encoder for a video output when none is asked for: the container decides (by extension).

    .webm holds only VP8/VP9/AV1: libvpx-vp9 when this FFmpeg has it, else the first AV1 encoder it has
    (libsvtav1, libaom-av1, librav1e); every other container gets libx264 (H.264). For a `bits`-deep input
    (10, 12) the first of those that keeps the most of its depth (libx264 High 10 for 10-bit, libx265 for
    12-bit; in .webm an AV1 encoder where this FFmpeg's VP9 is 8-bit only).
    """
    webm = Path(path).suffix.lower() == ".webm"
    have = [c for c in (_WEBM_CODECS if webm else _OTHER_CODECS) if _has_encoder(c)]
    if not have:
        raise VideoINRError(f"{path}: this FFmpeg build has no {'VP9 or AV1' if webm else 'H.264 or HEVC'} encoder "
                            f"for {Path(path).suffix} (choose a --codec it has)")
    if bits > 8:
        depth = {c: pix_fmt_bits(deep_pix_fmt(c, bits) or "yuv420p") for c in have}
        return max(have, key=lambda c: (min(depth[c], bits), -have.index(c)))
    return have[0]


def _quiet_encoder(codec: str, opts: dict) -> None:
    """Keep encoder libraries that print banners/statistics to stderr quiet (errors still reach FFmpeg)."""
    if codec == "libx265":
        opts.setdefault("x265-params", "log-level=error")
    elif codec == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 reads its log level from the environment


class _SilentStderr:
    """Redirect file descriptor 2 to /dev/null for a block (libraries such as x264 print there directly)."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)


def check_preset(codec: str, preset: str | None) -> None:
    """Raise VideoINRError unless `codec` accepts the encoder option `preset` (--preset passes through as the
    encoder's own `preset` option: x264/x265 names such as `slow`, SVT-AV1 numbers 0..13). Checked by opening
    the encoder once on a tiny frame, before anything is decoded or written."""
    if preset is None:
        return
    if codec in ("libx264", "libx265") and preset not in _X26X_PRESETS:
        raise VideoINRError(f"--preset {preset!r}: not a preset of {codec} ({', '.join(_X26X_PRESETS)})")
    cc = av.CodecContext.create(codec, "w")
    formats = [f.name for f in (av.codec.Codec(codec, "w").video_formats or [])]
    cc.width, cc.height, cc.time_base = 64, 64, Fraction(1, 25)
    cc.pix_fmt = "yuv420p" if not formats or "yuv420p" in formats else formats[0]
    opts = {"preset": preset}
    _quiet_encoder(codec, opts)
    cc.options = opts
    try:
        with _SilentStderr():
            cc.open()
    except (av.FFmpegError, ValueError) as e:
        raise VideoINRError(f"--preset {preset!r}: {codec} does not accept it ({_short(e)})") from None
    if "preset" in (cc.options or {}):  # left unused: the encoder has no such option
        raise VideoINRError(f"--preset {preset!r}: {codec} has no presets (leave --preset out, or choose "
                            "another --codec)")


def check_encoder(codec: str) -> None:
    """Raise VideoINRError unless `codec` names a video encoder of this FFmpeg build."""
    try:
        c = av.codec.Codec(codec, "w")
    except Exception:
        raise VideoINRError(f"codec {codec!r}: no such encoder in this FFmpeg build") from None
    if c.type != "video":
        raise VideoINRError(f"codec {codec!r}: not a video encoder")


def choose_pix_fmt(codec: str, width: int, height: int, pix_fmt: str | None = None, label: object = "") -> str:
    """Pixel format for encoding: `pix_fmt` or yuv420p; yuv444p for odd sizes (which 4:2:0 cannot store)."""
    fmt = pix_fmt or "yuv420p"
    formats = {f.name for f in (av.codec.Codec(codec, "w").video_formats or [])}
    full = {"yuv420p": "yuv444p", "nv12": "yuv444p", "yuv422p": "yuv444p", "yuv420p10le": "yuv444p10le",
            "yuv422p10le": "yuv444p10le", "yuv420p12le": "yuv444p12le", "yuv422p12le": "yuv444p12le"}
    if (width % 2 or height % 2) and fmt in full:
        if formats and full[fmt] not in formats:
            raise VideoINRError(
                f"{label}: size {width}x{height} is odd, which {fmt} cannot store and {codec} has no "
                f"{full[fmt]}; ask for an even size or another codec"
            )
        fmt = full[fmt]
    if formats and fmt not in formats:
        raise VideoINRError(f"codec {codec!r}: does not support pixel format {fmt}")
    return fmt
