"""Stage 4b, sinks: where rendered frames go. Numbered PNGs (folder output) or fixed-length video segments
(video output) in the work folder, each finished unit kept for --resume; `finish()` moves the result into
place (segments joined with the input's audio/subtitles stream-copied)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from videoinr.errors import VideoINRError
from videoinr.fileio import write_via_temp
from videoinr.pipeline.job import UpscaleOptions
from videoinr.pipeline.plan import OutputPlan
from videoinr.pipeline.scan import ScannedInput
from videoinr.pipeline.workdir import JOB_FILE, LOCK_FILE, FinishedFiles, move_into_place


def check_container(out: Path, codec: str) -> None:
    """Refuse a container (by extension) that cannot be written or cannot hold `codec`."""
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


def _write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` (the PNG sink's only disk write; tests inject a full disk here)."""
    with open(path, "wb") as f:
        f.write(data)


SEGMENT_NAME = re.compile(r"segment_\d{6,}\.(mp4|mkv)")


class FolderSink:
    """Numbered PNG frames written atomically into the work folder; finished frames (recorded in
    `finished`, checked again on --resume) survive for --resume. 8-bit PNGs, or 16-bit ones for a 10/12-bit
    input (uint16 frames)."""

    def __init__(self, output: Path, work: Path, n: int, finished: FinishedFiles) -> None:
        self.output, self.work, self.finished = output, work, finished
        self.digits = max(6, len(str(n - 1)))

    def name(self, j: int) -> Path:
        return self.work / f"{j:0{self.digits}d}.png"

    def is_done(self, j: int) -> bool:
        return self.finished.is_done(self.name(j).name)

    def write(self, j: int, image: np.ndarray, time_s: float, duration: float | None) -> None:
        p = self.name(j)
        # encoded in memory and written by Python: a full disk is an OSError here, not libpng's stderr noise
        ok, png = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
        if not ok:
            raise VideoINRError(f"{p}: cannot encode PNG")
        data = png.tobytes()
        write_via_temp(p, lambda t: _write_file(t, data))
        self.finished.add(p)

    def finish(self) -> None:
        (self.work / JOB_FILE).unlink(missing_ok=True)
        self.finished.remove()
        for stray in self.work.glob(".*.tmp*"):  # a write cut short by a hard kill (fileio.temp_sibling)
            stray.unlink()
        move_into_place(self.work, self.output, video=False)
        (self.output / LOCK_FILE).unlink(missing_ok=True)  # still held (open) until the run ends

    def close(self) -> None:
        pass


class VideoSink:
    """Output frames encoded in fixed segments of `job.segment_frames` frames (the unit of --resume), joined
    at the end.

    Segment s holds output frames [s * segment, (s + 1) * segment) and exists under its final name only once
    complete. The join remuxes them (no re-encode) with the input's audio/subtitles and metadata.
    """

    def __init__(self, output: Path, work: Path, plan: OutputPlan, src: ScannedInput, job: UpscaleOptions,
                 finished: FinishedFiles, codec: str, pix_fmt: str | None = None) -> None:
        import av

        self.output, self.work, self.n, self.plan, self.src = output, work, plan.n, plan, src
        self.finished = finished
        self.codec, self.crf, self.segment = codec, job.crf, max(1, int(job.segment_frames))
        self.options = {"preset": job.preset} if job.preset else {}
        self.pix_fmt = pix_fmt  # None: yuv420p (8-bit); yuv420p10le/12le for a deeper input
        fmt = av.open(os.devnull, "w", format="mp4")
        try:
            self.ext = ".mp4" if self.codec in fmt.supported_codecs else ".mkv"
        finally:
            fmt.close()
        self.writer = None
        self.open_seg: int | None = None

    def seg_path(self, s: int) -> Path:
        return self.work / f"segment_{s:06d}{self.ext}"

    def is_done(self, j: int) -> bool:
        return self.finished.is_done(self.seg_path(j // self.segment).name)

    def write(self, j: int, image: np.ndarray, time_s: float, duration: float | None) -> None:
        from videoinr.data.video import VideoWriter

        s = j // self.segment
        if self.open_seg != s:
            if self.writer is not None:
                raise RuntimeError("segment left unfinished")  # frames arrive in order; cannot happen
            source = self.src.path if self.src.kind == "video" else None
            self.writer = VideoWriter(self.seg_path(s), self.plan.fps, codec=self.codec, crf=self.crf,
                                      pix_fmt=self.pix_fmt,
                                      source=source, copy_streams=False, time_base=self.plan.time_base,
                                      options=self.options)
            self.open_seg = s
        self.writer.write(image, time_s, duration)
        if j == min(self.n, (s + 1) * self.segment) - 1:
            self.writer.close()
            self.writer, self.open_seg = None, None
            self.finished.add(self.seg_path(s))

    def finish(self) -> None:
        from videoinr.data.video import concat_videos

        n_seg = -(-self.n // self.segment)
        parts = [self.seg_path(s) for s in range(n_seg)]
        source = self.src.path if self.src.kind == "video" else None
        tmp = self.work / f"joined{self.output.suffix}"
        concat_videos(parts, tmp, source=source, copy_streams=self.plan.copy_audio)
        move_into_place(tmp, self.output, video=True)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer = None
