"""Where training runs: the process group under torchrun (one process per rank; gloo on CPU, NCCL on CUDA),
the device and CPU threads of this rank, the DDP-wrapped forward, and the few collectives the loop needs."""
from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from videoinr.errors import VideoINRError
from videoinr.models import VideoINR
from videoinr.runtime import cpu_info
from videoinr.train.config import TrainConfig

__all__ = ["Dist", "QueryModule", "any_rank", "configure_threads", "hardware", "init_distributed",
           "mean_over_ranks", "param_hash", "shutdown_distributed", "wrap_ddp"]


@dataclass
class Dist:
    """This process's place among the torchrun processes (defaults: a single process)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the run folder."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """More than one process (DDP)."""
        return self.world > 1


def init_distributed(device_kind: str) -> Dist:
    """Join the process group named by torchrun's environment (WORLD_SIZE, RANK, LOCAL_RANK,
    LOCAL_WORLD_SIZE); a single process without it. `device_kind`: "cuda" (NCCL) or "cpu" (gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    d = Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")),
             int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_kind == "cuda" else "gloo")
    return d


def shutdown_distributed(d: Dist) -> None:
    """Leave the process group, if this run joined one."""
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


def configure_threads(cfg: TrainConfig, d: Dist, device: torch.device) -> None:
    """torch's CPU threads (`cfg.threads`, default on CPU: the cores shared evenly by the local ranks) and
    cuDNN autotuning on GPUs. Checks that the global batch splits evenly across the ranks."""
    if cfg.batch_size % d.world:
        raise VideoINRError(f"config key 'batch_size': {cfg.batch_size} is not divisible by {d.world} processes")
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // d.local_world))
    else:
        torch.backends.cudnn.benchmark = True  # the encoder's input shape is fixed (lr_patch): tune once
        if cfg.threads:
            torch.set_num_threads(cfg.threads)


def hardware(device: torch.device) -> str:
    """A one-line description of the device (GPU name, or CPU model, cores and torch threads)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = cpu_info()["model_name"] or platform.processor() or platform.machine()
    return f"{name} ({os.cpu_count()} CPUs, {torch.get_num_threads()} threads)"


class QueryModule(nn.Module):
    """One forward for DDP: encode the pair and query it. forward(lr0, lr1, coords, t, flows) -> (B, N, 3)."""

    def __init__(self, model: VideoINR) -> None:
        super().__init__()
        self.model = model

    def forward(self, lr0: Tensor, lr1: Tensor, coords: Tensor, t: Tensor, flows: Tensor | None = None) -> Tensor:
        return self.model.encode(lr0, lr1, flows).query(coords, t)


def wrap_ddp(model: VideoINR, d: Dist, device: torch.device) -> nn.Module:
    """The training forward: QueryModule(model), inside DistributedDataParallel when there are several ranks
    (which then all-reduces the gradients in backward)."""
    net: nn.Module = QueryModule(model)
    if d.active:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)
    return net


def any_rank(flag: bool, d: Dist, device: torch.device) -> bool:
    """True on every rank when `flag` is true on at least one (an all-reduce when distributed)."""
    t = torch.tensor([float(flag)], device=device)
    if d.active:
        dist.all_reduce(t)
    return t.item() > 0


def mean_over_ranks(value: float, d: Dist, device: torch.device) -> float:
    """The mean of `value` over the ranks (float64 all-reduce); `value` itself in a single process."""
    if not d.active:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t) / d.world


def param_hash(model: nn.Module) -> str:
    """SHA-256 over the state dict (names and bytes, sorted): equal on every rank of a healthy DDP run."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
