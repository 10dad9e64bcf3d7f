"""Frame folders: natural-sorted listing, strict 8-bit RGB reading, and dataset layouts.

Frames are uint8 (H, W, 3) RGB numpy arrays. Grayscale, RGBA/with-alpha and 16-bit images are refused with
a ``VideoINRError`` naming the file (the model is trained on 8-bit RGB; silently converting would hide
a wrong input). Layouts: ``folder_videos`` reads ``<root>/<video>/<frames>`` (Adobe240/GoPro/DAVIS/Vid4),
``vimeo_septuplets`` reads Vimeo-90K's ``<root>/sequences/<a>/<b>/im1..im7.png``.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from videoinr.errors import VideoINRError

__all__ = [
    "IMAGE_EXTENSIONS",
    "natural_key",
    "list_frames",
    "is_ignored_name",
    "ignored_files",
    "read_image",
    "read_frames",
    "check_same_size",
    "folder_videos",
    "is_vimeo_tree",
    "vimeo_septuplets",
]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers numerically: frame2 < frame10."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))


SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db"})
"""File names (lower case) that file managers leave in folders; never frames or videos."""


def is_ignored_name(name: str) -> bool:
    """Hidden files (``.name``, e.g. the ``._x.png`` macOS leaves on USB drives, ``.DS_Store``) and the
    SYSTEM_FILES: skipped wherever a folder of frames or videos is listed."""
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def ignored_files(folder: str | Path) -> list[str]:
    """Names in ``folder`` that listing skips by `is_ignored_name` (for a note to the user), sorted."""
    return sorted(p.name for p in Path(folder).iterdir() if is_ignored_name(p.name))


def list_frames(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder`` (hidden and system files skipped), natural-sorted. Raises
    VideoINRError if missing or empty."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoINRError(f"{folder}: no such folder")
    frames = [p for p in folder.iterdir()
              if p.suffix.lower() in IMAGE_EXTENSIONS and not is_ignored_name(p.name) and p.is_file()]
    if not frames:
        raise VideoINRError(f"{folder}: no image frames (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return sorted(frames, key=lambda p: natural_key(p.name))


MAX_IMAGE_PIXELS = 1 << 28
"""Largest frame read (16384 x 16384 pixels): a header declaring more is refused before decoding."""


def _declared_size(data: np.ndarray) -> tuple[int, int] | None:
    """(W, H) from a PNG header (IHDR), None for other formats (OpenCV checks their sizes itself)."""
    head = data[:24].tobytes()
    if len(head) == 24 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


def read_image(path: str | Path) -> np.ndarray:
    """Read one 8-bit RGB image as uint8 (H, W, 3). Raises VideoINRError on unreadable/gray/RGBA/16-bit, and
    on a header declaring more than MAX_IMAGE_PIXELS (checked before anything is allocated for it)."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise VideoINRError(f"{path}: cannot read ({e.strerror or e})") from None
    declared = _declared_size(data)
    if declared is not None and declared[0] * declared[1] > MAX_IMAGE_PIXELS:
        raise VideoINRError(f"{path}: its header declares {declared[0]}x{declared[1]} pixels, over the "
                            f"{MAX_IMAGE_PIXELS:,} a frame may have")
    try:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error as e:  # OpenCV's own checks (its size limit, corrupt headers) are assertions
        if "MAX_IMAGE_PIXELS" in str(e):
            raise VideoINRError(f"{path}: its header declares more pixels than a frame may have (over "
                                f"{MAX_IMAGE_PIXELS:,})") from None
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else "decoder error"
        raise VideoINRError(f"{path}: not a readable image ({reason.split(') ')[-1].strip()})") from None
    if img is None:
        raise VideoINRError(f"{path}: not a readable image")
    if img.dtype != np.uint8:
        raise VideoINRError(f"{path}: {img.dtype} image ({img.dtype.itemsize * 8}-bit); only 8-bit RGB is supported")
    if img.ndim == 2 or img.shape[2] == 1:
        raise VideoINRError(f"{path}: grayscale image; only 8-bit RGB is supported")
    if img.shape[2] == 4:
        raise VideoINRError(f"{path}: image has an alpha channel (RGBA); only 8-bit RGB is supported")
    if img.shape[2] != 3:
        raise VideoINRError(f"{path}: {img.shape[2]}-channel image; only 8-bit RGB is supported")
    return np.ascontiguousarray(img[..., ::-1])


def check_same_size(frames: Sequence[np.ndarray], names: Sequence[str | Path]) -> None:
    """Raise VideoINRError naming the first frame whose (H, W) differs from the first one's."""
    if not frames:
        return
    h, w = frames[0].shape[:2]
    for f, name in zip(frames, names):
        if f.shape[:2] != (h, w):
            raise VideoINRError(
                f"{name}: frame size {f.shape[1]}x{f.shape[0]} differs from {w}x{h} of {names[0]}"
            )


def read_frames(folder: str | Path | Sequence[Path]) -> list[np.ndarray]:
    """All frames of a folder (or an explicit list of files), uint8 (H, W, 3) RGB, all of one size."""
    paths = list_frames(folder) if isinstance(folder, (str, Path)) else list(folder)
    if not paths:
        raise VideoINRError("no frames given")
    frames = [read_image(p) for p in paths]
    check_same_size(frames, paths)
    return frames


def folder_videos(root: str | Path) -> list[tuple[str, list[Path]]]:
    """``<root>/<video>/<frames>`` as [(video name, frame paths)], natural-sorted.

    A ``root`` that itself holds frames is one video. Sub-folders without frames are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise VideoINRError(f"{root}: no such folder")
    if any(p.suffix.lower() in IMAGE_EXTENSIONS and not is_ignored_name(p.name) for p in root.iterdir()
           if p.is_file()):
        return [(root.name, list_frames(root))]
    videos = []
    for sub in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name)):
        try:
            videos.append((sub.name, list_frames(sub)))
        except VideoINRError:
            continue
    if not videos:
        raise VideoINRError(f"{root}: no frame folders (expected <root>/<video>/<frames>)")
    return videos


def is_vimeo_tree(path: Path) -> bool:
    """Whether `path` is a Vimeo-90K tree: a folder holding ``sequences/``, or the ``sequences`` folder itself."""
    return path.is_dir() and ((path / "sequences").is_dir() or path.name == "sequences")


def vimeo_septuplets(root: str | Path) -> list[tuple[str, list[Path]]]:
    """Vimeo-90K septuplets ``<root>/sequences/<a>/<b>/im1..im7.png`` as [("a/b", 7 paths)].

    ``root`` may also point at the ``sequences`` folder itself.
    """
    root = Path(root)
    seq_root = root / "sequences" if (root / "sequences").is_dir() else root
    if not seq_root.is_dir():
        raise VideoINRError(f"{root}: no such folder")
    septuplets = []
    for a in sorted((p for p in seq_root.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name)):
        for b in sorted((p for p in a.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name)):
            paths = [b / f"im{i}.png" for i in range(1, 8)]
            missing = [p.name for p in paths if not p.is_file()]
            if missing:
                raise VideoINRError(f"{b}: Vimeo septuplet lacks {', '.join(missing)}")
            septuplets.append((f"{a.name}/{b.name}", paths))
    if not septuplets:
        raise VideoINRError(f"{root}: no Vimeo-90K septuplets (expected sequences/<a>/<b>/im1..im7.png)")
    return septuplets
