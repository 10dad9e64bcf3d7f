"""Interleaved A/B of renderer settings (lite, shipped weights): chunk size and GEMM precision.

Renders the 8 frames of one pair at x8, 180x320 -> 720x1280 (the bench's case and real frames), compiled,
alternating the variants for --rounds rounds in one process so that load from other jobs hits all alike;
prints per-frame best and median. `python benchmarks/render_ab.py [--rounds 5]`
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import load_pair, to_tensor  # noqa: E402

from videoinr import create_model  # noqa: E402

VARIANTS = {  # name: (max_query_points, render_bf16)
    "chunks of 2^14 points, float32 GEMMs": (1 << 14, False),
    "chunks of 2^16 points, float32 GEMMs": (1 << 16, False),
    "chunks of 2^16 points, bf16 GEMMs (default on native-bf16 CPUs)": (1 << 16, None),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    model = create_model("lite", pretrained=True).eval()
    model.compile_render = True
    f0, f1 = (to_tensor(f) for f in load_pair((180, 320)))
    times = [k / 8 for k in range(8)]
    res: dict[str, list[float]] = {k: [] for k in VARIANTS}
    with torch.inference_mode():
        state = model.encode(f0, f1)
        for rnd in range(a.rounds + 1):  # round 0: compile and warm up every variant
            for name, (chunk, bf16) in VARIANTS.items():
                model.max_query_points, model.render_bf16 = chunk, bf16
                t0 = time.perf_counter()
                state.render((720, 1280), times)
                if rnd:
                    res[name].append((time.perf_counter() - t0) / len(times))
    print(f"torch threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}, {a.rounds} rounds")
    print("| renderer variant | best | median |\n|---|---|---|")
    for name, v in res.items():
        v = sorted(v)
        print(f"| {name} | {v[0] * 1e3:.0f} ms | {v[len(v) // 2] * 1e3:.0f} ms |")


if __name__ == "__main__":
    main()
