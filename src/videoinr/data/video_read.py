"""Reading video files through PyAV (FFmpeg): probing, streaming decode with real timestamps, truncation checks.

Frames come out as uint8 numpy arrays of shape (H, W, 3), RGB order (or, with `deep=True`, uint16 on the
full 0..65535 scale, for video of more than 8 bits per component), in the video's stored (coded)
orientation; rotation is reported by `probe`, never applied to pixels. Timestamps are presentation times in
seconds on the input's own timeline, so variable-frame-rate sources keep their real timing. A file cut short
(fewer frames or an earlier end than its container promises) raises VideoINRError rather than yielding a
silently shorter video.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from videoinr.errors import VideoINRError, require_path

__all__ = ["VideoInfo", "TimedFrame", "probe", "iter_video", "read_video", "pix_fmt_bits"]

_FULL_RANGE = 2  # AVCOL_RANGE_JPEG
_TEXT_FORMATS = frozenset({"tty"})  # FFmpeg demuxers that "decode" any text file as pictures of its characters


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` finds in a video file (first video stream).

    fps: average frame rate as an exact Fraction (frames per second).
    duration: seconds (container duration, else stream duration, else frames / fps).
    frames: frame count from the container index, else an estimate round(duration * fps)
        (`frames_exact` says which).
    width, height: stored (coded) size in pixels. rotation: display rotation in degrees counter-clockwise
    (0, 90, 180, -90) from the display matrix. color_range: 1 limited (MPEG), 2 full (JPEG), 0 unknown.
    """

    path: Path
    fps: Fraction
    duration: float
    frames: int
    frames_exact: bool
    width: int
    height: int
    time_base: Fraction
    start_time: float
    codec: str
    pix_fmt: str
    has_audio: bool
    has_subtitles: bool
    rotation: int
    color_range: int
    colorspace: int
    color_primaries: int
    color_trc: int

    @property
    def bits(self) -> int:
        """Bits per colour component of the stored pixels (8 for yuv420p, 10 for yuv420p10le, ...)."""
        return pix_fmt_bits(self.pix_fmt)


def pix_fmt_bits(pix_fmt: str) -> int:
    """Most bits of any component of FFmpeg pixel format `pix_fmt` (8 where the name is unknown)."""
    try:
        fmt = av.video.format.VideoFormat(pix_fmt)
    except (ValueError, TypeError):
        return 8
    return max((c.bits for c in fmt.components), default=8)


@dataclass(frozen=True)
class TimedFrame:
    """One decoded frame: `image` uint8 (H, W, 3) RGB, `time` presentation time in seconds, `index` 0-based,
    `duration` seconds it is shown as the container stores it (None when the container does not say)."""

    image: np.ndarray
    time: float
    index: int
    duration: float | None = None


def _open_input(path: str | os.PathLike) -> av.container.InputContainer:
    p = Path(path)
    require_path(p, "file")
    if p.is_dir():
        raise VideoINRError(f"{p}: is a folder, not a video file")
    if p.stat().st_size == 0:
        raise VideoINRError(f"{p}: empty file")
    try:
        container = av.open(str(p), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise VideoINRError(f"{p}: not a readable video ({_short(e)})") from None
    if not container.streams.video:
        container.close()
        raise VideoINRError(f"{p}: contains no video stream")
    if (container.format.name or "") in _TEXT_FORMATS:
        container.close()
        raise VideoINRError(f"{p}: not a video (a text file, which FFmpeg would render as text)")
    return container


def _short(e: BaseException) -> str:
    """One-line reason from an FFmpeg/PyAV exception, without errno or the repeated file name."""
    if isinstance(e, av.FFmpegError) and getattr(e, "strerror", None):
        return str(e.strerror).strip()
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg.split(": '")[0] if ": '" in msg else msg


def _rotation_of(stream: av.video.stream.VideoStream, first_frame: av.VideoFrame | None) -> int:
    if first_frame is not None:
        try:
            return int(round(first_frame.rotation))
        except (AttributeError, TypeError, ValueError):
            pass
    return 0


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe the first video stream of `path` (decodes at most one frame, for rotation and colour)."""
    p = Path(path)
    with _open_input(p) as container:
        vs = container.streams.video[0]
        cc = vs.codec_context
        fps = vs.average_rate or vs.guessed_rate or vs.base_rate
        if not fps or fps <= 0:
            raise VideoINRError(f"{p}: video stream has no frame rate")
        fps = Fraction(fps)
        tb = Fraction(vs.time_base) if vs.time_base else Fraction(1, 1_000_000)
        if container.duration:
            duration = container.duration / 1_000_000
        elif vs.duration:
            duration = float(vs.duration * tb)
        else:
            duration = 0.0
        frames_exact = bool(vs.frames and vs.frames > 0)
        frames = int(vs.frames) if frames_exact else int(round(duration * fps))
        start = float(vs.start_time * tb) if vs.start_time is not None else 0.0
        first = None
        try:
            for first in container.decode(vs):
                break
        except av.FFmpegError as e:
            raise VideoINRError(f"{p}: truncated or corrupt video ({_short(e)})") from None
        if first is None:
            raise VideoINRError(f"{p}: video stream has no decodable frames")
        if frames_exact:
            _check_tail(p, container, vs, frames, fps)
        return VideoInfo(
            path=p,
            fps=fps,
            duration=duration,
            frames=frames,
            frames_exact=frames_exact,
            width=int(cc.width),
            height=int(cc.height),
            time_base=tb,
            start_time=start,
            codec=cc.name,
            pix_fmt=str(cc.pix_fmt or first.format.name),
            has_audio=bool(container.streams.audio),
            has_subtitles=bool(container.streams.subtitles),
            rotation=_rotation_of(vs, first),
            color_range=int(first.color_range),
            colorspace=int(first.colorspace),
            color_primaries=int(first.color_primaries),
            color_trc=int(first.color_trc),
        )


def _check_tail(p: Path, container, vs, frames: int, fps: Fraction) -> None:
    """Containers with an index (mp4/mov) promise a frame count: seek to the last keyframe and demux (no
    decoding) to the end; a file cut short has its last packets missing. Raises VideoINRError if so."""
    if not vs.duration or vs.duration <= 0:
        return
    start = vs.start_time or 0
    end_pts = start + vs.duration
    tol = max(2, frames // 100) / float(fps)  # same slack as iter_video
    tb = float(vs.time_base)
    last_end = None
    try:
        container.seek(max(start, end_pts - 1), stream=vs, backward=True, any_frame=False)
        for pkt in container.demux(vs):
            if pkt.size and pkt.pts is not None:
                e = pkt.pts + (pkt.duration or 0)
                last_end = e if last_end is None else max(last_end, e)
    except av.FFmpegError as e:
        raise VideoINRError(f"{p}: truncated or corrupt video ({_short(e)})") from None
    if last_end is None or (end_pts - last_end) * tb > tol:
        got = 0.0 if last_end is None else (last_end - start) * tb
        raise VideoINRError(
            f"{p}: truncated video (its index promises {frames} frames, {vs.duration * tb:.2f} s; "
            f"the file ends at {got:.2f} s)")


def _to_rgb(frame: av.VideoFrame, deep: bool = False) -> np.ndarray:
    """Decoded frame -> uint8 (H, W, 3) RGB (uint16 rgb48 with `deep`), honouring the frame's colour matrix
    and range."""
    src_range = 2 if int(frame.color_range) == _FULL_RANGE else None
    if frame.format.name in ("yuvj420p", "yuvj422p", "yuvj444p"):
        src_range = 2
    if deep:
        return frame.to_ndarray(format="rgb48le", src_color_range=src_range)
    return frame.to_ndarray(format="rgb24", src_color_range=src_range)


def iter_video(path: str | os.PathLike, deep: bool = False) -> Iterator[TimedFrame]:
    """Decode `path` frame by frame (streaming, flat memory), yielding `TimedFrame`s in presentation order.

    `deep`: images are uint16 (H, W, 3) RGB on the 0..65535 scale (for video of more than 8 bits per
    component, which the uint8 default rounds to 8 bits).

    Times come from the frames' own timestamps (variable frame rate kept); a frame without one gets the
    previous time + 1/fps. Raises VideoINRError if the file is unreadable, undecodable, or ends before the
    frame count its container index promises (truncated file).
    """
    p = Path(path)
    container = _open_input(p)
    try:
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        fps = Fraction(vs.average_rate or vs.guessed_rate or vs.base_rate or 25)
        expected = int(vs.frames or 0)
        expected_end = _promised_end(container, vs)
        index = 0
        last_time: float | None = None
        last_end: float | None = None
        try:
            for frame in container.decode(vs):
                t = frame.time
                if t is None:
                    t = 0.0 if last_time is None else last_time + 1.0 / float(fps)
                if last_time is not None and t <= last_time:
                    # Broken/duplicate timestamps: keep order, nudge forward.
                    t = last_time + 1e-6
                dur = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0
                if frame.time is not None:
                    last_end = float(frame.time) + (dur if dur > 0 else 1.0 / float(fps))
                yield TimedFrame(_to_rgb(frame, deep), float(t), index, dur if dur > 0 else None)
                last_time = float(t)
                index += 1
        except av.FFmpegError as e:
            raise VideoINRError(f"{p}: truncated or corrupt video at frame {index} ({_short(e)})") from None
        if index == 0:
            raise VideoINRError(f"{p}: video stream has no decodable frames")
        # Containers with an index (mp4/mov) promise a frame count; decoding far fewer means truncation.
        if expected and index < expected - max(2, expected // 100):
            raise VideoINRError(f"{p}: truncated video (decoded {index} of {expected} frames)")
        # Matroska/WebM store no frame count but a duration in the header; a file cut short ends early.
        if not expected and expected_end is not None and last_end is not None:
            slack = max(2.0 / float(fps), 0.01 * expected_end)
            if last_end < expected_end - slack:
                raise VideoINRError(
                    f"{p}: truncated video (frames end at {last_end:.2f} s of the {expected_end:.2f} s its header promises)"
                )
    finally:
        container.close()


def _promised_end(container: av.container.InputContainer, vs: av.video.stream.VideoStream) -> float | None:
    """End time (s) of the video stream that a Matroska/WebM header promises, or None when unknown.

    The muxer's per-track DURATION tag is used when present; otherwise the segment duration, but only when
    the video is the file's only stream (an audio track may outlast the video). Other formats: None (mp4/mov
    carry a frame count instead, and estimated durations of index-less formats are not trustworthy).
    """
    if "matroska" not in (container.format.name or ""):
        return None
    tag = next((v for k, v in (vs.metadata or {}).items() if k.upper() == "DURATION"), None)
    if tag:
        try:
            h, m, sec = str(tag).strip().split(":")
            end = int(h) * 3600 + int(m) * 60 + float(sec)
            return end if end > 0 else None
        except ValueError:
            return None
    if len(container.streams) == 1 and container.duration:
        start = container.start_time / 1_000_000 if container.start_time else 0.0
        return start + container.duration / 1_000_000
    return None


def read_video(path: str | os.PathLike) -> list[np.ndarray]:
    """All frames of `path` as uint8 (H, W, 3) RGB arrays (loads the whole video: use `iter_video` to stream)."""
    return [f.image for f in iter_video(path)]
