"""On the lent GPU: check the CUDA path against the CPU, measure the config's training steps per batch size,
and write the run's schedule into a training config (steps from the measured time per step).

    python scripts/device/probe.py CONFIG --base BASE_CONFIG --deadline EPOCH_S [--batches 24,48,96] [--json out.json]

Without CUDA (a dry run of the device script) everything runs on the CPU instead.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
import yaml

from videoinr import create_model
from videoinr.models import CONFIGS, VideoINR
from videoinr.train import charbonnier

DEV = "cuda" if torch.cuda.is_available() else "cpu"


def sync() -> None:
    if DEV == "cuda":
        torch.cuda.synchronize()


def cuda_vs_cpu() -> dict[str, float]:
    """Max |CUDA - CPU| of rendered frames (fp32 everywhere; cuDNN's TF32 convs left at PyTorch's default)."""
    torch.manual_seed(0)
    out = {}
    f0, f1 = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 40, 56)
    for name, model in (("lite", create_model("lite", pretrained=True)), ("paper", VideoINR(CONFIGS["paper"]))):
        model.eval().encode_bf16 = False
        for exact in (False, True):
            with torch.no_grad():
                ref = model.encode(f0, f1).render((120, 150), [0.0, 0.3, 1.0], exact=exact)
                model.to(DEV)
                got = model.encode(f0.to(DEV), f1.to(DEV)).render((120, 150), [0.0, 0.3, 1.0], exact=exact).cpu()
                model.cpu()
            out[f"{name}_{'exact' if exact else 'frame'}_maxdiff"] = float((got - ref).abs().max())
    return out


def step_time(name: str, batch: int, points: int, steps: int = 6, warm: int = 3) -> tuple[float, float]:
    """Seconds per bf16 training step (encode + query + Charbonnier + Adam) and peak GiB of config `name`."""
    torch.manual_seed(0)
    model = VideoINR(CONFIGS[name]).to(DEV).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    lr0, lr1 = torch.rand(batch, 3, 32, 32, device=DEV), torch.rand(batch, 3, 32, 32, device=DEV)
    coords = torch.rand(batch, points, 2, device=DEV) * 2 - 1
    t = torch.rand(batch, points, device=DEV)
    gt = torch.rand(batch, points, 3, device=DEV)
    if DEV == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(warm + steps):
        if i == warm:
            sync()
            t0 = time.perf_counter()
        with torch.autocast(DEV, dtype=torch.bfloat16):
            pred = model.encode(lr0, lr1).query(coords, t)
        loss = charbonnier(pred, gt, 1e-3)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync()
    peak = torch.cuda.max_memory_allocated() / 2**30 if DEV == "cuda" else float("nan")
    return (time.perf_counter() - t0) / steps, peak


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("config", help="training config to write the schedule into (waited for up to 300 s)")
    p.add_argument("--base", required=True, help="config that gives lr_patch and points_per_target")
    p.add_argument("--deadline", type=float, required=True, help="epoch seconds when training must end")
    p.add_argument("--load-seconds", type=float, default=25.0, help="data loading before the first step")
    p.add_argument("--batches", default="24,48,96")
    p.add_argument("--json")
    p.add_argument("--steps", type=int, default=6, help="timed steps per batch size (after 3 warm-up steps)")
    a = p.parse_args()
    torch.backends.cudnn.benchmark = True
    res: dict = {"device": torch.cuda.get_device_name() if DEV == "cuda" else "cpu", "torch": torch.__version__}
    t0 = time.perf_counter()
    try:
        res["cuda_vs_cpu"] = cuda_vs_cpu()
    except Exception as e:  # report, keep going: training matters more
        res["cuda_vs_cpu_error"] = repr(e)
    res["check_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(res), flush=True)
    cfg = yaml.safe_load(open(a.base))
    points = 3 * (cfg["lr_patch"] * 4) ** 2 if cfg.get("points_per_target") is None else 3 * cfg["points_per_target"]
    probes = {}
    best_b, best_rate = None, 0.0
    for b in [int(x) for x in a.batches.split(",")]:
        try:
            s, gib = step_time(cfg["model"], b, points, a.steps, min(3, a.steps))
        except torch.OutOfMemoryError:
            probes[b] = "OOM"
            break
        finally:
            if DEV == "cuda":
                torch.cuda.empty_cache()
        rate = b / s
        probes[b] = {"s_per_step": round(s, 4), "samples_per_s": round(rate, 1), "peak_gib": round(gib, 1)}
        print(b, probes[b], flush=True)
        # a larger batch only if it buys >= 15% more samples per second (more steps matter in a short run)
        if best_b is None or rate >= 1.15 * best_rate:
            best_b, best_rate = b, rate
    res["probe"] = probes
    for _ in range(300):  # the prepared config (videos decoded in parallel with this probe)
        if os.path.exists(a.config):
            break
        time.sleep(1)
    cfg = yaml.safe_load(open(a.config))
    s_step = best_b / best_rate
    train_seconds = a.deadline - time.time() - a.load_seconds
    steps = max(100, int(train_seconds / (s_step * 1.15)))  # 15% for data loading and validation
    cfg.update(batch_size=best_b, steps=steps, stage1_steps=int(0.75 * steps), cosine_period=steps,
               val_every=max(50, steps // 8), ckpt_every=max(100, steps // 2), log_every=25,
               time_limit=round(train_seconds / 60, 2))
    yaml.safe_dump(cfg, open(a.config, "w"), sort_keys=False)
    res["chosen"] = {"batch_size": best_b, "steps": steps, "s_per_step": round(s_step, 4),
                     "time_limit_min": cfg["time_limit"]}
    print(json.dumps(res), flush=True)
    if a.json:
        json.dump(res, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
