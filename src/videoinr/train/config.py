"""Training configuration: `TrainConfig` (every knob of a run), YAML + `key=value` loading with typed
coercion, validation that names the offending key, and the per-step schedules (`lr_at`, `scale_at`)."""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from videoinr.errors import VideoINRError, require_regular_file
from videoinr.models import CONFIGS, ModelConfig
from videoinr.validate import from_mapping, invalid, require

__all__ = ["TrainConfig", "load_config", "parse_overrides", "check_config", "lr_at", "scale_at",
           "SOURCE_KEYS", "SOURCE_KINDS", "PRECISIONS"]

SOURCE_KEYS = ("path", "kind", "window", "min_window", "weight", "downscale", "max_frames")
SOURCE_KINDS = ("auto", "folder", "vimeo", "video")
PRECISIONS = ("fp32", "bf16", "fp16")

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
    val_crop: int = 192  # side of the scored HR centre crop (pixels; clipped to the frame)
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
        """Plain YAML-safe values (betas as a list): what config.yaml and checkpoints store."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    def model_config(self) -> ModelConfig:
        """The network's config: the `init` weights' own config (else the named `model`), then `model_overrides`
        (on an `init` model: keys that add no tensors, e.g. `flow_prior`, or more residual blocks or wider
        implicit functions, which start unused so the function is unchanged: `grow_weights`)."""
        if self.init is not None:
            from videoinr.models import read_metadata

            base = dict(read_metadata(self.init)["config"])
        elif self.model not in CONFIGS:
            raise invalid("config key 'model'", self.model, f"unknown model (use {', '.join(CONFIGS)})")
        else:
            base = CONFIGS[self.model].to_dict()
        base.update(self.model_overrides)
        return ModelConfig.from_dict(base)

    def crop_size(self) -> int:
        """HR crop the dataset returns: large enough for the largest scale of either stage."""
        from videoinr.data.windows import hr_crop_size

        return hr_crop_size(self.lr_patch, max(self.scale_max, self.stage1_scale))


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
    where = f" (in {path})" if path is not None else ""
    cfg = from_mapping(TrainConfig, data, what="config", where=where)
    check_config(cfg)
    return cfg


def _check(ok: bool, key: str, value: object, allowed: str) -> None:
    """Raise "config key '<key>' <value>: <allowed>" unless `ok` (`videoinr.validate.invalid`)."""
    require(ok, f"config key '{key}'", value, allowed)


def check_config(cfg: TrainConfig) -> None:
    """Raise VideoINRError naming the first impossible value. Normalises `sources` in place: a bare path
    string becomes {path: ...}."""
    if cfg.init is None:
        cfg.model_config()  # unknown model name / override keys / bad values
    elif os.path.lexists(cfg.init):  # a missing init may be an earlier stage's output, read when training starts
        try:
            require_regular_file(cfg.init, "weights file")  # a FIFO would block the read forever
        except VideoINRError as e:
            raise VideoINRError(f"config key 'init': {e}") from None
    _check(cfg.lr_patch >= 4, "lr_patch", cfg.lr_patch, "must be >= 4")
    _check(cfg.batch_size >= 1, "batch_size", cfg.batch_size, "must be >= 1")
    _check(cfg.targets >= 1, "targets", cfg.targets, "must be >= 1")
    _check(cfg.target_frames in ("all", "interior"), "target_frames", cfg.target_frames, "must be all or interior")
    _check(cfg.steps >= 1, "steps", cfg.steps, "must be >= 1")
    _check(0 <= cfg.stage1_steps, "stage1_steps", cfg.stage1_steps, "must be >= 0")
    _check(cfg.stage1_scale >= 1, "stage1_scale", cfg.stage1_scale, "must be >= 1")
    _check(cfg.scale_min >= 1, "scale_min", cfg.scale_min, "must be >= 1")
    _check(cfg.scale_max >= cfg.scale_min, "scale_max", cfg.scale_max, f"must be >= scale_min ({cfg.scale_min})")
    _check(cfg.lr > 0 and math.isfinite(cfg.lr), "lr", cfg.lr, "must be a positive number")
    _check(0 <= cfg.eta_min <= cfg.lr, "eta_min", cfg.eta_min, "must be in [0, lr]")
    _check(cfg.cosine_period >= 1, "cosine_period", cfg.cosine_period, "must be >= 1")
    _check(all(0 <= b < 1 for b in cfg.betas), "betas", list(cfg.betas), "must be two numbers in [0, 1)")
    _check(cfg.charbonnier_eps > 0, "charbonnier_eps", cfg.charbonnier_eps, "must be > 0")
    _check(cfg.grad_clip is None or cfg.grad_clip > 0, "grad_clip", cfg.grad_clip, "must be > 0 or null")
    _check(cfg.precision in PRECISIONS, "precision", cfg.precision, f"must be one of {', '.join(PRECISIONS)}")
    _check(cfg.points_per_target is None or cfg.points_per_target >= 1, "points_per_target", cfg.points_per_target,
           "must be >= 1 or null (whole patch)")
    _check(cfg.val_window >= 2, "val_window", cfg.val_window, "must be >= 2")
    _check(cfg.val_windows >= 1, "val_windows", cfg.val_windows, "must be >= 1")
    _check(cfg.val_scale >= 1, "val_scale", cfg.val_scale, "must be >= 1")
    _check(cfg.val_crop >= cfg.val_scale * 4, "val_crop", cfg.val_crop, "must be >= 4 * val_scale")
    _check(cfg.val_every >= 0, "val_every", cfg.val_every, "must be >= 0")
    _check(cfg.time_limit is None or cfg.time_limit > 0, "time_limit", cfg.time_limit, "must be > 0 minutes or null")
    _check(cfg.ckpt_every >= 1, "ckpt_every", cfg.ckpt_every, "must be >= 1")
    _check(cfg.log_every >= 1, "log_every", cfg.log_every, "must be >= 1")
    _check(cfg.num_workers >= 0, "num_workers", cfg.num_workers, "must be >= 0")
    _check(cfg.threads is None or cfg.threads >= 1, "threads", cfg.threads, "must be >= 1 or null")
    dev = cfg.device
    _check(dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit()), "device", dev,
           "must be auto, cpu, cuda or cuda:N")
    _check(bool(cfg.sources), "sources", cfg.sources, "no training sources given")
    for i, s in enumerate(cfg.sources):
        key = f"sources[{i}]"
        if isinstance(s, str):
            s = cfg.sources[i] = {"path": s}
        _check(isinstance(s, dict), key, s, "expected a mapping {path, window, ...}")
        unknown = sorted(set(s) - set(SOURCE_KEYS))
        _check(not unknown, key, unknown[0] if unknown else "", f"unknown key (known: {', '.join(SOURCE_KEYS)})")
        _check("path" in s, key, s, "missing 'path'")
        _check(s.get("kind", "auto") in SOURCE_KINDS, f"{key}.kind", s.get("kind"),
               f"must be one of {', '.join(SOURCE_KINDS)}")
        w = s.get("weight")
        _check(w is None or (isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0), f"{key}.weight", w,
               "must be a positive number")
        win = s.get("window", 9)
        _check(isinstance(win, int) and not isinstance(win, bool) and win >= 3, f"{key}.window", win,
               "must be an integer >= 3")
        inner = win - (2 if cfg.target_frames == "interior" else 0)
        _check(win - 2 >= cfg.targets and inner >= cfg.targets, f"{key}.window", win,
               f"has {win - 2} interior frames, fewer than targets={cfg.targets}")
        mw = s.get("min_window")
        _check(mw is None or (isinstance(mw, int) and not isinstance(mw, bool) and 3 <= mw <= win), f"{key}.min_window",
               mw, f"must be an integer in [3, window={win}]")
        _check(mw is None or cfg.target_frames == "interior" or mw >= cfg.targets, f"{key}.min_window", mw,
               f"has fewer frames than targets={cfg.targets}")


# ------------------------------------------------------------------------------------------- schedule


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
