"""Training data: source specs -> one mixture of window datasets (decoded once, cached in memory), the
`StepSampler` that makes each step's global batch a pure function of (seed, step), and `prepare_batch`,
which degrades a collated batch and turns it into model inputs and per-coordinate ground truth."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from videoinr.data.frames import is_vimeo_tree
from videoinr.errors import VideoINRError
from videoinr.models import make_grid
from videoinr.train.config import TrainConfig, scale_at

__all__ = ["Mixture", "StepSampler", "build_data", "prepare_batch"]


def _resolve_source(spec: dict) -> dict:
    """Check `kind` against what is on disk; the data module's Source mapping (kind/weight removed)."""
    path = Path(spec["path"])
    kind = spec.get("kind", "auto")
    if not path.exists():
        raise VideoINRError(f"{path}: no such file or folder")
    is_vimeo = is_vimeo_tree(path)
    ok = {"auto": True, "video": path.is_file(), "vimeo": is_vimeo, "folder": path.is_dir() and not is_vimeo}[kind]
    if not ok:
        raise VideoINRError(f"{path}: is not a {kind} source (a video is a file, a folder a directory of frames "
                            "or videos, vimeo a tree with sequences/)")
    return {k: v for k, v in spec.items() if k not in ("kind", "weight")}


class Mixture(torch.utils.data.Dataset):
    """Several WindowDatasets; an item key is (source index, virtual index). Items are the window dataset's
    dict plus `window` (the source's frames per window, a 0-d int tensor) unless it set one itself."""

    def __init__(self, datasets: list, windows: list[int]) -> None:
        self.datasets, self.windows = datasets, windows

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Tensor]:
        src, i = key
        item = self.datasets[src][i]
        item.setdefault("window", torch.tensor(self.windows[src]))  # the sample's own window length
        return item


class StepSampler(torch.utils.data.Sampler):
    """Yields, for each step from `start` to `stop`, this rank's slice of the step's global batch: a list
    of `batch_size // world` Mixture keys (source index, virtual index).

    The global batch of step s is a pure function of (seed, s): sources drawn with probability
    proportional to their weight (default: their number of windows), a window uniformly within the
    source, and a virtual index unique to (s, slot) so every draw gets fresh augmentation.
    """

    def __init__(self, lengths: list[int], weights: list[float], batch_size: int, seed: int, start: int,
                 stop: int, rank: int = 0, world: int = 1) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        w = np.asarray(weights, dtype=np.float64)
        self.p = w / w.sum()
        self.batch, self.seed, self.start, self.stop = batch_size, seed, start, stop
        self.rank, self.world = rank, world
        self.per_rank = batch_size // world

    def keys(self, step: int) -> list[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, step, 0])
        src = rng.choice(len(self.lengths), size=self.batch, p=self.p)
        within = rng.integers(0, self.lengths[src])
        slots = np.arange(self.batch, dtype=np.int64) + np.int64(step) * self.batch
        virtual = within + self.lengths[src] * slots
        lo = self.rank * self.per_rank
        return [(int(s), int(v)) for s, v in zip(src[lo : lo + self.per_rank], virtual[lo : lo + self.per_rank])]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.stop):
            yield self.keys(step)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)


def build_data(cfg: TrainConfig, progress: bool = True) -> tuple[Mixture, list[int], list[float]]:
    """Decode every source once (cached clips) -> mixture dataset, windows per source, sampling weights."""
    from videoinr.data.windows import WindowDataset

    datasets, weights, windows = [], [], []
    # flow-prior models: each window's flows come from its whole frames degraded at the stage-1 scale
    flow_scale = cfg.stage1_scale if cfg.model_config().flow_prior else None
    for i, spec in enumerate(cfg.sources):
        ds = WindowDataset([_resolve_source(spec)], crop=cfg.crop_size(), targets=cfg.targets,
                           seed=cfg.seed + 1000 * i, flip=cfg.flip, rotate=cfg.rotate, reverse=cfg.reverse,
                           progress=progress, flow_scale=flow_scale)
        if len(ds) == 0:
            raise VideoINRError(f"{spec['path']}: no training windows of {spec.get('window', 9)} frames")
        datasets.append(ds)
        windows.append(int(spec.get("window", 9)))
        w = spec.get("weight")
        weights.append(float(len(ds)) if w is None else float(w))
    return Mixture(datasets, windows), windows, weights


def prepare_batch(batch: dict[str, Tensor], cfg: TrainConfig, step: int, rank: int,
                  device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, float, Tensor | None]:
    """A collated batch -> model inputs and ground truth for one step.

    Returns lr0, lr1 (B, 3, p, p), coords (B, M, 2), t (B, M), gt (B, M, 3), the true scale and the prior's
    flows (B, 4, p, p) in LR pixels (flow-prior models; computed on the whole frames) or None, where M =
    K * (HR pixels per target, or points_per_target). Target choice (`target_frames: all`): K distinct
    frames of the N-frame window, uniformly (the released code), endpoints taken from the HR inputs.
    """
    from videoinr.data.windows import scale_batch

    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    sb = scale_batch(batch, scale_at(cfg, step), cfg.lr_patch)
    lr, hr_in, tgt, times = sb["lr"], sb["inputs"], sb["targets"], sb["times"]
    b, k = tgt.shape[:2]
    p = tgt.shape[-1]
    rng = np.random.default_rng([cfg.seed, step, 2, rank])
    if cfg.target_frames == "all":
        frames, ts = [], []
        for i, n in enumerate(batch["window"].tolist()):
            pick = rng.choice(n, size=k, replace=False)
            ends = [j for j in pick if j in (0, n - 1)]
            keep = np.sort(rng.choice(k, size=k - len(ends), replace=False))
            fi = [hr_in[i, 0 if j == 0 else 1] for j in ends] + [tgt[i, j] for j in keep]
            ti = [0.0 if j == 0 else 1.0 for j in ends] + times[i, keep].tolist()
            frames.append(torch.stack(fi))
            ts.append(ti)
        tgt = torch.stack(frames)
        times = torch.tensor(ts, dtype=torch.float32, device=device)
    pixels = tgt.permute(0, 1, 3, 4, 2).reshape(b, k, p * p, 3)
    grid = make_grid((p, p), device=device)
    n = p * p if cfg.points_per_target is None else min(cfg.points_per_target, p * p)
    if n == p * p:
        coords = grid.expand(b, k, -1, -1)
        gt = pixels
    else:
        idx = torch.from_numpy(np.stack([rng.choice(p * p, size=n, replace=False) for _ in range(b * k)]))
        idx = idx.view(b, k, n).to(device)
        coords = grid[idx]
        gt = torch.gather(pixels, 2, idx.unsqueeze(-1).expand(-1, -1, -1, 3))
    t = times.to(torch.float32).unsqueeze(-1).expand(b, k, n)
    return (lr[:, 0], lr[:, 1], coords.reshape(b, k * n, 2), t.reshape(b, k * n), gt.reshape(b, k * n, 3),
            float(sb["scale"]), sb.get("flows"))
