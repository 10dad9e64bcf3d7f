"""What a run leaves on disk and reads back on `--resume`: atomic writes, `checkpoint.pt` (model, optimiser,
scheduler, scaler, RNG states, step, training seconds, last validation; loadable with
`torch.load(weights_only=True)`), and `metrics.csv` (`MetricsLog`)."""
from __future__ import annotations

import csv
import io
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from videoinr.errors import VideoINRError
from videoinr.fileio import atomic_write_bytes
from videoinr.train.config import TrainConfig

if TYPE_CHECKING:
    from videoinr.train.optim import Optimisation

__all__ = ["METRIC_COLUMNS", "MetricsLog", "Resumed", "atomic_write", "checkpoint_state", "load_checkpoint",
           "restore", "rng_state", "save_checkpoint", "set_rng_state"]

METRIC_COLUMNS = ("step", "loss", "lr", "sec_per_step", "val_psnr", "val_psnr_interior", "val_psnr_center")
# config keys a resumed run may change without a warning: they do not affect the trained weights' history
RESUMABLE_CHANGES = ("steps", "val_every", "ckpt_every", "log_every", "num_workers", "threads", "device",
                     "debug_replica_hash", "time_limit")

# ------------------------------------------------------------------------------------------- files


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through `fileio.atomic_write_bytes`: readers see the old file or the new one,
    never a torn one (a name for tests to inject a full disk at)."""
    atomic_write_bytes(path, data)


def rng_state() -> dict[str, Tensor]:
    """The global torch (and CUDA), NumPy and Python RNG states as tensors (weights_only-loadable)."""
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


def set_rng_state(s: dict[str, Tensor]) -> None:
    """Restore the RNG states saved by `rng_state` (CPU tensors; CUDA only where available)."""
    torch.set_rng_state(s["torch"])
    pos, has_gauss = (int(v) for v in s["numpy_pos"])
    np.random.set_state(("MT19937", s["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss,
                         float(s["numpy_gauss"][0])))
    random.setstate((int(s["python_version"][0]), tuple(int(v) for v in s["python"]), None))
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state(s["cuda"])


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save `state` atomically and durably (`atomic_write`)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, buf.getvalue())


def load_checkpoint(path: Path, device: torch.device) -> dict:
    """`torch.load(weights_only=True)` onto `device`; an unreadable file is a VideoINRError."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is a user error here
        raise VideoINRError(f"cannot read checkpoint {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def checkpoint_state(step: int, elapsed: float, optim: Optimisation, cfg: TrainConfig,
                     last_val: dict[str, float]) -> dict:
    """Everything `restore` needs to continue after `step` (`elapsed`: training seconds so far) exactly as an
    uninterrupted run would: the optimisation state, the RNG states, the config and the last validation."""
    return {"step": step, "elapsed": elapsed, **optim.state_dict(), "rng": rng_state(), "config": cfg.to_dict(),
            "last_val": last_val}


@dataclass
class Resumed:
    """Where a restored run continues: the next step's 0-based index (= steps done), training seconds so
    far, and the last validation PSNRs (dB)."""

    step: int
    elapsed: float
    last_val: dict[str, float]


def restore(path: Path, optim: Optimisation, cfg: TrainConfig, device: torch.device, warn: bool) -> Resumed:
    """Load checkpoint `path` into `optim` and the global RNGs. A checkpoint of another model/optimiser is a
    VideoINRError; changed config keys (other than RESUMABLE_CHANGES) get one warning on stderr if `warn`."""
    ck = load_checkpoint(path, device)
    try:
        optim.load_state_dict(ck, cfg.cosine_period)
    except (RuntimeError, ValueError, KeyError) as e:
        raise VideoINRError(f"checkpoint {path} does not match this config: {str(e).splitlines()[0]}") from None
    set_rng_state({k: v.cpu() for k, v in ck["rng"].items()})
    resumed = Resumed(int(ck["step"]), float(ck["elapsed"]),
                      {k: float(v) for k, v in ck.get("last_val", {}).items()})
    changed = sorted(k for k, v in ck.get("config", {}).items()
                     if k not in RESUMABLE_CHANGES and cfg.to_dict().get(k) != v)
    if changed and warn:
        print(f"warning: resuming {path} with changed config keys: {', '.join(changed)}", file=sys.stderr)
    return resumed


# ------------------------------------------------------------------------------------------- metrics.csv


class MetricsLog:
    """`metrics.csv` (rank 0): one row per log step; validation columns filled at validation steps.
    Opening it rewrites the file with the header and, when resuming at `resume_step` > 0, the earlier rows
    up to that step."""

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        rows: list[list[str]] = []
        if resume_step > 0 and path.is_file():
            rows = self._read_rows(path, resume_step)
        text = io.StringIO()
        w = csv.writer(text)
        w.writerow(METRIC_COLUMNS)
        w.writerows(rows)
        atomic_write(path, text.getvalue().encode())

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
        """Append one row: `values` keyed by METRIC_COLUMNS (missing ones left empty; step as an integer)."""
        row = []
        for c in METRIC_COLUMNS:
            v = values.get(c)
            row.append("" if v is None else (str(int(v)) if c == "step" else f"{v:.9g}"))
        with open(self.path, "a", newline="") as f:  # an append, fsynced (fileio's one exception)
            csv.writer(f).writerow(row)
            f.flush()
            os.fsync(f.fileno())
