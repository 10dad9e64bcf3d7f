"""The training loop: `train(cfg, out)` sets up one run (data, model, optimiser, resume, run folder) and
`_Run` steps it: one optimiser step per batch, then logging, validation and checkpointing when due.

Everything a step depends on is a pure function of (seed, step) or restored from the checkpoint, so a
resumed run continues bit-identically to an uninterrupted one.
"""
from __future__ import annotations

import errno
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from tqdm import tqdm

from videoinr.errors import VideoINRError
from videoinr.models import save_weights
from videoinr.runtime import pick_device
from videoinr.train.checkpoint import MetricsLog, atomic_write, checkpoint_state, restore, save_checkpoint
from videoinr.train.config import TrainConfig
from videoinr.train.data import Mixture, StepSampler, build_data, prepare_batch
from videoinr.train.distributed import (Dist, any_rank, configure_threads, hardware, init_distributed,
                                        mean_over_ranks, param_hash, shutdown_distributed, wrap_ddp)
from videoinr.train.optim import Optimisation, autocast, charbonnier
from videoinr.train.validation import Validator

__all__ = ["train"]


def train(cfg: TrainConfig, out: str | os.PathLike, resume: bool = False, progress: bool = True) -> dict:
    """Run (or resume) training into the run folder `out`; returns the final summary (also stored in
    final.safetensors): steps done, complete, wall_time_s (training seconds, all invocations), hardware,
    processes, last_val (PSNRs in dB) and the config."""
    out = Path(out)
    device = pick_device(cfg.device, allow_mps=False, what="config key 'device':")  # under torchrun: LOCAL_RANK's GPU
    d = init_distributed(device.type)
    try:
        configure_threads(cfg, d, device)
        _check_run_folder(cfg, out, resume)
        try:
            return _Run(cfg, out, resume, progress and d.main, d, device).run()
        except OSError as e:  # the run folder's files: full disk, permissions, something in the way
            where = e.filename or out
            if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG):
                raise VideoINRError(f"{where}: disk full ({e.strerror or 'no space left'}); the last checkpoint "
                                    f"in {out} is kept: free some space and rerun with --resume") from None
            raise VideoINRError(f"{where}: cannot write ({e.strerror or e})") from None
    finally:
        shutdown_distributed(d)


def _check_run_folder(cfg: TrainConfig, out: Path, resume: bool) -> None:
    """Refuse to overwrite a checkpoint without --resume, and a validation clip inside a training source."""
    if out.exists() and not out.is_dir():
        raise VideoINRError(f"--out {out}: exists and is not a folder")
    for name in ("checkpoint.pt", "metrics.csv", "config.yaml", "final.safetensors"):
        p = out / name
        if (p.exists() or p.is_symlink()) and not p.is_file():
            raise VideoINRError(f"{p}: is in the way (not a regular file); move it away or choose another --out")
    for name in ("tb", "val"):
        p = out / name
        if p.exists() and not p.is_dir():
            raise VideoINRError(f"{p}: is in the way (not a folder); move it away or choose another --out")
    if (out / "checkpoint.pt").exists() and not resume:
        raise VideoINRError(f"{out} already holds a checkpoint: pass --resume to continue it, or another --out")
    if cfg.val_source is not None:
        vs = Path(cfg.val_source).resolve()
        for s in cfg.sources:
            sp = Path(s["path"]).resolve()
            if vs == sp or sp in vs.parents or vs in sp.parents:
                raise VideoINRError(f"config key 'val_source': {cfg.val_source} overlaps training source {s['path']}")


def _seed_everything(seed: int) -> None:
    """Seed the global torch, NumPy and Python RNGs (the model's initialisation draws from torch's)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@dataclass
class _LossWindow:
    """Sums over the steps since the last log row: loss and training seconds."""

    loss_sum: float = 0.0
    n: int = 0
    t_sum: float = 0.0

    def add(self, loss: float, seconds: float) -> None:
        self.loss_sum += loss
        self.n += 1
        self.t_sum += seconds


class _Run:
    """One invocation of a run on this rank. Setup (in this order, which fixes the RNG draws): data and the
    validation clip, seeding, model and optimiser, the checkpoint's state on --resume, the DDP forward,
    the run folder's logs (rank 0) and the loader of the remaining steps. `run()` then trains.

    `step` counts the optimiser steps done; `elapsed` the training seconds of all invocations, `session`
    those of this one (for `time_limit`); validation and checkpoint time are not training time."""

    def __init__(self, cfg: TrainConfig, out: Path, resume: bool, show: bool, d: Dist,
                 device: torch.device) -> None:
        self.cfg, self.out, self.d, self.device, self.show = cfg, out, d, device, show
        self.ckpt_path = out / "checkpoint.pt"
        dataset, _, weights = build_data(cfg, progress=show)  # decoded once, cached in memory
        self.validator = Validator(cfg) if cfg.val_source is not None else None
        _seed_everything(cfg.seed)
        self.optim = Optimisation.build(cfg, device)
        self.step, self.elapsed, self.last_val = 0, 0.0, {}
        if resume and self.ckpt_path.exists():
            r = restore(self.ckpt_path, self.optim, cfg, device, warn=d.main)
            self.step, self.elapsed, self.last_val = r.step, r.elapsed, r.last_val
        elif resume and d.main:
            print(f"no checkpoint in {out}: starting from step 0", file=sys.stderr)
        self.net = wrap_ddp(self.optim.model, d, device)
        self.metrics, self.writer = self._open_logs() if d.main else (None, None)
        self.loader = self._loader(dataset, weights)
        self.stop_at = cfg.steps  # brought forward by time_limit
        self.session = 0.0
        self.window = _LossWindow()
        self.bar: tqdm | None = None
        self.tick = time.perf_counter()

    def _open_logs(self) -> tuple[MetricsLog, object]:
        """Rank 0: the run folder with config.yaml, metrics.csv (earlier rows kept on resume) and TensorBoard."""
        from torch.utils.tensorboard import SummaryWriter

        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write(self.out / "config.yaml", yaml.safe_dump(self.cfg.to_dict(), sort_keys=False).encode())
        metrics = MetricsLog(self.out / "metrics.csv", self.step)
        writer = SummaryWriter(str(self.out / "tb"), purge_step=self.step if self.step else None)
        return metrics, writer

    def _loader(self, dataset: Mixture, weights: list[float]) -> torch.utils.data.DataLoader:
        """Batches of this rank for steps `step` .. `cfg.steps - 1`, one per step (StepSampler)."""
        cfg, d = self.cfg, self.d
        sampler = StepSampler([len(x) for x in dataset.datasets], weights, cfg.batch_size, cfg.seed, self.step,
                              cfg.steps, d.rank, d.world)
        return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.num_workers,
                                           pin_memory=self.device.type == "cuda", persistent_workers=False)

    # ------------------------------------------------------------------------------------- the loop

    def run(self) -> dict:
        """Train until `cfg.steps` (or the time limit); returns the summary."""
        if self.d.main and self.step == 0:
            self._record(0)  # the starting point of the validation curve
        self.bar = tqdm(total=self.cfg.steps, initial=self.step, desc="train", unit="step", disable=not self.show,
                        dynamic_ncols=True)
        self.tick = time.perf_counter()
        for batch in self.loader:
            loss, used_lr, scale = self._train_step(batch)
            seconds = self._clock()
            self._check_time_limit()
            self.window.add(float(loss.detach()), seconds)
            logged = self.step % self.cfg.log_every == 0 or self.step == self.stop_at
            row = self._log_row(used_lr) if logged else None  # a collective: every rank
            if self.d.main:
                self._record(self.step, row, scale)
            self.bar.update(1)
            if self.d.main and (self.step % self.cfg.ckpt_every == 0 or self.step == self.stop_at):
                self._checkpoint()
            if self.step == self.stop_at:
                break
        self.bar.close()
        return self._finish()

    def _train_step(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, float, float]:
        """One optimiser step on this rank's slice of the step's batch; returns the loss (0-d tensor), the
        learning rate used and the batch's space scale."""
        cfg = self.cfg
        lr0, lr1, coords, t, gt, scale, flows = prepare_batch(batch, cfg, self.step, self.d.rank, self.device)
        with autocast(cfg, self.device):
            pred = self.net(lr0, lr1, coords, t, flows)
        loss = charbonnier(pred, gt, cfg.charbonnier_eps)
        used_lr = self.optim.step(loss, cfg.grad_clip)
        self.step += 1
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return loss, used_lr, scale

    def _clock(self) -> float:
        """Seconds since the last tick (the step just done), added to `elapsed` and `session`."""
        now = time.perf_counter()
        seconds, self.tick = now - self.tick, now
        self.elapsed += seconds
        self.session += seconds
        return seconds

    def _check_time_limit(self) -> None:
        """Stop after this step when any rank has trained `time_limit` minutes (all ranks agree)."""
        limit = self.cfg.time_limit
        if limit is not None and self.step < self.cfg.steps:
            if any_rank(self.session >= 60 * limit, self.d, self.device):
                self.stop_at = self.step

    def _log_row(self, used_lr: float) -> dict[str, float]:
        """Loss (mean over the steps since the last row and over the ranks), lr and sec/step; resets the sums."""
        w = self.window
        loss = mean_over_ranks(w.loss_sum / w.n, self.d, self.device)
        self.window = _LossWindow()
        return {"loss": loss, "lr": used_lr, "sec_per_step": w.t_sum / w.n}

    def _record(self, step: int, row: dict[str, float] | None = None, scale: float | None = None) -> None:
        """Rank 0, after `step` steps: validate if due, then write the metrics row (the log `row`, the
        validation, or both) and the TensorBoard scalars."""
        cfg = self.cfg
        due = self.validator is not None and ((cfg.val_every and step % cfg.val_every == 0) or step == self.stop_at)
        val = self._validate(step) if due else {}
        if row is None and not due:
            return
        self.metrics.write({"step": step, **(row or {}), **val})
        if row is None:
            return
        for key, value in (*row.items(), ("scale", scale)):
            self.writer.add_scalar(key, value, step)
        self.bar.set_postfix(loss=f"{row['loss']:.4f}", s_step=f"{row['sec_per_step']:.3f}",
                             **({"val": f"{self.last_val['val_psnr']:.2f}"} if self.last_val else {}))

    def _validate(self, step: int) -> dict[str, float]:
        """PSNRs (dB) on the validation clip, to TensorBoard and `last_val`; writes val/step_<step>.png."""
        res = self.validator(self.optim.model, self.device, self.out / "val" / f"step_{step:07d}.png")
        for k, v in res.items():
            self.writer.add_scalar(k, v, step)
        self.last_val = res
        self.tick = time.perf_counter()  # validation time is not training time
        return res

    def _checkpoint(self) -> None:
        """Rank 0: checkpoint.pt (atomic) after `step` steps."""
        save_checkpoint(self.ckpt_path, checkpoint_state(self.step, self.elapsed, self.optim, self.cfg,
                                                         self.last_val))
        self.tick = time.perf_counter()

    def _finish(self) -> dict:
        """The summary; rank 0 writes final.safetensors with it; replica_<rank>.txt if debug_replica_hash."""
        summary = {
            "steps": self.step,
            "complete": self.step >= self.cfg.steps,
            "wall_time_s": round(self.elapsed, 1),
            "hardware": hardware(self.device),
            "processes": self.d.world,
            "last_val": self.last_val,
            "config": self.cfg.to_dict(),
        }
        if self.d.main:
            save_weights(self.optim.model, self.out / "final.safetensors", summary=summary)
            self.writer.close()
        if self.cfg.debug_replica_hash:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write(self.out / f"replica_{self.d.rank}.txt", (param_hash(self.optim.model) + "\n").encode())
        return summary
