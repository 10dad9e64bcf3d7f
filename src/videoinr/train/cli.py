"""`videoinr train` / `python -m videoinr.train`: the command line (config file, run folder, overrides)."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from videoinr.errors import ArgumentParser
from videoinr.train.config import load_config
from videoinr.train.loop import train

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The `videoinr train` argument parser."""
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
