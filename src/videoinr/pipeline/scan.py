"""Stage 1, scan: decode the input once to validate every frame (size, colour; video of 10/12 bits per
component is decoded to 16-bit RGB), read the real timestamps, find scene cuts and, with --dedup, the frames
that repeat the last distinct one; `ScannedInput` describes the result and streams the frames again for rendering."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from videoinr.errors import VideoINRError
from videoinr.pipeline.job import DEFAULT_INPUT_FPS


@dataclass
class ScannedInput:
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
    bits: int = 8  # per colour component; over 8 (10/12-bit video), frames are uint16 RGB on 0..65535
    keep: list[int] | None = None  # with --dedup: the frames that are not a repeat of the last one kept

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
            for f in iter_video(self.path, deep=self.bits > 8):
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


class DecodedFrameBuffer:
    """Sequential random access to the decoded input frames, keeping only the frames still needed
    (the render loop's view of the input stream; not a training window)."""

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


def is_frame_folder(path: Path) -> bool:
    from videoinr.data.frames import IMAGE_EXTENSIONS, is_ignored_name

    return any(p.suffix.lower() in IMAGE_EXTENSIONS and not is_ignored_name(p.name) for p in path.iterdir()
               if p.is_file())


def note_ignored(folder: Path) -> None:
    """One note on stderr naming the hidden/system files a folder listing skipped (none: nothing)."""
    from videoinr.data.frames import ignored_files

    names = ignored_files(folder)
    if names:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        print(f"note: {folder}: ignored {len(names)} hidden or system file{'s' * (len(names) > 1)} ({shown})",
              file=sys.stderr)


def _check_pix_fmt(path: Path, pix_fmt: str, verbose: bool) -> None:
    """Refuse grayscale and alpha video (as for frames)."""
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


DEDUP_BLOCK = 8  # pixels: the side of the blocks whose mean absolute luma difference `frame_difference` takes
DEFAULT_DEDUP = 20.0  # 8-bit luma levels: the default --dedup threshold


def frame_signature(img: np.ndarray) -> np.ndarray:
    """The duplicate-frame measure's view of a frame: its luma (BT.601 weights) on the 0..255 scale (uint16
    frames scaled down), float32."""
    x = img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    if img.dtype == np.uint16:
        x /= 257.0
    return x


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """How much two `frame_signature`s differ: the largest mean absolute luma difference over the
    DEDUP_BLOCK x DEDUP_BLOCK blocks of the frame (8-bit levels; partial blocks at the edges), as FFmpeg's
    mpdecimate judges blocks. Compression noise spreads thinly (a repeated frame re-encoded by x264 measured
    at most 5.5 at CRF 18, 16 at CRF 28 and 28 at CRF 35, on five real clips), while anything that moves
    changes some block a lot (consecutive real frames of those clips: 75 and more). A frame within the
    --dedup threshold of the last distinct frame is a repeat of it."""
    import cv2

    d = np.abs(a - b)
    h, w = d.shape
    return float(cv2.resize(d, (-(-w // DEDUP_BLOCK), -(-h // DEDUP_BLOCK)), interpolation=cv2.INTER_AREA).max())


def scan(path: Path, input_fps: Fraction | None = None, scene_cuts: bool = False,
         progress: bool = False, dedup: float | None = None) -> ScannedInput:
    """Decode the whole input once: validate frames, collect timestamps, detect cuts (and, with `dedup`, a
    threshold for `frame_difference`, the frames that repeat the last distinct one). Nothing is kept."""
    from videoinr.data.scenes import CutDetector

    detector = CutDetector() if scene_cuts else None
    keep: list[int] | None = [] if dedup is not None else None
    last_sig = None
    times: list[float] = []
    size = None
    last_duration = None
    bits = 8
    if path.is_dir():
        from videoinr.data.frames import list_frames, read_image

        paths = list_frames(path)
        if progress:
            note_ignored(path)
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
        bits = info.bits
        frames_iter = ((i, f) for i, f in enumerate(iter_video(path, deep=bits > 8)))
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
                detector.push(img if img.dtype == np.uint8 else (img >> 8).astype(np.uint8))
            if keep is not None:
                sig = frame_signature(img)
                if last_sig is None or frame_difference(sig, last_sig) > dedup:
                    keep.append(i)
                    last_sig = sig
            bar.update(1)
    finally:
        bar.close()
    if not times:
        raise VideoINRError(f"{path}: no frames")
    cuts = sorted(set(detector.cuts)) if detector is not None else []
    if keep is not None:
        keep = sorted(set(keep) | {c for c in cuts if 0 < c < len(times)})  # a cut's first frame is never a repeat
    return ScannedInput(path, kind, paths, times, Fraction(fps), Fraction(tb), size[0], size[1], cuts, info,
                        last_duration, bits, keep)
