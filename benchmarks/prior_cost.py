"""Cost of the classical-flow prior (`flow_prior`): DIS flows of one pair, both directions, against the
`lite` encoder on the same pair and size, in one run. Prints a table (median of --reps, wall clock).

Real frames: two frames of sam2 01_dog, 4 frames apart (real motion), MATLAB-bicubic downscaled to each LR
size; 180x320 is the LR input of a 720p output at x4, 720x1280 the LR input of a 4K output at x3.

    python benchmarks/prior_cost.py [--reps 5] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from videoinr.data.imresize import imresize
from videoinr.data.video import iter_video
from videoinr.models import CONFIGS, VideoINR
from videoinr.models.prior import pair_flows

CLIP = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "train" / "sam2_clips" / "01_dog.mp4"
SIZES = [(180, 320), (360, 640), (720, 1280)]


def frames(gap: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    out = []
    for i, fr in enumerate(iter_video(CLIP)):
        if i in (0, gap):
            out.append(torch.from_numpy(fr.image).permute(2, 0, 1).float())
        if i >= gap:
            return out[0], out[1]
    raise SystemExit(f"{CLIP}: fewer than {gap + 1} frames")


def median_time(fn, reps: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    a, b = frames()
    plain = VideoINR(CONFIGS["lite"].__class__(**{**CONFIGS["lite"].to_dict(), "flow_prior": False})).eval()
    print(f"threads {torch.get_num_threads()}, load {' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}")
    print("| LR size | DIS both directions (s) | lite encode without prior (s) | prior / encode | per output frame at x8 (s) |")
    print("|---|---|---|---|---|")
    for h, w in SIZES:
        lr = [(imresize(x, size=(h, w)).round().clamp(0, 255) / 255)[None] for x in (a, b)]
        t_flow = median_time(lambda: pair_flows(*lr), args.reps)
        with torch.inference_mode():
            t_enc = median_time(lambda: plain.encode(*lr), max(1, args.reps // 2))
        mag = pair_flows(*lr)[0, :2].norm(dim=0)
        print(f"| {h}x{w} (mean motion {mag.mean():.1f} px) | {t_flow:.3f} | {t_enc:.3f} | {t_flow / t_enc:.2f} | "
              f"{t_flow / 8:.4f} |")


if __name__ == "__main__":
    main()
