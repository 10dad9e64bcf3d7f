"""Training: the paper's recipe (Sec. 4.1, App. A) on real video; resumable; DDP under torchrun.

    videoinr train --config configs/lite.yaml --out runs/lite [--steps N] [--resume] [key=value ...]
    python -m videoinr.train ...          torchrun --nproc_per_node=N -m videoinr.train ...

A step: the sampler picks the global batch of windows for that step (a pure function of (seed, step), so a
resumed run sees exactly the batches an uninterrupted one would, and DDP rank r takes its slice of it);
the space scale is 4 in stage 1 and U(scale_min, scale_max) per batch in stage 2; `scale_batch` degrades
the two input frames (MATLAB bicubic) to `lr_patch` x `lr_patch`; the model encodes them once and is
queried at the HR pixel centres of the K target frames (all pixels, or `points_per_target` random ones:
the same per-coordinate formulation); Charbonnier loss (mean), Adam, cosine annealing with restarts.

Outputs under --out: `metrics.csv` (step,loss,lr,sec_per_step,val_psnr,val_psnr_interior,val_psnr_center),
TensorBoard events in `tb/`, validation PNGs in `val/`, `config.yaml`, `checkpoint.pt` (atomic; model,
optimizer, scheduler, RNG states, step; loadable with `torch.load(weights_only=True)`), `final.safetensors`.

Modules: `config` (TrainConfig, loading, validation, lr/scale schedules), `data` (sources, StepSampler,
prepare_batch), `optim` (model, loss, optimiser, precision), `validation` (Validator), `checkpoint`
(checkpoint.pt, RNG states, metrics.csv), `distributed` (ranks, device, DDP), `loop` (train), `cli` (main).
"""
from __future__ import annotations

from videoinr.train.checkpoint import METRIC_COLUMNS, MetricsLog, load_checkpoint, save_checkpoint
from videoinr.train.cli import build_parser, main
from videoinr.train.config import (PRECISIONS, SOURCE_KEYS, SOURCE_KINDS, TrainConfig, load_config, lr_at,
                                   parse_overrides, scale_at, check_config)
from videoinr.train.data import StepSampler, build_data, prepare_batch
from videoinr.train.distributed import Dist, QueryModule
from videoinr.train.loop import train
from videoinr.train.optim import charbonnier
from videoinr.train.validation import Validator

__all__ = ["TrainConfig", "load_config", "parse_overrides", "charbonnier", "lr_at", "scale_at",
           "train", "main"]
