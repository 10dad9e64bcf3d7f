"""Training windows from real video: sources -> cached clips -> shots -> N-frame windows -> samples.

Sources (``Source``): a video file (anything FFmpeg decodes, via PyAV), a frame folder, a
``<root>/<video>/<frames>`` tree, a Vimeo-90K ``sequences`` tree, or any folder mixing those (searched
recursively). Each source has its own window length N (our sources run at 24-50 fps, not 240), an optional
one-off ``downscale`` applied at load time (MATLAB bicubic, e.g. 2 for the 720p H.264 clips, hiding codec
artifacts) and an optional ``max_frames`` per clip. Every clip is decoded once and cached in memory as a
uint8 (T, H, W, 3) array; videos and frame folders are split into shots by ``scenes.CutDetector`` while
decoding, and no window crosses a cut (Vimeo septuplets are single shots). The detector confirms a cut
2 frames late, so the last 2 frames of a video or frame folder are set apart as their own shot.

A sample is a window of N consecutive frames of one shot: the first and last frames are the inputs
(t = 0 and t = 1) and K distinct interior frames k in 1..N-2 (frames 2..8 of 9 in the paper) are the
targets at t = k/(N-1). Augmentation (one draw for the whole window): random square crop of ``crop``
pixels, horizontal flip, rotation by 0/90/180/270 degrees, temporal reversal (inputs swapped, t -> 1-t).

Scale design (the space scale is drawn per batch, the dataset does not know it): the dataset returns HR
crops of a fixed size ``crop`` >= round(lr_patch * max_scale). Per batch the trainer draws ``scale`` and
calls ``scale_batch(batch, scale, lr_patch)``, which keeps the top-left ``round(lr_patch * scale)`` pixels
of every crop (still a uniformly placed random crop, because the dataset's crop and flip/rotation are) and
makes the LR inputs with ``imresize.degrade``: round(round(p*s)/s) == p for every s >= 1, so the LR patch is
exactly ``lr_patch`` x ``lr_patch`` and the true scale of that pair is round(p*s)/p.

Randomness: a sample is a pure function of (seed, epoch, index) (``set_epoch``), independent of
DataLoader workers and of resuming.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from videoinr.data.augment import (crop_frames, draw_flip_rotate, flip_rotate, flip_rotate_flow, random_crop_box,
                                   temporal_reverse)
from videoinr.data.convert import lr_uint8, to_float
from videoinr.data.frames import IMAGE_EXTENSIONS, is_ignored_name, list_frames, natural_key, read_image
from videoinr.data.imresize import degrade, lr_size
from videoinr.data.scenes import CutDetector, split_shots
from videoinr.errors import VideoINRError, require_path
from videoinr.fileio import VIDEO_EXTENSIONS

__all__ = [
    "VIDEO_EXTENSIONS",
    "Source",
    "Clip",
    "load_clips",
    "WindowDataset",
    "hr_crop_size",
    "scale_batch",
]


@dataclass
class Source:
    """One training source. ``path``: video file or folder (see module doc). ``window``: frames per window N
    (>= 3). ``min_window``: when set, each sample draws its window length uniformly from [min_window, window]
    (input gaps of min_window - 1 to window - 1 source frames: the x2..x8 of real use); None: always window.
    ``downscale``: factor >= 1 applied once at load. ``max_frames``: keep only the first frames of each clip
    (None: all)."""

    path: Path
    window: int = 9
    downscale: float = 1.0
    max_frames: int | None = None
    min_window: int | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not isinstance(self.window, int) or self.window < 3:
            raise VideoINRError(f"{self.path}: window must be an integer >= 3, got {self.window!r}")
        if self.min_window is not None and (not isinstance(self.min_window, int)
                                            or not 3 <= self.min_window <= self.window):
            raise VideoINRError(f"{self.path}: min_window must be an integer in [3, window={self.window}], "
                                f"got {self.min_window!r}")
        if not (isinstance(self.downscale, (int, float)) and 1.0 <= float(self.downscale) <= 64.0):
            raise VideoINRError(f"{self.path}: downscale must be a number in [1, 64], got {self.downscale!r}")
        if self.max_frames is not None and (not isinstance(self.max_frames, int) or self.max_frames < 1):
            raise VideoINRError(f"{self.path}: max_frames must be a positive integer, got {self.max_frames!r}")

    @classmethod
    def parse(cls, spec: "Source | str | os.PathLike | dict") -> "Source":
        """A Source from a path or a config mapping {path, window, min_window, downscale, max_frames}."""
        if isinstance(spec, Source):
            return spec
        if isinstance(spec, (str, os.PathLike)):
            return cls(Path(spec))
        if isinstance(spec, dict):
            names = {f.name for f in dataclasses.fields(cls)}
            unknown = sorted(set(spec) - names)
            if unknown:
                raise VideoINRError(f"data source: unknown key '{unknown[0]}' (known: {', '.join(sorted(names))})")
            if "path" not in spec:
                raise VideoINRError(f"data source: missing key 'path' in {spec}")
            return cls(**spec)
        raise VideoINRError(f"data source: expected a path or a mapping, got {spec!r}")


@dataclass
class Clip:
    """A decoded clip: ``frames`` uint8 (T, H, W, 3) RGB, its ``shots`` (ranges of frame indices) and the
    window length of its source."""

    name: str
    frames: np.ndarray
    shots: list[range]
    window: int
    min_window: int | None = None


# ---------------------------------------------------------------- discovery and decoding


def _discover(path: Path) -> list[tuple[str, Path | list[Path], bool]]:
    """(kind, what, detect_cuts) items under ``path``: kind 'video' (file) or 'frames' (list of files)."""
    from videoinr.data.frames import is_vimeo_tree, vimeo_septuplets

    if path.is_file():
        return [("video", path, True)]
    if not path.is_dir():
        require_path(path)
        raise VideoINRError(f"{path}: not a file or folder")
    if is_vimeo_tree(path):
        return [("frames", paths, False) for _, paths in vimeo_septuplets(path)]
    entries = sorted((p for p in path.iterdir() if not is_ignored_name(p.name)), key=lambda p: natural_key(p.name))
    if any(p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS for p in entries):
        return [("frames", list_frames(path), True)]
    items: list[tuple[str, Path | list[Path], bool]] = []
    for p in entries:
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
            items.append(("video", p, True))
        elif p.is_dir():
            try:
                items.extend(_discover(p))
            except VideoINRError as e:
                if "no videos" not in str(e):
                    raise
    if not items:
        raise VideoINRError(f"{path}: no videos, frame folders or Vimeo septuplets found")
    return items


def _shrink(frame: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return frame
    return lr_uint8(frame, factor)  # quantized to 8 bits, like MATLAB on uint8


def _frame_stream(kind: str, what: Path | list[Path]) -> Iterator[tuple[np.ndarray, str]]:
    if kind == "video":
        from videoinr.data.video import iter_video

        for f in iter_video(what):
            yield f.image, f"{what} frame {f.index}"
    else:
        for p in what:  # type: ignore[union-attr]
            yield read_image(p), str(p)


def _load_one(kind: str, what: Path | list[Path], cuts: bool, source: Source, bar: tqdm) -> Clip:
    detector = CutDetector() if cuts else None
    frames: list[np.ndarray] = []
    first: tuple[int, int] | None = None
    first_name = ""
    extra = 0  # frames decoded past max_frames, only so the detector confirms cuts near the end
    for image, name in _frame_stream(kind, what):
        if first is None:
            first, first_name = image.shape[:2], name
        elif image.shape[:2] != first:
            raise VideoINRError(
                f"{name}: frame size {image.shape[1]}x{image.shape[0]} differs from "
                f"{first[1]}x{first[0]} of {first_name}"
            )
        if detector is not None:
            detector.push(image)
        if source.max_frames is not None and len(frames) >= source.max_frames:
            extra += 1
            if detector is None or extra >= detector.lookahead:
                break
            continue
        frames.append(_shrink(image, float(source.downscale)))
        bar.update(1)
    if not frames:
        raise VideoINRError(f"{what}: no frames")
    n = len(frames)
    found: list[int] = []
    if detector is not None:
        found = list(detector.cuts)
        if extra < detector.lookahead:
            # The detector cannot confirm a cut in the last `lookahead` frames: keep them out of windows.
            found.append(n - detector.lookahead)
    shots = split_shots(n, found)
    clip_path = what if kind == "video" else Path(what[0]).parent  # type: ignore[index]
    try:
        name = str(Path(clip_path).relative_to(source.path.parent))
    except ValueError:
        name = str(clip_path)
    return Clip(name=name, frames=np.stack(frames), shots=shots, window=source.window,
                min_window=source.min_window)


def load_clips(source: Source | str | os.PathLike | dict, progress: bool = True) -> list[Clip]:
    """Decode every clip of one source (cached arrays, shots found while decoding)."""
    source = Source.parse(source)
    items = _discover(source.path)
    with tqdm(desc=f"loading {source.path.name}", unit="frame", disable=not progress, leave=False) as bar:
        return [_load_one(kind, what, cuts, source, bar) for kind, what, cuts in items]


# ---------------------------------------------------------------- dataset


class WindowDataset(torch.utils.data.Dataset):
    """Training samples from windows of N consecutive frames that never cross a scene cut.

    ``sources``: Sources, paths or config mappings. ``crop``: HR crop size in pixels (square; see module
    doc for choosing it from the LR patch and the largest scale). ``targets``: K interior target frames
    per window. Item: dict ``inputs`` float (2, 3, crop, crop) in [0, 1] (first, last frame),
    ``targets`` float (K, 3, crop, crop), ``times`` float (K,) in (0, 1), ascending.
    """

    def __init__(
        self,
        sources: Sequence[Source | str | os.PathLike | dict],
        crop: int,
        targets: int = 3,
        seed: int = 0,
        flip: bool = True,
        rotate: bool = True,
        reverse: bool = True,
        progress: bool = True,
        flow_scale: float | None = None,
    ):
        if not sources:
            raise VideoINRError("data: no training sources given")
        if not isinstance(crop, int) or crop < 1:
            raise VideoINRError(f"crop must be a positive integer, got {crop!r}")
        if not isinstance(targets, int) or targets < 1:
            raise VideoINRError(f"targets must be a positive integer, got {targets!r}")
        self.sources = [Source.parse(s) for s in sources]
        self.crop, self.targets, self.seed = crop, targets, int(seed)
        self.flip, self.rotate, self.reverse = flip, rotate, reverse
        self.flow_scale = flow_scale
        self.epoch = 0
        self.clips: list[Clip] = []
        index: list[tuple[int, int]] = []
        for src in self.sources:
            if src.min_window is None and src.window - 2 < targets:
                raise VideoINRError(
                    f"{src.path}: window {src.window} has {src.window - 2} interior frames, fewer than "
                    f"targets={targets}"
                )
            clips = load_clips(src, progress=progress)
            longest = max(len(s) for c in clips for s in c.shots)
            if longest < src.window:
                raise VideoINRError(
                    f"{src.path}: window of {src.window} frames is longer than every shot (longest {longest})"
                )
            for clip in clips:
                h, w = clip.frames.shape[1:3]
                if crop > min(h, w):
                    raise VideoINRError(f"{clip.name}: crop {crop} larger than its frames ({w}x{h})")
                cid = len(self.clips)
                self.clips.append(clip)
                for shot in clip.shots:
                    index.extend((cid, s) for s in range(shot.start, shot.stop - src.window + 1))
        self.index = np.asarray(index, dtype=np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draws (sample i of epoch e is a pure function of (seed, e, i))."""
        self.epoch = int(epoch)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        cid, start = (int(v) for v in self.index[i % len(self.index)])
        clip = self.clips[cid]
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        n = clip.window
        if clip.min_window is not None and clip.min_window < n:
            n = int(rng.integers(clip.min_window, n + 1))
        # K interior targets: distinct when the window has enough, else drawn with repetition
        ks = np.sort(rng.choice(np.arange(1, n - 1), size=self.targets, replace=n - 2 < self.targets))
        h, w = clip.frames.shape[1:3]
        y, x = random_crop_box(h, w, self.crop, rng)
        pick = np.concatenate([[start, start + n - 1], start + ks])
        patch = crop_frames(clip.frames[pick], y, x, self.crop)  # (2 + K, c, c, 3) uint8
        t = to_float(patch)
        hflip, rot = draw_flip_rotate(rng, flip=self.flip, rotate=self.rotate)
        t = flip_rotate(t, hflip, rot).contiguous()
        inputs, tgt = t[:2], t[2:]
        flows = None
        if self.flow_scale is not None:
            flows = self._flows(clip.frames[start], clip.frames[start + n - 1], y, x)
            flows = flip_rotate_flow(flows, hflip, rot).contiguous()
        times = torch.from_numpy(ks / (n - 1)).float()
        if self.reverse and rng.integers(0, 2):
            inputs, times = temporal_reverse(inputs, times)
            flows = None if flows is None else flows[[2, 3, 0, 1]]  # [F_01 | F_10] swap roles
            order = torch.argsort(times)
            tgt, times = tgt[order], times[order]
        item = {"inputs": inputs.contiguous(), "targets": tgt.contiguous(), "times": times,
                "window": torch.tensor(n)}
        if flows is not None:
            item["flows"] = flows
        return item

    def _flows(self, frame0: np.ndarray, frame1: np.ndarray, y: int, x: int) -> Tensor:
        """The model's flow prior for one window, as an HR field over the crop at (y, x): DIS flows [F_01 |
        F_10] computed on the WHOLE frames degraded by `flow_scale` (what the model sees at that scale,
        with the context that large motion needs), bilinearly upsampled to the frame's pixels and scaled
        to HR pixels, then cropped: (4, crop, crop) float32. `scale_batch` brings it to the LR patch."""
        from videoinr.models.prior import pair_flows

        h, w = frame0.shape[:2]
        hr = to_float(np.stack([frame0, frame1]))
        lr = degrade(hr, self.flow_scale)
        flows = pair_flows(lr[:1], lr[1:])  # (1, 4, lh, lw) in LR pixels
        lh, lw = flows.shape[-2:]
        flows = F.interpolate(flows, size=(h, w), mode="bilinear", align_corners=False)[0]
        flows = flows[:, y : y + self.crop, x : x + self.crop]
        gain = torch.tensor([w / lw, h / lh, w / lw, h / lh]).view(4, 1, 1)
        return flows * gain


# ---------------------------------------------------------------- per-batch scale


def hr_crop_size(lr_patch: int, scale: float) -> int:
    """HR crop side whose degradation by ``scale`` is exactly ``lr_patch``: round(lr_patch * scale)."""
    return max(lr_patch, round(lr_patch * scale))


def scale_batch(batch: dict[str, Tensor], scale: float, lr_patch: int) -> dict[str, Tensor]:
    """Per-batch degradation at space ``scale`` >= 1 of a collated ``WindowDataset`` batch.

    Keeps the top-left ``hr_crop_size(lr_patch, scale)`` pixels of every crop and returns ``lr`` float
    (B, 2, 3, lr_patch, lr_patch) (MATLAB-bicubic, 8-bit quantized), ``inputs`` (B, 2, 3, P, P) and
    ``targets`` (B, K, 3, P, P) HR crops, ``times`` (B, K), and ``scale`` = P / lr_patch (the exact ratio).
    """
    p = hr_crop_size(lr_patch, scale)
    crop = batch["inputs"].shape[-1]
    if p > crop:
        raise ValueError(f"scale_batch: HR crop {p} for scale {scale} exceeds the dataset crop {crop}")
    inputs = batch["inputs"][..., :p, :p]
    lr = degrade(inputs, p / lr_patch)
    assert lr.shape[-2:] == (lr_patch, lr_patch) == lr_size((p, p), p / lr_patch)
    out = {
        "lr": lr,
        "inputs": inputs,
        "targets": batch["targets"][..., :p, :p],
        "times": batch["times"],
        "scale": torch.tensor(p / lr_patch),
    }
    if "flows" in batch:  # HR-pixel flow fields over the crop -> the LR patch's grid, in LR pixels
        hr_flows = batch["flows"][..., :p, :p]
        out["flows"] = F.adaptive_avg_pool2d(hr_flows, (lr_patch, lr_patch)) * (lr_patch / p)
    return out
