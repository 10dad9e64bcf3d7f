"""Seconds per training step of `lite` and `paper`: fp32 vs bf16, whole-patch vs point-sampled.

Runs the real training loop (`videoinr.train.train`: data, degradation, forward, Charbonnier, backward,
Adam) for warmup + N steps per variant at stage-1 scale x4 on one real clip (DAVIS kite-surf), with batch
and LR patch from configs/<model>.yaml unless overridden, and prints a table of the median sec/step of the
timed steps plus the speed-up of each option. The load average is printed with each row: on a shared
machine the noise is large, so compare rows measured close together.

    python benchmarks/train_speed.py                       # lite and paper, all four variants
    python benchmarks/train_speed.py --models lite --steps 5 --threads 1
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "train"


def measure(model: str, precision: str, points: int | None, batch: int, lr_patch: int, steps: int, warmup: int,
            threads: int | None) -> float:
    """Median sec/step of the timed steps of one short run."""
    from videoinr.train import load_config, train

    over = {
        "model": model, "precision": precision, "points_per_target": points, "batch_size": batch,
        "lr_patch": lr_patch, "steps": warmup + steps, "stage1_steps": warmup + steps, "log_every": 1,
        "ckpt_every": 10**9, "val_source": None, "threads": threads, "num_workers": 0,
        "sources": [{"path": str(DATA / "davis480p" / "kite-surf"), "kind": "folder", "window": 5}],
    }
    cfg = load_config(ROOT / "configs" / f"{model}.yaml", over)
    with tempfile.TemporaryDirectory() as tmp:
        train(cfg, tmp, progress=False)
        with open(Path(tmp) / "metrics.csv", newline="") as f:
            secs = [float(r["sec_per_step"]) for r in csv.DictReader(f)]
    return statistics.median(secs[warmup:])


def main(argv: list[str] | None = None) -> int:
    import yaml

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lite", "paper"])
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--points", type=int, default=None,
                   help="points per target of the point-sampled variant (default: configs/lite.yaml's)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--batch", type=str, default=None,
                   help="batch per model, e.g. lite=8,paper=4 (default: the configs'); whole-patch paper "
                        "at batch 24 needs ~20 GB, so its time is extrapolated from --paper-whole-batch")
    p.add_argument("--paper-whole-batch", type=int, default=4,
                   help="batch for paper whole-patch runs; sec/step is scaled linearly to the config batch")
    args = p.parse_args(argv)
    lite_cfg = yaml.safe_load((ROOT / "configs" / "lite.yaml").read_text())
    points = args.points or lite_cfg["points_per_target"]
    batches = dict(kv.split("=") for kv in args.batch.split(",")) if args.batch else {}

    rows = []
    print(f"{'model':6} {'precision':9} {'mode':14} {'batch':>5} {'lr_patch':>8} {'sec/step':>9}  load", flush=True)
    for model in args.models:
        cfg = yaml.safe_load((ROOT / "configs" / f"{model}.yaml").read_text())
        batch, lr_patch = int(batches.get(model, cfg["batch_size"])), int(cfg["lr_patch"])
        for mode in ("whole", f"points={points}"):
            for prec in args.precisions:
                pts = None if mode == "whole" else points
                b, note = batch, ""
                if model == "paper" and pts is None and batch > args.paper_whole_batch:
                    b, note = args.paper_whole_batch, f" (measured at batch {args.paper_whole_batch}, x{batch / args.paper_whole_batch:g})"
                sec = measure(model, prec, pts, b, lr_patch, args.steps, args.warmup, args.threads) * batch / b
                rows.append((model, prec, mode, sec))
                load = os.getloadavg()[0]
                print(f"{model:6} {prec:9} {mode:14} {batch:5d} {lr_patch:8d} {sec:9.2f}  {load:.1f}{note}", flush=True)
    print("\nspeed-ups (ratio of sec/step):")
    table = {(m, p, mo): s for m, p, mo, s in rows}
    for model in args.models:
        base = table.get((model, "fp32", "whole"))
        for (m, p, mo), s in table.items():
            if m == model and base and (p, mo) != ("fp32", "whole"):
                print(f"  {model}: {p} {mo} vs fp32 whole: x{base / s:.2f}")
        if "bf16" in args.precisions and "fp32" in args.precisions:
            for mo in ("whole", f"points={points}"):
                print(f"  {model}: bf16 vs fp32 ({mo}): x{table[(model, 'fp32', mo)] / table[(model, 'bf16', mo)]:.2f}")
        for p in args.precisions:
            print(f"  {model}: points={points} vs whole ({p}): "
                  f"x{table[(model, p, 'whole')] / table[(model, p, f'points={points}')]:.2f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
