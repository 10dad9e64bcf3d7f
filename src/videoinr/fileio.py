"""Small file-system helpers shared by the pipeline, evaluation, training, `check` and the model registry.

One way to write a file: the content goes to a temporary sibling of the target (`temp_sibling`: same folder,
so ``os.replace`` is a rename on one file system; hidden, ``.<name>.tmp<pid>-<8 hex><suffix>``, unique per
call and keeping the extension for writers that pick a format from it), which `publish` fsyncs and renames
onto the target, then fsyncs the folder: readers see the old file or the new one, never a torn one, and after
a crash or power loss a file under its final name is complete. The temporary file is removed when anything
fails. Writers: `atomic_write_bytes` (bytes: job records, checkpoints, reports, PNG frames) and
`write_via_temp` (a callback that writes into a path: savefig, cv2.imwrite, safetensors' save_file, PyAV),
and `publish` directly for the video writer and joiner. A finished folder (the frames of a folder output,
a `check` report) gets its name from `replace_folder`.

The one exception is appending: a record of finished files (`done.jsonl`) and training's `metrics.csv` grow
by appended lines, each flushed and fsynced before the writer goes on (a crash loses at most the line being
written, which readers skip); they are not rewritten through a temporary file.

`file_digest` gives the (size, SHA-256) that resume records check.
Pixel conversions live in ``videoinr.data.convert`` (they need torch; this module is standard library only).
"""
from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from videoinr.errors import VideoINRError
from videoinr.validate import shown

__all__ = ["temp_sibling", "write_via_temp", "atomic_write_bytes", "publish", "replace_folder", "fsync_dir",
           "file_digest", "parse_bytes", "require_writable_parent", "VIDEO_EXTENSIONS", "OUTPUT_VIDEO_EXTENSIONS"]


def temp_sibling(path: str | os.PathLike) -> Path:
    """A new temporary name beside `path`: ``.<name>.tmp<pid>-<8 hex><suffix>`` (the name cut to 64
    characters, so every legal name has a legal temporary one; unique per call, also across threads)."""
    p = Path(path)
    return p.with_name(f".{p.name[:64]}.tmp{os.getpid()}-{uuid.uuid4().hex[:8]}{p.suffix}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() gives a new file under the process's umask (read once, at import)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not sync folders; the rename itself has happened
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Give the finished temporary file `tmp` its final name `path`: fsync it, set the usual permissions
    (FILE_MODE: some writers, e.g. safetensors, create files readable by their owner only), ``os.replace``
    it onto `path`, fsync the folder. On failure `tmp` is removed and the error re-raised."""
    tmp, path = Path(tmp), Path(path)
    try:
        _fsync_file(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent if str(path.parent) else ".")
    return path


def write_via_temp(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` to produce the file at a `temp_sibling`, then `publish` it onto `path`. On any
    failure (in `write`, the fsync or the rename) the temporary file is removed and the error re-raised."""
    path = Path(path)
    tmp = temp_sibling(path)
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    publish(tmp, path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically and durably (see the module docstring)."""

    def write(t: Path) -> None:
        with open(t, "wb") as f:
            f.write(data)

    write_via_temp(path, write)


def replace_folder(src: str | os.PathLike, dst: str | os.PathLike, aside: str | os.PathLike) -> None:
    """Rename the finished folder `src` (its files already published) to `dst`, then fsync the parent. An
    existing `dst` folder is first renamed to `aside` (a hidden sibling) and removed only once `src` has its
    name; if that rename fails it is put back and the error re-raised."""
    src, dst, aside = Path(src), Path(dst), Path(aside)
    shutil.rmtree(aside, ignore_errors=True)
    had = dst.is_dir() and not dst.is_symlink()
    if had:
        os.replace(dst, aside)
    try:
        os.replace(src, dst)
    except BaseException:
        if had:
            os.replace(aside, dst)  # put the previous folder back
        raise
    if had:
        shutil.rmtree(aside, ignore_errors=True)
    fsync_dir(dst.parent if str(dst.parent) else ".")


def file_digest(path: str | os.PathLike) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex) of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


_BYTES = re.compile(r"\s*((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[0-9]+)?)\s*([kmgtp]?)(i?b)?\s*")


def parse_bytes(value: str | int | float, option: str, minimum: int = 1) -> int:
    """The one parser of byte sizes: '4G', '512M', '1.5GiB', '2e9', 2e9 -> bytes (K, M, G, T, P are powers
    of 1024; ASCII digits only). VideoINRError naming `option` for anything else or less than `minimum`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        m = _BYTES.fullmatch(str(value).lower())
        if not m:
            raise VideoINRError(f"{option} {shown(value)}: expected a size such as 4G or 512M")
        number = float(m.group(1)) * 1024 ** " kmgtp".index(m.group(2) or " ")
    if not math.isfinite(number) or number < minimum:
        at_least = f"{minimum // 2**20}M" if minimum >= 2**20 else f"{minimum} bytes"
        raise VideoINRError(f"{option} {shown(value)}: must be at least {at_least}")
    return int(number)


# Video file extensions (lower case, with the dot): one set for every reader (upscale inputs, training sources).
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".flv",
     ".wmv", ".3gp", ".ogv", ".gif", ".y4m"}
)
"""Files read as videos: `videoinr upscale` inputs (and the output names it treats as video files), and the
training data loader's (`videoinr.data.windows`) when it scans a folder."""

OUTPUT_VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm"})
"""Containers `videoinr upscale` writes (a subset of VIDEO_EXTENSIONS)."""


def require_writable_parent(path: str | os.PathLike, label: str) -> None:
    """VideoINRError (prefixed `label`) unless the nearest existing folder at or above `path` is a folder
    this process can create files in (checked with an empty probe file, removed at once)."""
    parent = Path(path)
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if not parent.is_dir():
        raise VideoINRError(f"{label}: {parent} is a file, not a folder")
    probe = parent / f".videoinr-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise VideoINRError(f"{label}: cannot write in {parent} ({e.strerror or type(e).__name__})") from None
