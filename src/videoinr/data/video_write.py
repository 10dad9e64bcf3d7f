"""Writing video files through PyAV (FFmpeg): `VideoWriter` (encode frames), `concat_videos` (join parts
without re-encoding), the choice of encoder and pixel format, and stream-copying a source's audio/subtitles.

Frames go in as uint8 (H, W, 3) RGB arrays with presentation times in seconds. Outputs are written to a
hidden temporary name beside the target and renamed when complete, so an error leaves nothing behind. With a
`source` video, its colour range/matrix and display rotation are carried to the output as metadata.
"""
from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from videoinr.data.video_codecs import (_CRF_CODECS, _has_encoder, _quiet_encoder, check_encoder, check_preset,
                                       choose_pix_fmt, deep_pix_fmt, default_codec)
from videoinr.data.video_read import VideoInfo, _short, probe
from videoinr.errors import VideoINRError
from videoinr.fileio import publish, temp_sibling

__all__ = ["VideoWriter", "concat_videos", "check_encoder", "check_preset", "choose_pix_fmt", "deep_pix_fmt",
           "default_codec"]

# the muxer writes no random ids or dates (Matroska's segment UID, its date): the same frames and streams give
# the same bytes, on every run and every Ray node
MUXER_OPTIONS = {"fflags": "+bitexact"}


def _check_writable_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise VideoINRError(f"{path}: output folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise VideoINRError(f"{path}: output folder {path.parent} is not writable")


def _apply_source_look(stream, info: VideoInfo) -> None:
    """Carry colour range/matrix/primaries/transfer and display rotation of `info` to an output stream."""
    cc = stream.codec_context
    if info.color_range in (1, 2):
        cc.color_range = info.color_range
    if info.colorspace not in (0, 2):  # 0 = RGB/identity, 2 = unspecified
        cc.colorspace = info.colorspace
    if info.color_primaries != 2:
        cc.color_primaries = info.color_primaries
    if info.color_trc != 2:
        cc.color_trc = info.color_trc
    if info.rotation:
        stream.set_display_rotation(info.rotation)


class _StreamCopier:
    """Stream-copies the audio and subtitle packets of `source` into `out`, interleaved by time.

    Streams the output container cannot hold (e.g. SubRip in .mp4) are dropped with a one-line warning.
    """

    _SKIP_META = ("encoder", "major_brand", "minor_version", "compatible_brands")

    def __init__(self, source: Path, out: av.container.OutputContainer, label: Path) -> None:
        self.src = av.open(str(source), mode="r")
        for k, v in self.src.metadata.items():
            if k not in self._SKIP_META:
                out.metadata[k] = v
        self.out = out
        self.map: dict[int, object] = {}
        supported = out.supported_codecs
        streams = []
        for s in list(self.src.streams.audio) + list(self.src.streams.subtitles):
            name = s.codec_context.name if s.codec_context is not None else "?"
            reason = None
            if supported and name not in supported:
                reason = f"{label.suffix} cannot store {name}"
            else:
                try:
                    o = out.add_stream_from_template(s)
                except (ValueError, av.FFmpegError) as e:
                    reason = _short(e)
            if reason:
                print(f"warning: {source}: {s.type} stream #{s.index} not copied ({reason})", file=sys.stderr)
                continue
            for k, v in s.metadata.items():
                o.metadata[k] = v
            self.map[s.index] = o
            streams.append(s)
        self._iter = iter(self.src.demux(streams)) if streams else None
        self._pending = None

    def mux_until(self, t: float | None) -> None:
        """Mux copied packets with presentation time <= t seconds (all remaining when t is None)."""
        while self._iter is not None:
            pkt = self._pending
            if pkt is None:
                try:
                    pkt = next(self._iter)
                except (StopIteration, av.FFmpegError):
                    self._iter = None
                    return
                if pkt.dts is None and pkt.pts is None:
                    continue  # demuxer flush packet
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            if t is not None and float(ts * pkt.time_base) > t:
                self._pending = pkt
                return
            self._pending = None
            pkt.stream = self.map[pkt.stream_index]
            self.out.mux(pkt)

    def close(self) -> None:
        self.src.close()


class VideoWriter:
    """Encode uint8 (H, W, 3) RGB frames to a video file, written to a temp name and renamed at `close`.

    path: output file; the container follows the extension (.mp4, .mkv, .mov, ...).
    fps: nominal frame rate (Fraction). Frames written without a time get time = index / fps.
    codec: FFmpeg encoder name (default libx264); crf: constant rate factor (x264/x265/VP9/AV1 encoders).
    pix_fmt: default yuv420p. yuv420p cannot store odd widths or heights, and the output size is always
        exactly what was asked, so for an odd size the writer uses yuv444p instead (same quality, fewer
        hardware players) when the codec has it, else raises VideoINRError.
    source: the input video. Its colour range/matrix and rotation are carried over (frames are converted
        with the matching matrix and range); with `copy_streams` its audio and subtitle streams are
        stream-copied (no re-encode) and its container metadata kept.
    time_base: output video time base (default 1/fps); frame times are rounded to it.

    Use as a context manager: an exception in the block removes the temp file and leaves nothing behind.
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
        copy_streams: bool = True,
        time_base: Fraction | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        if self.fps <= 0:
            raise VideoINRError(f"{self.path}: frame rate must be positive, got {fps}")
        check_encoder(codec)
        _check_writable_folder(self.path)
        self.codec, self.crf, self.pix_fmt = codec, crf, pix_fmt
        self.source = Path(source) if source is not None else None
        self.copy_streams = copy_streams
        self.time_base = Fraction(time_base) if time_base is not None else 1 / self.fps
        self.options = dict(options or {})
        self.tmp = temp_sibling(self.path)
        self.info = probe(self.source) if self.source is not None else None
        self._out: av.container.OutputContainer | None = None
        self._stream = None
        self._copier: _StreamCopier | None = None
        self._size: tuple[int, int] | None = None
        self._last_pts: int | None = None
        self._last_time: float | None = None
        self._last_ticks = 1  # duration of the last frame written, in time-base ticks
        self._durations: dict[int, int] = {}
        self.frames_written = 0
        self._closed = False

    def _open(self, height: int, width: int) -> None:
        fmt = choose_pix_fmt(self.codec, width, height, self.pix_fmt, self.path)
        try:
            self._out = av.open(str(self.tmp), mode="w", container_options=MUXER_OPTIONS)
            st = self._out.add_stream(self.codec, rate=self.fps)
        except (av.FFmpegError, ValueError, OSError) as e:
            self.abort()
            raise VideoINRError(f"{self.path}: cannot create a {self.codec} video here ({_short(e)})") from None
        st.width, st.height, st.pix_fmt = width, height, fmt
        st.codec_context.time_base = self.time_base
        st.time_base = self.time_base
        opts = dict(self.options)
        if self.crf is not None and self.codec in _CRF_CODECS:
            opts.setdefault("crf", f"{self.crf:g}")
        _quiet_encoder(self.codec, opts)
        st.options = opts
        if self.info is not None:
            _apply_source_look(st, self.info)
            if self.copy_streams:
                self._copier = _StreamCopier(self.source, self._out, self.path)
        self._stream = st
        self._size = (height, width)

    def write(self, image: np.ndarray, time: float | None = None, duration: float | None = None) -> None:
        """Encode one uint8 (H, W, 3) RGB frame (or uint16 on the 0..65535 scale, for 10/12-bit `pix_fmt`s) shown from `time` seconds (default frame index / fps)
        for `duration` seconds (default 1 / fps; it sets the length of the last frame, hence the video's).

        Times must increase; they are rounded to the output time base.
        """
        if self._closed:
            raise RuntimeError("VideoWriter is closed")
        if image.dtype not in (np.uint8, np.uint16) or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected uint8 or uint16 (H, W, 3) RGB, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        if self._out is None:
            self._open(h, w)
        elif (h, w) != self._size:
            raise ValueError(f"frame size {w}x{h} differs from the first frame's {self._size[1]}x{self._size[0]}")
        st = self._stream
        if time is None:
            time = float(self.frames_written / self.fps)
        pts = int(round(Fraction(time).limit_denominator(10**12) / self.time_base))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts, self._last_time = pts, float(time)
        rgb = "rgb24" if image.dtype == np.uint8 else "rgb48le"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=rgb)
        frame = frame.reformat(format=st.codec_context.pix_fmt, **_yuv_kwargs(self.info))
        frame.pts = pts
        frame.time_base = self.time_base
        dur = 1 / self.fps if duration is None else Fraction(duration).limit_denominator(10**12)
        self._durations[pts] = self._last_ticks = max(1, int(round(dur / self.time_base)))
        try:
            packets = st.encode(frame)
        except av.FFmpegError as e:
            raise VideoINRError(f"{self.path}: encoding failed ({_short(e)})") from None
        if self._copier is not None:
            self._copier.mux_until(float(time))
        self._mux(packets)
        self.frames_written += 1

    def _mux(self, packets: list) -> None:
        # Encoders leave packet durations unset; the muxer needs the last frame's to get the length right.
        for p in packets:
            if p.pts is None:
                continue
            ptb = Fraction(p.time_base) if p.time_base else self.time_base
            key = int(round(p.pts * ptb / self.time_base))
            if key in self._durations:
                p.duration = max(1, int(round(self._durations.pop(key) * self.time_base / ptb)))
        self._out.mux(packets)

    def close(self) -> Path:
        """Flush the encoder, copy the remaining audio/subtitle packets, rename the temp file to `path`."""
        if self._closed:
            return self.path
        if self._out is None:
            self.abort()
            raise VideoINRError(f"{self.path}: no frames to write")
        try:
            tail = self._stream.encode(None)
            self._end_at_last_frame(tail)
            self._mux(tail)
            if self._copier is not None:
                self._copier.mux_until(None)
            self._finish()
            publish(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def _end_at_last_frame(self, tail: list) -> None:
        """Make the stream end when the last frame's duration ends: containers take the stream's end
        from the last packet in decode order, which with B-frames is not the last frame shown."""
        if not tail or tail[-1].pts is None or self._last_pts is None:
            return
        last = tail[-1]
        ptb = Fraction(last.time_base) if last.time_base else self.time_base
        end = (self._last_pts + self._last_ticks) * self.time_base  # its entry may be popped already
        key = int(round(last.pts * ptb / self.time_base))
        self._durations[key] = max(1, int(round(end / self.time_base)) - key)

    def _finish(self) -> None:
        out, self._out = self._out, None
        out.close()
        if self._copier is not None:
            self._copier.close()
            self._copier = None

    def abort(self) -> None:
        """Stop without output: close everything and delete the temp file."""
        self._closed = True
        for c in (self._out, self._copier):
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
        self._out = self._copier = None
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _yuv_kwargs(info: VideoInfo | None) -> dict:
    if info is None:
        return {}
    kw = {}
    if info.color_range in (1, 2):
        kw["dst_color_range"] = info.color_range
    if info.colorspace not in (0, 2):
        kw["dst_colorspace"] = info.colorspace
    return kw


def _set_display_durations(packets: list) -> None:
    """Packet durations for remuxing a part written by `VideoWriter`: the stream ends where its last packet
    in decode order ends (`_end_at_last_frame`; that duration is stored verbatim), and every other packet
    lasts until the next frame is shown. mp4 stores decode-time deltas instead, which with B-frames and
    variable frame rate would make the muxer see frames outlasting the part."""
    shown = sorted((p for p in packets if p.pts is not None), key=lambda p: p.pts)
    if not shown or packets[-1].pts is None or not packets[-1].duration:
        return
    end = packets[-1].pts + packets[-1].duration
    for a, b in zip(shown, shown[1:]):
        a.duration = b.pts - a.pts
    packets[-1].duration = end - packets[-1].pts
    shown[-1].duration = max(1, end - shown[-1].pts)


def _open_part(part) -> av.container.InputContainer:
    """A part to join, opened for reading; an unreadable one is a VideoINRError naming it."""
    try:
        c = av.open(str(part))
    except (av.FFmpegError, ValueError, OSError) as e:
        raise VideoINRError(f"{part}: unreadable video part ({_short(e)}); rerun with --resume to redo it") from None
    if not c.streams.video:
        c.close()
        raise VideoINRError(f"{part}: video part has no video stream; rerun with --resume to redo it")
    return c


def concat_videos(
    parts: list[str | os.PathLike],
    path: str | os.PathLike,
    *,
    source: str | os.PathLike | None = None,
    copy_streams: bool = True,
) -> Path:
    """Join video files encoded with identical settings and increasing timestamps into `path`, no re-encode.

    The parts' video packets are remuxed as they are (timestamps kept); with `source`, its rotation,
    metadata and (if `copy_streams`) audio and subtitle streams are added as in `VideoWriter`. Written to a
    temp name and renamed; nothing is left behind on error.
    """
    path = Path(path)
    _check_writable_folder(path)
    if not parts:
        raise VideoINRError(f"{path}: no video parts to join")
    info = probe(source) if source is not None else None
    tmp = temp_sibling(path)
    out = copier = None
    try:
        out = av.open(str(tmp), mode="w", container_options=MUXER_OPTIONS)
        with _open_part(parts[0]) as first:
            template = first.streams.video[0]
            # a decoder that is not also an encoder's name (libdav1d for AV1): copy the parameters as they are
            opaque = True if not _has_encoder(template.codec_context.name) else None
            vs = out.add_stream_from_template(template, opaque=opaque)
            vs.time_base = template.time_base
        if info is not None:
            if info.rotation:
                vs.set_display_rotation(info.rotation)
            if copy_streams:
                copier = _StreamCopier(Path(source), out, path)
        last_dts = None
        for part in parts:
            with _open_part(part) as c:
                s = c.streams.video[0]
                try:
                    packets = [p for p in c.demux(s) if p.dts is not None or p.pts is not None]
                except av.FFmpegError as e:
                    raise VideoINRError(f"{part}: unreadable video part ({_short(e)}); rerun with --resume to "
                                        "redo it") from None
                _set_display_durations(packets)
                for pkt in packets:
                    if last_dts is not None and pkt.dts is not None:
                        dts = Fraction(pkt.dts) * pkt.time_base
                        if dts <= last_dts:  # B-frame delay overlapping the previous part's tail
                            raise VideoINRError(f"{part}: timestamps overlap the previous part")
                    if pkt.dts is not None:
                        last_dts = Fraction(pkt.dts) * pkt.time_base
                    if copier is not None and pkt.pts is not None:
                        copier.mux_until(float(pkt.pts * pkt.time_base))
                    pkt.stream = vs
                    out.mux(pkt)
        if copier is not None:
            copier.mux_until(None)
            copier.close()
            copier = None
        out.close()
        out = None
        publish(tmp, path)
    except BaseException:
        for c in (copier, out):
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
        tmp.unlink(missing_ok=True)
        raise
    return path
