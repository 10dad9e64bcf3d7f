"""Training configuration: `TrainConfig` (every knob of a run), YAML + `key=value` loading with typed
coercion, validation that names the offending key, and the per-step schedules (`lr_at`, `scale_at`)."""
from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from videoinr.errors import VideoINRError, require_regular_file
from videoinr.models import CONFIGS, ModelConfig

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
    """Field name -> resolved type hint of TrainConfig."""
    return typing.get_type_hints(TrainConfig)


def _coerce(key: str, value, hint) -> object:
    """`value` checked/converted to the field type `hint`; VideoINRError naming `key` otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, getattr(types, "UnionType", None)):
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
    check_config(cfg)
    return cfg


def _check(ok: bool, key: str, msg: str) -> None:
    """Raise VideoINRError "config key '<key>': <msg>" unless `ok`."""
    if not ok:
        raise VideoINRError(f"config key '{key}': {msg}")


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
