"""On the lent GPU: time encode per 180x320 pair and render per 720p output frame at time x8 (the CPU
benchmark's case, benchmarks/bench.py), for lite (shipped) and paper (the given weights), per precision.

    python scripts/device/bench_cuda.py [--paper WEIGHTS] [--size 180x320] [--reps 5]
"""
from __future__ import annotations

import argparse
import time

import torch

from videoinr import create_model, load_weights
from videoinr.models import CONFIGS, VideoINR
from videoinr.runtime import native_bf16

DEV = "cuda" if torch.cuda.is_available() else "cpu"


def timed(fn, reps: int) -> float:
    """Median seconds of fn() over reps runs (synchronized), after one warm-up run."""
    fn()
    out = []
    for _ in range(reps):
        if DEV == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if DEV == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return sorted(out)[len(out) // 2]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--paper")
    p.add_argument("--size", default="180x320")
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    h, w = (int(v) for v in a.size.split("x"))
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    f0, f1 = torch.rand(1, 3, h, w, device=DEV), torch.rand(1, 3, h, w, device=DEV)
    times = [k / 8 for k in range(8)]
    models = {"lite": create_model("lite", pretrained=True),
              "paper": load_weights(a.paper) if a.paper else VideoINR(CONFIGS["paper"])}
    print(f"device {torch.cuda.get_device_name() if DEV == 'cuda' else 'cpu'}, torch {torch.__version__}, "
          f"input {w}x{h} -> {4 * w}x{4 * h}, x8 (8 frames per pair), median of {a.reps}")
    print("| config | precision | encode s/pair | render s/frame (frame form) | exact form | s per output frame | peak GiB |")
    print("|---|---|---|---|---|---|---|")
    for name, model in models.items():
        model.to(DEV).eval()
        for prec in ("default", "fp32", "bf16"):
            model.encode_bf16 = native_bf16(torch.device(DEV)) if prec == "default" else prec == "bf16"
            ac = torch.autocast(DEV, dtype=torch.bfloat16, enabled=prec == "bf16")
            if DEV == "cuda":
                torch.cuda.reset_peak_memory_stats()
            with torch.inference_mode():
                with ac:
                    state = model.encode(f0, f1)
                enc = timed(lambda: model.encode(f0, f1), a.reps)  # encoder precision: encode_bf16 / default

                def rend(exact: bool) -> None:
                    with ac:
                        state.render((4 * h, 4 * w), times, exact=exact)

                ren = timed(lambda: rend(False), a.reps) / 8
                ex = timed(lambda: rend(True), max(1, a.reps // 2)) / 8
            peak = torch.cuda.max_memory_allocated() / 2**30 if DEV == "cuda" else float("nan")
            print(f"| {name} | {prec} | {enc:.4f} | {ren:.4f} | {ex:.4f} | {enc / 8 + ren:.4f} | {peak:.1f} |", flush=True)
        model.cpu()


if __name__ == "__main__":
    main()
