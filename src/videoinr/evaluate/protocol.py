"""The evaluation protocols as tasks (which input pairs predict which frames, at which t) and the LR inputs
(modcrop, then MATLAB-compatible bicubic downsampling). See `videoinr.evaluate` for the protocols."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from videoinr.data.convert import lr_uint8
from videoinr.errors import VideoINRError

PROTOCOLS = ("vid4", "clips")


@dataclass
class Target:
    """One predicted frame: its index in the sequence, time t in [0, 1] within its pair, position k."""

    frame: int
    t: float
    k: int
    in_average: bool = True  # counted in the pooled mean
    center: bool = False  # the -Center frame of a clip


@dataclass
class Task:
    """Two input frames (indices into the sequence) and the frames predicted from them."""

    sequence: str
    inputs: tuple[int, int]
    targets: list[Target] = field(default_factory=list)


def build_tasks(
    sequences: Sequence[tuple[str, int]],
    protocol: str,
    time_scale: int | None = None,
    clip_len: int | None = None,
    space_only: bool = False,
) -> list[Task]:
    """The protocol's tasks for sequences given as [(name, number of frames)].

    Raises VideoINRError when a sequence is too short for the protocol.
    """
    tasks: list[Task] = []
    for name, n in sequences:
        if space_only:
            if n < 2:
                tasks.append(Task(name, (0, 0), [Target(0, 0.0, 0)]))
                continue
            for i in range(n):
                pair = (i, i + 1) if i < n - 1 else (n - 2, n - 1)
                tasks.append(Task(name, pair, [Target(i, 0.0 if i < n - 1 else 1.0, 0)]))
        elif protocol == "vid4":
            step = time_scale or 2
            if n < step + 1:
                raise VideoINRError(f"sequence '{name}': {n} frames, too few for time x{step} (needs {step + 1})")
            starts = list(range(0, n - step, step))
            for j, i in enumerate(starts):
                last = j == len(starts) - 1
                ks = range(step + 1) if last else range(step)
                tasks.append(Task(name, (i, i + step), [Target(i + k, k / step, k) for k in ks]))
        elif protocol == "clips":
            length = clip_len or 9
            if n < length:
                raise VideoINRError(f"sequence '{name}': {n} frames, too few for a clip of {length} frames")
            center = (length - 1) // 2
            for c in range(0, n - length + 1, length):
                targets = [
                    Target(c + k, k / (length - 1), k, in_average=k < length - 1, center=k == center)
                    for k in range(length)
                ]
                tasks.append(Task(name, (c, c + length - 1), targets))
        else:
            raise VideoINRError(f"unknown protocol '{protocol}': expected one of {', '.join(PROTOCOLS)}")
    return tasks


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop an image (H, W, C) at the bottom/right to a multiple of ``scale`` on each side."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """Low-resolution input uint8 (H/s, W/s, 3) of a modcropped uint8 RGB frame: MATLAB bicubic ``degrade``."""
    return lr_uint8(hr, scale)
