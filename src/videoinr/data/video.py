"""Video file I/O through PyAV (FFmpeg): streaming decode with real timestamps, probing, and encoding.

Frames cross this boundary as uint8 numpy arrays of shape (H, W, 3), RGB order, in the video's stored
(coded) orientation; rotation is reported by `probe` and carried to outputs as metadata, never applied to
pixels. Timestamps are presentation times in seconds on the input's own timeline, so variable-frame-rate
sources keep their real timing.
"""
from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from videoinr.errors import VideoINRError

__all__ = ["VideoInfo", "TimedFrame", "probe", "iter_video", "read_video", "VideoWriter", "temp_path_for"]

_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


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


@dataclass(frozen=True)
class TimedFrame:
    """One decoded frame: `image` uint8 (H, W, 3) RGB, `time` presentation time in seconds, `index` 0-based."""

    image: np.ndarray
    time: float
    index: int


def _open_input(path: str | os.PathLike) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise VideoINRError(f"{p}: no such file")
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
            raise VideoINRError(f"{p}: cannot decode video ({_short(e)})") from None
        if first is None:
            raise VideoINRError(f"{p}: video stream has no decodable frames")
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


def _to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """Decoded frame -> uint8 (H, W, 3) RGB, honouring the frame's colour matrix and range."""
    src_range = 2 if int(frame.color_range) == _FULL_RANGE else None
    if frame.format.name in ("yuvj420p", "yuvj422p", "yuvj444p"):
        src_range = 2
    return frame.to_ndarray(format="rgb24", src_color_range=src_range)


def iter_video(path: str | os.PathLike) -> Iterator[TimedFrame]:
    """Decode `path` frame by frame (streaming, flat memory), yielding `TimedFrame`s in presentation order.

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
        index = 0
        last_time: float | None = None
        try:
            for frame in container.decode(vs):
                t = frame.time
                if t is None:
                    t = 0.0 if last_time is None else last_time + 1.0 / float(fps)
                if last_time is not None and t <= last_time:
                    # Broken/duplicate timestamps: keep order, nudge forward.
                    t = last_time + 1e-6
                yield TimedFrame(_to_rgb(frame), float(t), index)
                last_time = float(t)
                index += 1
        except av.FFmpegError as e:
            raise VideoINRError(f"{p}: cannot decode frame {index} ({_short(e)})") from None
        if index == 0:
            raise VideoINRError(f"{p}: video stream has no decodable frames")
        # Containers with an index (mp4/mov) promise a frame count; decoding far fewer means truncation.
        if expected and index < expected - max(2, expected // 100):
            raise VideoINRError(f"{p}: truncated video (decoded {index} of {expected} frames)")
    finally:
        container.close()


def read_video(path: str | os.PathLike) -> list[np.ndarray]:
    """All frames of `path` as uint8 (H, W, 3) RGB arrays (loads the whole video: use `iter_video` to stream)."""
    return [f.image for f in iter_video(path)]


def temp_path_for(path: str | os.PathLike) -> Path:
    """A hidden temporary name beside `path` (same folder, same extension) for write-then-rename."""
    p = Path(path)
    return p.with_name(f".{p.stem}.part-{uuid.uuid4().hex[:8]}{p.suffix}")


class VideoWriter:
    """Encode uint8 (H, W, 3) RGB frames to a video file, written to a temp name and renamed at `close`.

    path: output file; the container follows the extension (.mp4, .mkv, .mov, ...).
    fps: nominal frame rate (Fraction). Frames written without a time get time = index / fps.
    codec: FFmpeg encoder name (default libx264); crf: constant rate factor for x264/x265/vpx/av1 encoders.
    pix_fmt: default yuv420p. yuv420p cannot hold odd widths/heights, and the output size is always exactly
        what was asked, so for an odd size the writer switches to yuv444p (same quality, less widely
        supported by players) when the codec allows it, else raises VideoINRError.
    source: input video whose audio and subtitle streams are stream-copied (no re-encode) and whose
        container metadata, rotation and colour range/matrix are carried over.
    time_base: output video time base (default: 1/fps, or 1/(fps*1000)-fine when source timestamps are
        variable; any timestamps are rounded to it).

    Use as a context manager: an exception inside the block removes the temp file and leaves nothing behind.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: Fraction | float | int,
        *,
        codec: str = "libx264",
        crf: float | None = 18,
        pix_fmt: str | None = None,
        source: str | os.PathLike | None = None,
        time_base: Fraction | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        if self.fps <= 0:
            raise VideoINRError(f"{self.path}: frame rate must be positive, got {fps}")
        try:
            av.codec.Codec(codec, "w")
        except Exception:
            raise VideoINRError(f"--codec {codec}: no such video encoder in this FFmpeg build") from None
        self.codec = codec
        self.crf = crf
        self.pix_fmt = pix_fmt
        self.source = Path(source) if source is not None else None
        self.time_base = time_base
        self.options = dict(options or {})
        self.tmp = temp_path_for(self.path)
        self._out: av.container.OutputContainer | None = None
        self._stream = None
        self._src: av.container.InputContainer | None = None
        self._copy_map: dict[int, object] = {}
        self._copy_iter: Iterator | None = None
        self._pending = None
        self._size: tuple[int, int] | None = None
        self._info: VideoInfo | None = None
        self._last_pts: int | None = None
        self.frames_written = 0
        self._closed = False
        if not self.path.parent.exists():
            raise VideoINRError(f"{self.path}: output folder {self.path.parent} does not exist")
        if not os.access(self.path.parent, os.W_OK):
            raise VideoINRError(f"{self.path}: output folder is not writable")

    # --- setup -------------------------------------------------------------------------------------------
    def _open(self, height: int, width: int) -> None:
        fmt = self.pix_fmt or "yuv420p"
        codec = av.codec.Codec(self.codec, "w")
        supported = {f.name for f in (codec.video_formats or [])}
        if (height % 2 or width % 2) and fmt in ("yuv420p", "yuv422p", "nv12"):
            if not supported or "yuv444p" in supported:
                fmt = "yuv444p"
            else:
                raise VideoINRError(
                    f"{self.path}: size {width}x{height} is odd, which {fmt} cannot store and "
                    f"encoder {self.codec} has no yuv444p; ask for an even size"
                )
        if supported and fmt not in supported:
            raise VideoINRError(f"--codec {self.codec}: does not support pixel format {fmt}")
        if self.source is not None:
            self._info = probe(self.source)
        try:
            self._out = av.open(str(self.tmp), mode="w")
        except (av.FFmpegError, ValueError, OSError) as e:
            raise VideoINRError(f"{self.path}: cannot create output ({_short(e)})") from None
        tb = self.time_base or Fraction(1, 1) / self.fps
        try:
            st = self._out.add_stream(self.codec, rate=self.fps)
        except (av.FFmpegError, ValueError) as e:
            raise VideoINRError(f"{self.path}: container cannot hold codec {self.codec} ({_short(e)})") from None
        st.width, st.height, st.pix_fmt = width, height, fmt
        st.codec_context.time_base = tb
        st.time_base = tb
        opts = dict(self.options)
        if self.crf is not None and self.codec in ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"):
            opts.setdefault("crf", f"{self.crf:g}")
        st.options = opts
        if self._info is not None:
            info = self._info
            cc = st.codec_context
            cc.color_range = info.color_range
            if info.colorspace not in (2,):  # 2 = unspecified
                cc.colorspace = info.colorspace
            if info.color_primaries not in (2,):
                cc.color_primaries = info.color_primaries
            if info.color_trc not in (2,):
                cc.color_trc = info.color_trc
            if info.rotation:
                st.set_display_rotation(info.rotation)
            self._setup_copy()
        self._stream = st
        self._size = (height, width)

    def _setup_copy(self) -> None:
        assert self._out is not None and self.source is not None
        src = av.open(str(self.source), mode="r")
        self._src = src
        try:
            for k, v in src.metadata.items():
                if k not in ("encoder", "major_brand", "minor_version", "compatible_brands"):
                    self._out.metadata[k] = v
        except Exception:
            pass
        supported = self._out.supported_codecs
        copy_streams = []
        for s in list(src.streams.audio) + list(src.streams.subtitles):
            name = s.codec_context.name if s.codec_context is not None else None
            if name is not None and supported and name not in supported:
                print(
                    f"warning: {self.source}: {s.type} stream {s.index} ({name}) cannot be stored in "
                    f"{self.path.suffix} and is dropped",
                    file=sys.stderr,
                )
                continue
            try:
                o = self._out.add_stream_from_template(s)
            except (ValueError, av.FFmpegError) as e:
                print(f"warning: {self.source}: {s.type} stream {s.index} not copied ({_short(e)})", file=sys.stderr)
                continue
            for k, v in s.metadata.items():
                o.metadata[k] = v
            self._copy_map[s.index] = o
            copy_streams.append(s)
        if copy_streams:
            self._copy_iter = iter(src.demux(copy_streams))

    # --- muxing ------------------------------------------------------------------------------------------
    def _mux_copied_until(self, t: float | None) -> None:
        """Mux stream-copied packets with time <= t (all remaining when t is None), interleaving with video."""
        if self._copy_iter is None:
            return
        while True:
            pkt = self._pending
            if pkt is None:
                try:
                    pkt = next(self._copy_iter)
                except StopIteration:
                    self._copy_iter = None
                    return
                except av.FFmpegError:
                    self._copy_iter = None
                    return
                if pkt.dts is None and pkt.pts is None:
                    continue  # flush packet from the demuxer
            pt = pkt.pts if pkt.pts is not None else pkt.dts
            if t is not None and pt is not None and float(pt * pkt.time_base) > t:
                self._pending = pkt
                return
            self._pending = None
            pkt.stream = self._copy_map[pkt.stream_index]
            self._out.mux(pkt)

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Encode one uint8 (H, W, 3) RGB frame at presentation `time` seconds (default index / fps).

        Times must increase; they are rounded to the output time base.
        """
        if self._closed:
            raise RuntimeError("VideoWriter is closed")
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        if self._out is None:
            self._open(h, w)
        elif (h, w) != self._size:
            raise ValueError(f"frame size {w}x{h} differs from the first frame's {self._size[1]}x{self._size[0]}")
        st = self._stream
        tb = st.codec_context.time_base
        if time is None:
            time = float(self.frames_written / self.fps)
        pts = int(round(Fraction(time).limit_denominator(10**9) / Fraction(tb)))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        kw = {}
        if self._info is not None:
            if self._info.color_range in (1, 2):
                kw["dst_color_range"] = self._info.color_range
            if self._info.colorspace not in (2, 0):
                kw["dst_colorspace"] = self._info.colorspace
        frame = frame.reformat(format=st.codec_context.pix_fmt, **kw)
        frame.pts = pts
        frame.time_base = tb
        try:
            packets = st.encode(frame)
        except av.FFmpegError as e:
            raise VideoINRError(f"{self.path}: encoding failed ({_short(e)})") from None
        self._mux_copied_until(float(time))
        self._out.mux(packets)
        self.frames_written += 1

    # --- finishing ---------------------------------------------------------------------------------------
    def close(self) -> Path:
        """Flush the encoder, copy the remaining audio/subtitle packets, and rename the temp file to `path`."""
        if self._closed:
            return self.path
        if self._out is None:
            self.abort()
            raise VideoINRError(f"{self.path}: no frames to write")
        try:
            self._out.mux(self._stream.encode(None))
            self._mux_copied_until(None)
            self._out.close()
            self._out = None
            if self._src is not None:
                self._src.close()
                self._src = None
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Stop without output: close everything and delete the temp file."""
        self._closed = True
        for c in (self._out, self._src):
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
        self._out = self._src = None
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
