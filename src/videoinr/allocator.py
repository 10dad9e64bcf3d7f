"""How the commands' processes allocate memory (a process-level policy, set by the CLI, not the library).

By default glibc hands blocks of a few MB (the renderer's per-chunk activations) to mmap and unmaps them on
free, so every chunk of a render faults its pages in again. `tune_allocator` keeps freed blocks in the heap
for the next chunk. Measured on the 2-core CPU (docs/MEASUREMENTS.md): a 1080p x8 eager render from a 480p
pair, one thread, system time 9.5 -> 3.8 s on its first call and 2.2 -> 1.0 s on later ones. PyTorch's
transparent-huge-page allocation (THP_MEM_ALLOC_ENABLE=1) was tried too: 4x faster on one 40 MB ReLU, but
slower on the whole `upscale` command and +300 MB peak memory, so not set. Imports nothing heavy.
"""
from __future__ import annotations

import functools
import os
import platform

__all__ = ["tune_allocator"]

# glibc mallopt parameter numbers (malloc.h) and values
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest: blocks up to 32 MiB (every render chunk) come from the heap
TRIM_THRESHOLD = 2**31 - 1  # (a C int) freed heap memory is kept for the next chunk, not returned at once
_GLIBC_MALLOC_ENV = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


@functools.lru_cache(maxsize=None)
def tune_allocator() -> bool:
    """Set glibc malloc's mmap and trim thresholds for this process, once (skipped where glibc's own malloc
    environment variables are set). Peak memory is unchanged (the same blocks are live at the peak; memory
    freed after the peak stays with the process until it exits). Returns whether the settings took (False
    off Linux glibc)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(os.environ.get(name) for name in _GLIBC_MALLOC_ENV):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        return bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok)
    except (OSError, AttributeError):
        return False
