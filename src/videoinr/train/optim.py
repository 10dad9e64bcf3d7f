"""What a training step optimises and how: the model (fresh, or grown from `init` weights), the Charbonnier
loss, Adam with cosine annealing and warm restarts (stepped once per training step), mixed precision
(autocast; a GradScaler for fp16 on CUDA) and optional global gradient-norm clipping."""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor

from videoinr.errors import VideoINRError
from videoinr.models import VideoINR
from videoinr.models.registry import grow_weights, upgrade_state_dict
from videoinr.train.config import TrainConfig

__all__ = ["Optimisation", "autocast", "build_model", "charbonnier"]


def charbonnier(pred: Tensor, gt: Tensor, eps: float = 1e-3) -> Tensor:
    """Mean Charbonnier loss sqrt((pred - gt)^2 + eps^2), computed in float32."""
    d = pred.float() - gt.float()
    return torch.sqrt(d * d + eps * eps).mean()


def autocast(cfg: TrainConfig, device: torch.device) -> AbstractContextManager:
    """The forward pass's precision context: none for fp32, torch.autocast to bf16/fp16 otherwise."""
    if cfg.precision == "fp32":
        return nullcontext()
    if cfg.precision == "fp16" and device.type != "cuda":
        raise VideoINRError("config key 'precision': fp16 needs CUDA (use bf16 on CPU)")
    dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def build_model(cfg: TrainConfig) -> VideoINR:
    """A fresh model of `cfg.model_config()` (draws from the torch RNG), or the `init` weights grown to it."""
    if cfg.model_config().conventions != "videoinr":
        raise VideoINRError("training decodes with conventions 'videoinr' only (an 'official' model's pixels "
                            "depend on the output grid; train from its weights with conventions: videoinr)")
    if cfg.init is None:
        return VideoINR(cfg.model_config())
    try:
        return grow_weights(cfg.init, cfg.model_config())
    except VideoINRError as e:
        raise VideoINRError(f"config key 'init': {e}") from None


@dataclass
class Optimisation:
    """The trained model with its optimiser, learning-rate schedule and gradient scaler (disabled unless
    fp16 on CUDA): everything a step updates and a checkpoint stores besides the RNG states."""

    model: VideoINR
    opt: torch.optim.Adam
    sched: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts
    scaler: torch.amp.GradScaler

    @classmethod
    def build(cls, cfg: TrainConfig, device: torch.device) -> Optimisation:
        """Model (in train mode, on `device`), Adam at `cfg.lr`, the cosine schedule and the scaler."""
        model = build_model(cfg).to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
        sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=cfg.cosine_period, eta_min=cfg.eta_min)
        scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16" and device.type == "cuda")
        return cls(model, opt, sched, scaler)

    def step(self, loss: Tensor, grad_clip: float | None) -> float:
        """Backward `loss`, clip the global gradient norm to `grad_clip` (None: no clipping), update the
        weights and advance the schedule by one step; returns the learning rate this update used."""
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if grad_clip is not None:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        used_lr = self.opt.param_groups[0]["lr"]
        self.sched.step()
        return used_lr

    def state_dict(self) -> dict:
        """{model, optimizer, scheduler, scaler} state dicts (scaler: {} when disabled)."""
        return {"model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {}}

    def load_state_dict(self, state: dict, cosine_period: int) -> None:
        """Load `state_dict()`'s keys from a checkpoint of step `state["step"]`. A new `cosine_period` (a
        resumed run may be given another cycle length) restarts the schedule's bookkeeping on that cycle.
        Raises RuntimeError/ValueError/KeyError when the state does not fit this model and optimiser."""
        self.model.load_state_dict(upgrade_state_dict(state["model"]))
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        if self.sched.T_0 != cosine_period:
            step = int(state["step"])
            self.sched.T_0 = self.sched.T_i = cosine_period
            self.sched.T_cur = step % cosine_period
            self.sched.step(step)  # recompute the group lrs for the new cycle
        if "scaler" in state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
