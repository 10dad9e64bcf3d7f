"""Small file-system helpers shared by the pipeline, evaluation, training and the model registry.

Atomic writes: the content goes to a temporary sibling of the target (same folder, so ``os.replace`` is a
rename on one file system), which then replaces the target in one step: readers see the old file or the new
one, never a torn one. The temporary file is removed when writing it fails. The default temporary name,
``.<name>.tmp<pid><suffix>``, is hidden, unique per process and keeps the extension (for writers that pick a
format from it); callers with their own clean-up convention pass ``tmp``.

Pixel conversions live in ``videoinr.data.convert`` (they need torch; this module is standard library only).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["temp_sibling", "write_via_temp", "atomic_write_bytes", "VIDEO_EXTENSIONS", "OUTPUT_VIDEO_EXTENSIONS"]


def temp_sibling(path: str | os.PathLike) -> Path:
    """The default temporary name beside `path`: ``.<name>.tmp<pid><suffix>``."""
    p = Path(path)
    return p.with_name(f".{p.name}.tmp{os.getpid()}{p.suffix}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() gives a new file under the process's umask (read once, at import)


def write_via_temp(path: str | os.PathLike, write: Callable[[Path], object], tmp: Path | None = None) -> None:
    """Call ``write(tmp)`` to produce the file at a temporary sibling, then ``os.replace`` it onto `path`
    with the usual permissions (FILE_MODE: some writers, e.g. safetensors, create files readable by their
    owner only). On any failure (in `write` or in the rename) the temporary file is removed and the error
    re-raised."""
    path = Path(path)
    tmp = temp_sibling(path) if tmp is None else Path(tmp)
    try:
        write(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False,
                       tmp: Path | None = None) -> None:
    """Write `data` to `path` atomically (see the module docstring); with `fsync` the data reaches the disk
    before the rename (for files a crash must not lose, e.g. training checkpoints)."""

    def write(t: Path) -> None:
        with open(t, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())

    write_via_temp(path, write, tmp)


# Video file extensions (lower case, with the dot): one set for every reader (upscale inputs, training sources).
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".flv",
     ".wmv", ".3gp", ".ogv", ".gif", ".y4m"}
)
"""Files read as videos: `videoinr upscale` inputs (and the output names it treats as video files), and the
training data loader's (`videoinr.data.windows`) when it scans a folder."""

OUTPUT_VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm"})
"""Containers `videoinr upscale` writes (a subset of VIDEO_EXTENSIONS)."""
