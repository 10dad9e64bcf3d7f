"""Training: the paper's recipe (Sec. 4.1, App. A) on real video; resumable; DDP under torchrun.

    videoinr train --config configs/lite.yaml --out runs/lite [--steps N] [--resume] [key=value ...]
    python -m videoinr.train ...          torchrun --nproc_per_node=N -m videoinr.train ...

A step: the sampler picks the global batch of windows for that step (a pure function of (seed, step), so a
resumed run sees exactly the batches an uninterrupted one would, and DDP rank r takes its slice of it);
the space scale is 4 in stage 1 and U(scale_min, scale_max) per batch in stage 2; `scale_batch` degrades
the two input frames (MATLAB bicubic) to `lr_patch` x `lr_patch`; the model encodes them once and is
queried at the HR pixel centres of the K target frames (all pixels, or `points_per_target` random ones:
the same per-coordinate formulation); Charbonnier loss (mean), Adam, cosine annealing with restarts.

Outputs under --out: `metrics.csv` (step,loss,lr,sec_per_step,val_psnr,val_psnr_interior), TensorBoard
events in `tb/`, validation PNGs in `val/`, `config.yaml`, `checkpoint.pt` (atomic; model, optimizer,
scheduler, RNG states, step; loadable with `torch.load(weights_only=True)`), `final.safetensors`.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import math
import os
import platform
import random
import sys
import time
import typing
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn
from tqdm import tqdm

from videoinr.errors import ArgumentParser, VideoINRError
from videoinr.models import CONFIGS, ModelConfig, VideoINR, make_grid, save_weights
from videoinr.models.registry import grow_weights

__all__ = ["TrainConfig", "load_config", "parse_overrides", "charbonnier", "lr_at", "scale_at",
           "train", "main"]

SOURCE_KEYS = ("path", "kind", "window", "min_window", "weight", "downscale", "max_frames")
SOURCE_KINDS = ("auto", "folder", "vimeo", "video")
PRECISIONS = ("fp32", "bf16", "fp16")
METRIC_COLUMNS = ("step", "loss", "lr", "sec_per_step", "val_psnr", "val_psnr_interior", "val_psnr_center")


# ======================================================================================== config


@dataclass
class TrainConfig:
    """Every knob of a training run. YAML files set any field; `key=value` overrides one (typed by the
    field; `model_overrides.nf=8` sets one key of a dict field). Paths are relative to the current dir."""

    # model
    model: str = "lite"  # a ModelConfig name (CONFIGS)
    model_overrides: dict = field(default_factory=dict)  # any ModelConfig field, e.g. {nf: 8}
    init: str | None = None  # optional .safetensors to start from (its config wins over model/overrides)
    # data: list of {path, kind: auto|folder|vimeo|video, window: N, weight, downscale, max_frames}
    sources: list = field(default_factory=list)
    lr_patch: int = 32  # LR input patch side (pixels)
    batch_size: int = 8  # global batch (split evenly across DDP ranks)
    targets: int = 3  # K target frames per window
    target_frames: str = "all"  # all: K of the N window frames (released code); interior: inputs excluded
    flip: bool = True
    rotate: bool = True
    reverse: bool = True
    # schedule
    steps: int = 10000
    stage1_steps: int = 7500  # fixed scale `stage1_scale`, then U(scale_min, scale_max) per batch
    stage1_scale: float = 4.0
    scale_min: float = 1.0
    scale_max: float = 4.0
    # optimisation
    lr: float = 1e-4
    cosine_period: int = 150000  # cosine annealing with warm restarts every `cosine_period` steps
    eta_min: float = 1e-7
    betas: tuple[float, float] = (0.9, 0.999)
    charbonnier_eps: float = 1e-3
    grad_clip: float | None = None  # max global grad norm (None: off)
    precision: str = "fp32"  # fp32 | bf16 (autocast, CPU or CUDA) | fp16 (CUDA autocast + GradScaler)
    points_per_target: int | None = None  # None: whole HR patch; else random HR pixel centres per target
    # validation on a held-out clip
    val_source: str | None = None  # video file or frame folder (never one of `sources`)
    val_window: int = 7  # frames per validation window: inputs are its first and last
    val_windows: int = 2  # windows spread over the clip
    val_scale: float = 4.0
    val_crop: int = 192  # HR centre crop side (pixels)
    val_every: int = 1000  # steps (0: never, except at the end)
    # bookkeeping
    time_limit: float | None = None  # minutes of training (this invocation) before a clean stop (resume later)
    ckpt_every: int = 1000
    log_every: int = 10
    num_workers: int = 0  # DataLoader worker processes per rank
    threads: int | None = None  # torch CPU threads per rank (None: cores / local ranks)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    debug_replica_hash: bool = False  # each rank writes replica_<rank>.txt (parameter hash) at the end

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    def model_config(self) -> ModelConfig:
        """The network's config: the `init` weights' own config (else the named `model`), then `model_overrides`
        (on an `init` model: keys that add no tensors, e.g. `flow_prior`, or more residual blocks, which start
        as identities: `grow_weights`)."""
        if self.init is not None:
            from videoinr.models import read_metadata

            base = dict(read_metadata(self.init)["config"])
        elif self.model not in CONFIGS:
            raise VideoINRError(f"config key 'model': unknown model '{self.model}' (use {', '.join(CONFIGS)})")
        else:
            base = CONFIGS[self.model].to_dict()
        base.update(self.model_overrides)
        return ModelConfig.from_dict(base)

    def crop_size(self) -> int:
        """HR crop the dataset returns: large enough for the largest scale of either stage."""
        from videoinr.data.windows import hr_crop_size

        return hr_crop_size(self.lr_patch, max(self.scale_max, self.stage1_scale))


def _fields() -> dict[str, type]:
    return typing.get_type_hints(TrainConfig)


def _coerce(key: str, value, hint) -> object:
    """`value` checked/converted to the field type `hint`; VideoINRError naming `key` otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "~")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0])
    bad = VideoINRError(f"config key '{key}': expected {getattr(hint, '__name__', hint)}, got {value!r}")
    if hint in (int, float) and isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            raise bad from None
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
            raise bad
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if hint is str:
        if isinstance(value, (dict, list)) or value is None:
            raise bad
        return str(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise VideoINRError(f"config key '{key}': expected a list of {len(args)} numbers, got {value!r}")
        return tuple(_coerce(key, v, a) for v, a in zip(value, args))
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise VideoINRError(f"config key '{key}': expected a mapping, got {value!r}")
        return dict(value)
    if hint is list or origin is list:
        if not isinstance(value, list):
            raise VideoINRError(f"config key '{key}': expected a list, got {value!r}")
        return list(value)
    raise bad


def parse_overrides(items: Sequence[str]) -> dict:
    """`key=value` strings -> {key: YAML-parsed value}; `a.b=v` -> {a: {b: v}} (merged)."""
    out: dict = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise VideoINRError(f"override {item!r}: expected key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as e:
            raise VideoINRError(f"override {key}: cannot parse {text!r}: {str(e).splitlines()[0]}") from None
        head, _, sub = key.partition(".")
        if sub:
            out.setdefault(head, {})
            if not isinstance(out[head], dict):
                raise VideoINRError(f"override {key}: '{head}' set both as a value and as a mapping")
            out[head][sub] = value
        else:
            out[key] = value
    return out


def load_config(path: str | os.PathLike | None = None, overrides: dict | Sequence[str] | None = None,
                **extra) -> TrainConfig:
    """A checked TrainConfig from a YAML file (optional), then overrides (dict or key=value strings),
    then keyword arguments (e.g. steps=...)."""
    data: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise VideoINRError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text())
        except yaml.YAMLError as e:
            raise VideoINRError(f"{p}: invalid YAML: {str(e).splitlines()[0]}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise VideoINRError(f"{p}: expected a mapping of config keys at the top level")
        data.update(loaded or {})
    if overrides:
        ov = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
        for k, v in ov.items():
            if isinstance(v, dict) and isinstance(data.get(k), dict):
                data[k] = {**data[k], **v}
            else:
                data[k] = v
    data.update({k: v for k, v in extra.items() if v is not None})
    hints = _fields()
    where = f" (in {path})" if path is not None else ""
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise VideoINRError(f"config: unknown key '{unknown[0]}'{where}; known keys: {', '.join(hints)}")
    cfg = TrainConfig(**{k: _coerce(k, v, hints[k]) for k, v in data.items()})
    validate(cfg)
    return cfg


def _check(ok: bool, key: str, msg: str) -> None:
    if not ok:
        raise VideoINRError(f"config key '{key}': {msg}")


def validate(cfg: TrainConfig) -> None:
    """Raise VideoINRError naming the first impossible value."""
    if cfg.init is None:
        cfg.model_config()  # unknown model name / override keys / bad values
    _check(cfg.lr_patch >= 4, "lr_patch", f"must be >= 4, got {cfg.lr_patch}")
    _check(cfg.batch_size >= 1, "batch_size", f"must be >= 1, got {cfg.batch_size}")
    _check(cfg.targets >= 1, "targets", f"must be >= 1, got {cfg.targets}")
    _check(cfg.target_frames in ("all", "interior"), "target_frames", f"must be all or interior, got {cfg.target_frames!r}")
    _check(cfg.steps >= 1, "steps", f"must be >= 1, got {cfg.steps}")
    _check(0 <= cfg.stage1_steps, "stage1_steps", f"must be >= 0, got {cfg.stage1_steps}")
    _check(cfg.stage1_scale >= 1, "stage1_scale", f"must be >= 1, got {cfg.stage1_scale}")
    _check(cfg.scale_min >= 1, "scale_min", f"must be >= 1, got {cfg.scale_min}")
    _check(cfg.scale_max >= cfg.scale_min, "scale_max", f"must be >= scale_min ({cfg.scale_min}), got {cfg.scale_max}")
    _check(cfg.lr > 0 and math.isfinite(cfg.lr), "lr", f"must be a positive number, got {cfg.lr}")
    _check(0 <= cfg.eta_min <= cfg.lr, "eta_min", f"must be in [0, lr], got {cfg.eta_min}")
    _check(cfg.cosine_period >= 1, "cosine_period", f"must be >= 1, got {cfg.cosine_period}")
    _check(all(0 <= b < 1 for b in cfg.betas), "betas", f"must be two numbers in [0, 1), got {list(cfg.betas)}")
    _check(cfg.charbonnier_eps > 0, "charbonnier_eps", f"must be > 0, got {cfg.charbonnier_eps}")
    _check(cfg.grad_clip is None or cfg.grad_clip > 0, "grad_clip", f"must be > 0 or null, got {cfg.grad_clip}")
    _check(cfg.precision in PRECISIONS, "precision", f"must be one of {', '.join(PRECISIONS)}, got {cfg.precision!r}")
    _check(cfg.points_per_target is None or cfg.points_per_target >= 1, "points_per_target",
           f"must be >= 1 or null (whole patch), got {cfg.points_per_target}")
    _check(cfg.val_window >= 2, "val_window", f"must be >= 2, got {cfg.val_window}")
    _check(cfg.val_windows >= 1, "val_windows", f"must be >= 1, got {cfg.val_windows}")
    _check(cfg.val_scale >= 1, "val_scale", f"must be >= 1, got {cfg.val_scale}")
    _check(cfg.val_crop >= cfg.val_scale * 4, "val_crop", f"must be >= 4 * val_scale, got {cfg.val_crop}")
    _check(cfg.val_every >= 0, "val_every", f"must be >= 0, got {cfg.val_every}")
    _check(cfg.time_limit is None or cfg.time_limit > 0, "time_limit", f"must be > 0 minutes or null, got {cfg.time_limit}")
    _check(cfg.ckpt_every >= 1, "ckpt_every", f"must be >= 1, got {cfg.ckpt_every}")
    _check(cfg.log_every >= 1, "log_every", f"must be >= 1, got {cfg.log_every}")
    _check(cfg.num_workers >= 0, "num_workers", f"must be >= 0, got {cfg.num_workers}")
    _check(cfg.threads is None or cfg.threads >= 1, "threads", f"must be >= 1 or null, got {cfg.threads}")
    dev = cfg.device
    _check(dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit()), "device",
           f"must be auto, cpu, cuda or cuda:N, got {dev!r}")
    _check(bool(cfg.sources), "sources", "no training sources given")
    for i, s in enumerate(cfg.sources):
        key = f"sources[{i}]"
        if isinstance(s, str):
            s = cfg.sources[i] = {"path": s}
        _check(isinstance(s, dict), key, f"expected a mapping {{path, window, ...}}, got {s!r}")
        unknown = sorted(set(s) - set(SOURCE_KEYS))
        _check(not unknown, key, f"unknown key '{unknown[0] if unknown else ''}' (known: {', '.join(SOURCE_KEYS)})")
        _check("path" in s, key, "missing 'path'")
        _check(s.get("kind", "auto") in SOURCE_KINDS, key, f"kind must be one of {', '.join(SOURCE_KINDS)}, got {s.get('kind')!r}")
        w = s.get("weight")
        _check(w is None or (isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0), key,
               f"weight must be a positive number, got {w!r}")
        win = s.get("window", 9)
        _check(isinstance(win, int) and not isinstance(win, bool) and win >= 3, key, f"window must be an integer >= 3, got {win!r}")
        inner = win - (2 if cfg.target_frames == "interior" else 0)
        _check(win - 2 >= cfg.targets and inner >= cfg.targets, key,
               f"window {win} has {win - 2} interior frames, fewer than targets={cfg.targets}")
        mw = s.get("min_window")
        _check(mw is None or (isinstance(mw, int) and not isinstance(mw, bool) and 3 <= mw <= win), key,
               f"min_window must be an integer in [3, window={win}], got {mw!r}")
        _check(mw is None or cfg.target_frames == "interior" or mw >= cfg.targets, key,
               f"min_window {mw} has fewer frames than targets={cfg.targets}")


# ======================================================================================== schedule


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate used at 0-based `step` (cosine annealing, warm restarts every cosine_period)."""
    tc = step % cfg.cosine_period
    return cfg.eta_min + (cfg.lr - cfg.eta_min) * (1 + math.cos(math.pi * tc / cfg.cosine_period)) / 2


def scale_at(cfg: TrainConfig, step: int) -> float:
    """Space scale of the batch of 0-based `step` (same on every rank)."""
    if step < cfg.stage1_steps:
        return cfg.stage1_scale
    rng = np.random.default_rng([cfg.seed, step, 1])
    return float(rng.uniform(cfg.scale_min, cfg.scale_max))


def charbonnier(pred: Tensor, gt: Tensor, eps: float = 1e-3) -> Tensor:
    """Mean Charbonnier loss sqrt((pred - gt)^2 + eps^2), computed in float32."""
    d = pred.float() - gt.float()
    return torch.sqrt(d * d + eps * eps).mean()


# ======================================================================================== data


def _resolve_source(spec: dict) -> dict:
    """Check `kind` against what is on disk; the data module's Source mapping (kind/weight removed)."""
    path = Path(spec["path"])
    kind = spec.get("kind", "auto")
    if not path.exists():
        raise VideoINRError(f"{path}: no such file or folder")
    is_vimeo = path.is_dir() and ((path / "sequences").is_dir() or path.name == "sequences")
    ok = {"auto": True, "video": path.is_file(), "vimeo": is_vimeo, "folder": path.is_dir() and not is_vimeo}[kind]
    if not ok:
        raise VideoINRError(f"{path}: is not a {kind} source (a video is a file, a folder a directory of frames "
                            "or videos, vimeo a tree with sequences/)")
    return {k: v for k, v in spec.items() if k not in ("kind", "weight")}


class _Mixture(torch.utils.data.Dataset):
    """Several WindowDatasets; an item key is (source index, virtual index)."""

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
    """Yields, for each step from `start` to `stop`, this rank's slice of the step's global batch.

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


def build_data(cfg: TrainConfig, progress: bool = True) -> tuple[_Mixture, list[int], list[float]]:
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
    return _Mixture(datasets, windows), windows, weights


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


# ======================================================================================== validation


class Validator:
    """A held-out clip: `windows` N-frame windows, centre crop, degraded by `scale`; PSNR (Y, 8-bit) of
    all N frames (the inputs' times too), of the interior (interpolated) frames and of the centre frame
    k = (N - 1) // 2 (the `clips` protocol's -Center); a PNG of the middle frame. Flow-prior models get
    their flows from the whole LR frames (as `upscale` and `eval` do), cropped to the window."""

    def __init__(self, cfg: TrainConfig, progress: bool = False) -> None:
        from videoinr.data.windows import load_clips

        self.cfg = cfg
        path = Path(cfg.val_source)
        clips = load_clips({"path": path, "window": max(3, cfg.val_window)}, progress=progress)
        clip = clips[0]
        shot = max(clip.shots, key=len)
        n = cfg.val_window
        if len(shot) < n:
            raise VideoINRError(f"{path}: validation window of {n} frames is longer than its longest shot ({len(shot)})")
        h, w = clip.frames.shape[1:3]
        s = cfg.val_scale
        c = min(cfg.val_crop, h, w)
        c = max(int(c // s * s) if float(s).is_integer() else c, 4)
        y0, x0 = (h - c) // 2, (w - c) // 2
        last = shot.stop - n
        starts = sorted({int(round(v)) for v in np.linspace(shot.start, last, cfg.val_windows)})
        if float(s).is_integer():  # crop on the LR grid, so flows of the whole LR frames can be cropped to it
            y0, x0 = y0 // int(s) * int(s), x0 // int(s) * int(s)
        self.windows = [clip.frames[a : a + n, y0 : y0 + c, x0 : x0 + c] for a in starts]
        self.inputs = [clip.frames[[a, a + n - 1]] for a in starts]  # whole input frames, for flow priors
        self.box = (y0, x0)
        self._flow_cache: dict[int, Tensor | None] = {}  # the prior's flows per window: they never change
        self.size = (c, c)
        self.name = clip.name

    @torch.no_grad()
    def __call__(self, model: VideoINR, device: torch.device, png: Path | None = None) -> dict[str, float]:
        from videoinr.data.imresize import degrade, imresize
        from videoinr.metrics import psnr

        was_training = model.training
        model.eval()
        n = self.cfg.val_window
        times = [k / (n - 1) for k in range(n)]
        all_p, inner_p, center_p = [], [], []
        panel = None
        for wi, frames in enumerate(self.windows):
            hr = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div(255).to(device)
            lr = degrade(hr[[0, n - 1]], self.cfg.val_scale)
            pred = model.encode(lr[:1], lr[1:], self._flows(wi, lr.shape[-2:], model, device)).render(self.size, times)[0]
            pred8 = pred.mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
            for k in range(n):
                v = psnr(pred8[k], frames[k])
                all_p.append(v)
                if 0 < k < n - 1:
                    inner_p.append(v)
                if k == (n - 1) // 2 and n > 2:
                    center_p.append(v)
            if wi == 0 and png is not None:
                mid = n // 2
                near = lr[:1] if mid <= (n - 1) / 2 else lr[1:]
                bic = imresize(near, size=self.size).clamp(0, 1)[0].mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
                panel = np.concatenate([bic, pred8[mid], frames[mid]], axis=1)
        if was_training:
            model.train()
        if panel is not None:
            _write_png(png, panel)
        out = {"val_psnr": float(np.mean(all_p))}
        if inner_p:
            out["val_psnr_interior"] = float(np.mean(inner_p))
            out["val_psnr_center"] = float(np.mean(center_p))
        return out

    def _flows(self, wi: int, lr_hw: tuple[int, int], model: VideoINR, device: torch.device) -> Tensor | None:
        """Window wi's prior flows (1, 4, h, w) cropped from the flows of the whole LR input frames; None for
        models without a prior, or a non-integer scale (the model then computes them on the crop)."""
        from videoinr.data.imresize import degrade
        from videoinr.models.prior import pair_flows

        s = self.cfg.val_scale
        if not model.cfg.flow_prior or not float(s).is_integer():
            return None
        if wi not in self._flow_cache:
            whole = torch.from_numpy(np.ascontiguousarray(self.inputs[wi])).permute(0, 3, 1, 2).float().div(255)
            lr = degrade(whole, s)
            y, x = self.box[0] // int(s), self.box[1] // int(s)
            flows = pair_flows(lr[:1], lr[1:])[..., y : y + lr_hw[0], x : x + lr_hw[1]]
            self._flow_cache[wi] = flows if flows.shape[-2:] == tuple(lr_hw) else None
        flows = self._flow_cache[wi]
        return None if flows is None else flows.to(device)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if ok:
        _atomic_write(path, buf.tobytes())


# ======================================================================================== I/O helpers


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _rng_state() -> dict[str, Tensor]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    out = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": torch.tensor([np_state[2], np_state[3]], dtype=torch.int64),
        "numpy_gauss": torch.tensor([np_state[4]], dtype=torch.float64),
        "python": torch.tensor(list(py_state[1]), dtype=torch.int64),
        "python_version": torch.tensor([py_state[0]], dtype=torch.int64),
    }
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state()
    return out


def _set_rng_state(s: dict[str, Tensor]) -> None:
    torch.set_rng_state(s["torch"])
    pos, has_gauss = (int(v) for v in s["numpy_pos"])
    np.random.set_state(("MT19937", s["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss,
                         float(s["numpy_gauss"][0])))
    random.setstate((int(s["python_version"][0]), tuple(int(v) for v in s["python"]), None))
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state(s["cuda"])


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save `state` atomically (temp file in the same folder + os.replace)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    _atomic_write(path, buf.getvalue())


def load_checkpoint(path: Path, device: torch.device) -> dict:
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a user error here
        raise VideoINRError(f"cannot read checkpoint {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


class MetricsLog:
    """`metrics.csv` (rank 0): one row per log step; validation columns filled at validation steps."""

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        rows: list[list[str]] = []
        if resume_step > 0 and path.is_file():
            rows = self._read_rows(path, resume_step)
        text = io.StringIO()
        w = csv.writer(text)
        w.writerow(METRIC_COLUMNS)
        w.writerows(rows)
        _atomic_write(path, text.getvalue().encode())

    @staticmethod
    def _read_rows(path: Path, resume_step: int) -> list[list[str]]:
        """The rows of an earlier run's metrics.csv up to `resume_step`. Garbled rows (a step that is not an
        integer, a value that is not a number, too many columns, undecodable bytes) are dropped with one
        warning line on stderr: the log is informational and must never stop a resume."""
        text = path.read_bytes().decode("utf-8", errors="replace")
        rows: list[list[str]] = []
        bad: list[int] = []
        for lineno, line in enumerate(text.splitlines()[1:], start=2):  # line 1: the header
            if not line.strip():
                continue
            try:
                row = next(csv.reader([line]), [])
            except csv.Error:
                row = None
            if row is None or not MetricsLog._valid_row(row):
                bad.append(lineno)
            elif int(row[0]) <= resume_step:
                rows.append(row)
        if bad:
            print(f"warning: {path}: skipped {len(bad)} garbled row(s) (line {', '.join(map(str, bad[:5]))}"
                  f"{', ...' if len(bad) > 5 else ''})", file=sys.stderr)
        return rows

    @staticmethod
    def _valid_row(row: list[str]) -> bool:
        if not row or len(row) > len(METRIC_COLUMNS) or not row[0].strip().isascii() or not row[0].strip().isdigit():
            return False
        for v in row[1:]:
            if v.strip():
                try:
                    float(v)
                except ValueError:
                    return False
        return True

    def write(self, values: dict[str, float]) -> None:
        row = []
        for c in METRIC_COLUMNS:
            v = values.get(c)
            row.append("" if v is None else (str(int(v)) if c == "step" else f"{v:.9g}"))
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow(row)


# ======================================================================================== distributed


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def _init_distributed(device_kind: str) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    d = Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")),
             int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return d


class QueryModule(nn.Module):
    """One forward for DDP: encode the pair and query it. forward(lr0, lr1, coords, t, flows) -> (B, N, 3)."""

    def __init__(self, model: VideoINR) -> None:
        super().__init__()
        self.model = model

    def forward(self, lr0: Tensor, lr1: Tensor, coords: Tensor, t: Tensor, flows: Tensor | None = None) -> Tensor:
        return self.model.encode(lr0, lr1, flows).query(coords, t)


def _param_hash(model: nn.Module) -> str:
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} CPUs, {torch.get_num_threads()} threads)"


# ======================================================================================== loop


def _pick_device(cfg: TrainConfig, d: Dist) -> torch.device:
    dev = cfg.device
    if dev == "auto":
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            raise VideoINRError(f"config key 'device': {dev} requested but CUDA is not available")
        return torch.device(f"cuda:{d.local_rank}" if dev == "cuda" else dev)
    return torch.device("cpu")


def _autocast(cfg: TrainConfig, device: torch.device):
    if cfg.precision == "fp32":
        return nullcontext()
    if cfg.precision == "fp16" and device.type != "cuda":
        raise VideoINRError("config key 'precision': fp16 needs CUDA (use bf16 on CPU)")
    dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def _build_model(cfg: TrainConfig) -> VideoINR:
    if cfg.init is None:
        return VideoINR(cfg.model_config())
    try:
        return grow_weights(cfg.init, cfg.model_config())
    except VideoINRError as e:
        raise VideoINRError(f"config key 'init': {e}") from None


def train(cfg: TrainConfig, out: str | os.PathLike, resume: bool = False, progress: bool = True) -> dict:
    """Run (or resume) training; returns the final summary (also stored in final.safetensors)."""
    out = Path(out)
    device_kind = "cuda" if (cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())) else "cpu"
    d = _init_distributed(device_kind)
    try:
        return _train(cfg, out, resume, progress, d)
    finally:
        if d.active:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def _train(cfg: TrainConfig, out: Path, resume: bool, progress: bool, d: Dist) -> dict:
    device = _pick_device(cfg, d)
    if cfg.batch_size % d.world:
        raise VideoINRError(f"config key 'batch_size': {cfg.batch_size} is not divisible by {d.world} processes")
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // d.local_world))
    else:
        torch.backends.cudnn.benchmark = True  # the encoder's input shape is fixed (lr_patch): tune once
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
    ckpt_path = out / "checkpoint.pt"
    if ckpt_path.exists() and not resume:
        raise VideoINRError(f"{out} already holds a checkpoint: pass --resume to continue it, or another --out")
    if cfg.val_source is not None:
        vs = Path(cfg.val_source).resolve()
        for s in cfg.sources:
            sp = Path(s["path"]).resolve()
            if vs == sp or sp in vs.parents or vs in sp.parents:
                raise VideoINRError(f"config key 'val_source': {cfg.val_source} overlaps training source {s['path']}")
    show = progress and d.main

    # data (decoded once, cached in memory) and the validation clip
    dataset, _, weights = build_data(cfg, progress=show)
    validator = Validator(cfg) if cfg.val_source is not None else None

    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    random.seed(cfg.seed)
    model = _build_model(cfg).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=cfg.cosine_period, eta_min=cfg.eta_min)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16" and device.type == "cuda")
    start, elapsed, last_val = 0, 0.0, {}
    if resume and ckpt_path.exists():
        ck = load_checkpoint(ckpt_path, device)
        try:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            if sched.T_0 != cfg.cosine_period:  # a resumed run may be given a new cycle length
                sched.T_0 = sched.T_i = cfg.cosine_period
                sched.T_cur = int(ck["step"]) % cfg.cosine_period
                sched.step(int(ck["step"]))  # recompute the group lrs for the new cycle
            if "scaler" in ck and scaler.is_enabled():
                scaler.load_state_dict(ck["scaler"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise VideoINRError(f"checkpoint {ckpt_path} does not match this config: {str(e).splitlines()[0]}") from None
        _set_rng_state({k: v.cpu() for k, v in ck["rng"].items()})
        start, elapsed = int(ck["step"]), float(ck["elapsed"])
        last_val = {k: float(v) for k, v in ck.get("last_val", {}).items()}
        changed = sorted(k for k, v in ck.get("config", {}).items()
                         if k not in ("steps", "val_every", "ckpt_every", "log_every", "num_workers", "threads",
                                      "device", "debug_replica_hash", "time_limit") and cfg.to_dict().get(k) != v)
        if changed and d.main:
            print(f"warning: resuming {ckpt_path} with changed config keys: {', '.join(changed)}", file=sys.stderr)
    elif resume and d.main:
        print(f"no checkpoint in {out}: starting from step 0", file=sys.stderr)

    net: nn.Module = QueryModule(model)
    if d.active:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)

    if d.main:
        out.mkdir(parents=True, exist_ok=True)
        _atomic_write(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False).encode())
    metrics = MetricsLog(out / "metrics.csv", start) if d.main else None
    writer = None
    if d.main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=start if start else None)

    sampler = StepSampler([len(x) for x in dataset.datasets], weights, cfg.batch_size, cfg.seed, start, cfg.steps,
                          d.rank, d.world)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.num_workers,
                                         pin_memory=device.type == "cuda",
                                         persistent_workers=False)

    def checkpoint(step: int) -> None:
        save_checkpoint(ckpt_path, {
            "step": step, "elapsed": elapsed, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "rng": _rng_state(), "config": cfg.to_dict(), "last_val": last_val,
        })

    def validate_now(step: int) -> dict[str, float]:
        res = validator(model, device, out / "val" / f"step_{step:07d}.png")
        for k, v in res.items():
            writer.add_scalar(k, v, step)
        return res

    if d.main and validator is not None and cfg.val_every and start == 0:
        last_val = validate_now(0)  # the starting point of the validation curve
        metrics.write({"step": 0, **last_val})
    bar = tqdm(total=cfg.steps, initial=start, desc="train", unit="step", disable=not show, dynamic_ncols=True)
    loss_sum, n_sum, t_sum = 0.0, 0, 0.0
    step = start
    session = 0.0  # training seconds of this invocation (for time_limit)
    stop_at = cfg.steps
    tick = time.perf_counter()
    for batch in loader:
        lr0, lr1, coords, t, gt, scale, flows = prepare_batch(batch, cfg, step, d.rank, device)
        with _autocast(cfg, device):
            pred = net(lr0, lr1, coords, t, flows)
        loss = charbonnier(pred, gt, cfg.charbonnier_eps)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        scaler.step(opt)
        scaler.update()
        used_lr = opt.param_groups[0]["lr"]
        sched.step()
        step += 1
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        dt, tick = now - tick, now
        elapsed += dt
        session += dt
        if cfg.time_limit is not None and step < cfg.steps:
            stop = torch.tensor([float(session >= 60 * cfg.time_limit)], device=device)
            if d.active:  # every rank stops at the same step
                import torch.distributed as dist

                dist.all_reduce(stop)
            if stop.item() > 0:
                stop_at = step
        loss_sum += float(loss.detach())
        n_sum += 1
        t_sum += dt
        if step % cfg.log_every == 0 or step == stop_at:
            mean_loss = loss_sum / n_sum
            if d.active:
                import torch.distributed as dist

                lt = torch.tensor([mean_loss], dtype=torch.float64, device=device)
                dist.all_reduce(lt)
                mean_loss = float(lt) / d.world
            row = {"step": step, "loss": mean_loss, "lr": used_lr, "sec_per_step": t_sum / n_sum}
            if d.main:
                if validator is not None and ((cfg.val_every and step % cfg.val_every == 0) or step == stop_at):
                    last_val = validate_now(step)
                    row.update(last_val)
                    tick = time.perf_counter()  # validation time is not training time
                metrics.write(row)
                writer.add_scalar("loss", mean_loss, step)
                writer.add_scalar("lr", used_lr, step)
                writer.add_scalar("sec_per_step", t_sum / n_sum, step)
                writer.add_scalar("scale", scale, step)
                bar.set_postfix(loss=f"{mean_loss:.4f}", s_step=f"{t_sum / n_sum:.3f}",
                                **({"val": f"{last_val['val_psnr']:.2f}"} if last_val else {}))
            loss_sum, n_sum, t_sum = 0.0, 0, 0.0
        elif d.main and validator is not None and cfg.val_every and step % cfg.val_every == 0:
            last_val = validate_now(step)
            metrics.write({"step": step, **last_val})
            tick = time.perf_counter()
        bar.update(1)
        if d.main and (step % cfg.ckpt_every == 0 or step == stop_at):
            checkpoint(step)
            tick = time.perf_counter()
        if step == stop_at:
            break
    bar.close()

    summary = {
        "steps": step,
        "complete": step >= cfg.steps,
        "wall_time_s": round(elapsed, 1),
        "hardware": _hardware(device),
        "processes": d.world,
        "last_val": last_val,
        "config": cfg.to_dict(),
    }
    if d.main:
        save_weights(model, out / "final.safetensors", summary=summary)
        writer.close()
    if cfg.debug_replica_hash:
        out.mkdir(parents=True, exist_ok=True)
        _atomic_write(out / f"replica_{d.rank}.txt", (_param_hash(model) + "\n").encode())
    return summary


# ======================================================================================== CLI


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="videoinr train", description="Train a VideoINR model from a config.")
    p.add_argument("--config", help="YAML config (configs/lite.yaml, configs/paper.yaml)")
    p.add_argument("--out", required=True, help="run folder (checkpoint, metrics.csv, tb/, val/, final.safetensors)")
    p.add_argument("--steps", type=int, help="total steps (overrides the config)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt if it exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override any config key")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`videoinr train` entry point; returns the exit status (user errors raise VideoINRError)."""
    args = build_parser().parse_intermixed_args(list(sys.argv[1:] if argv is None else argv))
    cfg = load_config(args.config, args.overrides, steps=args.steps)
    summary = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        val = summary["last_val"].get("val_psnr")
        print(f"trained {summary['steps']} steps in {summary['wall_time_s']:.0f} s"
              + (f", val PSNR {val:.2f} dB" if val is not None else "") + f" -> {Path(args.out) / 'final.safetensors'}")
    return 0


if __name__ == "__main__":
    from videoinr.cli import run_with_errors

    sys.exit(run_with_errors(main, sys.argv[1:]))
