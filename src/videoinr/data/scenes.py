"""Scene-cut detection (PySceneDetect's ``AdaptiveDetector``) and shot splitting.

Shared by the upscaler (no interpolation across a cut) and training (no window crosses a cut).
A cut is reported as the 0-based index of the first frame of the new shot.

Detector: PySceneDetect's ``AdaptiveDetector``: a frame's HSV content change must be >= ``min_content_val``
(15) and >= ``threshold`` (3) times the mean change of the 2 frames on either side (PySceneDetect's
defaults). ``min_scene_len`` is 1 frame instead of PySceneDetect's 15 (which suits scene lists for editing):
here a missed cut costs artifacts, a spurious one little. Frames are first shrunk to about 256 pixels wide,
as PySceneDetect's ``SceneManager`` does. On the project's real data this finds exactly the 5 cuts of
``train/bikes_scenecuts.mp4`` and none in the six single-shot ``sam2_clips``, the five DAVIS sequences
(incl. the fast pan of ``bmx-trees``, where a fixed ContentDetector threshold of 27 fires every 15 frames)
or Vid4.

Streaming: the adaptive rule looks ``lookahead`` (= 2) frames ahead, so ``CutDetector.push`` confirms a cut
at frame k once frame k + 2 has been pushed; a consumer deciding on the pair (k-1, k) buffers ``lookahead``
frames. Frame 1 and the last 2 frames of a video are never reported as cuts (no full window around them).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
from scenedetect.common import FrameTimecode
from scenedetect.detectors import AdaptiveDetector

from videoinr.errors import VideoINRError

__all__ = ["CutDetector", "detect_cuts", "split_shots", "DETECT_WIDTH"]

DETECT_WIDTH = 256
"""Frames are downscaled to about this width before detection (PySceneDetect's default)."""

_FPS = 25.0  # Timecodes are frame-number based; the rate only has to be valid.


class CutDetector:
    """Streaming scene-cut detector over uint8 (H, W, 3) RGB frames pushed in order.

    ``push(frame)`` returns the indices of cuts confirmed by this frame (each at most ``lookahead`` frames
    behind it; usually empty). ``cuts`` holds all cuts found so far, ascending.
    """

    def __init__(self, threshold: float = 3.0, min_content_val: float = 15.0, min_scene_len: int = 1,
                 window: int = 2):
        self._detector = AdaptiveDetector(
            adaptive_threshold=threshold,
            min_scene_len=int(min_scene_len),
            window_width=window,
            min_content_val=min_content_val,
        )
        self.lookahead: int = window
        self.cuts: list[int] = []
        self._index = 0
        self._size: tuple[int, int] | None = None

    @staticmethod
    def _prepare(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        factor = w / DETECT_WIDTH
        if factor > 1.0:
            frame = cv2.resize(frame, (max(1, round(w / factor)), max(1, round(h / factor))),
                               interpolation=cv2.INTER_LINEAR)
        return np.ascontiguousarray(frame[..., ::-1])  # PySceneDetect expects BGR

    def push(self, frame: np.ndarray) -> list[int]:
        """Feed the next frame (uint8 (H, W, 3) RGB); returns cuts newly confirmed (0-based frame indices)."""
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"CutDetector.push: expects uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self._size is None:
            self._size = frame.shape[:2]
        elif frame.shape[:2] != self._size:
            raise VideoINRError(
                f"frame {self._index}: size {frame.shape[1]}x{frame.shape[0]} differs from "
                f"{self._size[1]}x{self._size[0]} of frame 0"
            )
        events = self._detector.process_frame(FrameTimecode(self._index, fps=_FPS), self._prepare(frame))
        self._index += 1
        new = [int(tc.frame_num) for tc in events if int(tc.frame_num) > 0]
        self.cuts.extend(new)
        return new

    @property
    def frames_seen(self) -> int:
        """Number of frames pushed so far."""
        return self._index


def _iter_source(source: str | os.PathLike | Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            from videoinr.data.frames import list_frames, read_image

            return (read_image(p) for p in list_frames(path))
        from videoinr.data.video import iter_video

        return (f.image for f in iter_video(path))
    return iter(source)


def detect_cuts(
    source: str | os.PathLike | Iterable[np.ndarray],
    threshold: float | None = None,
    min_scene_len: int = 1,
) -> list[int]:
    """Scene cuts of a video: 0-based index of the first frame of each new shot, ascending.

    ``source``: frames (uint8 (H, W, 3) RGB, any iterable: streamed, not stored), a video file or a frame
    folder. ``threshold``: adaptive ratio (default 3.0; higher finds fewer cuts).
    """
    det = CutDetector(threshold=3.0 if threshold is None else float(threshold), min_scene_len=min_scene_len)
    for frame in _iter_source(source):
        det.push(frame)
    return list(det.cuts)


def split_shots(n_frames: int, cuts: Iterable[int]) -> list[range]:
    """Split frames 0..n_frames-1 at ``cuts`` (first frame of each new shot) into consecutive ranges.

    Cuts outside 1..n_frames-1 and duplicates are ignored. ``split_shots(10, [4])`` ->
    ``[range(0, 4), range(4, 10)]``.
    """
    if n_frames <= 0:
        return []
    bounds = sorted({int(c) for c in cuts if 0 < int(c) < n_frames})
    starts = [0, *bounds]
    ends = [*bounds, n_frames]
    return [range(s, e) for s, e in zip(starts, ends)]
