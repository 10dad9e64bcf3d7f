"""`check`: degrade the sampled scenes as `videoinr eval` does, bring them back with the model and the
classical baselines, score everything with the evaluator's own functions, and time the model.

Per scene of n frames the tasks are `build_tasks([(scene, n)], "vid4", time_scale=N)`: inputs are frames
0, N, 2N, ... of the scene, modcropped and MATLAB-bicubic downsampled (`evaluate.protocol.make_lr`); every
frame up to the scene's last input is predicted (`evaluate.runner.score_task`) and scored (PSNR/SSIM on Y);
tOF and warping error on consecutive frames (`evaluate.runner._Temporal`). A frame is *interpolated* when
its t is strictly between its pair's inputs, else *input-time* (t = 0 or 1: super-resolution only).
"""
from __future__ import annotations

import math
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from videoinr.baselines import BASELINES, get_method
from videoinr.errors import VideoINRError
from videoinr.evaluate.protocol import build_tasks, make_lr, modcrop
from videoinr.evaluate.runner import _Temporal, score_task
from videoinr.check.sampling import Factors, iter_scenes, open_source, plan_segments, resolve_factors
from videoinr.runtime import inference_policy, pick_device

REFERENCE = "flow-bicubic"  # the baseline the verdict compares the model with
DEFAULT_SECONDS = 3.0


def _crop(img: np.ndarray, scale: float) -> np.ndarray:
    """modcrop to a multiple of the scale (of its numerator for a fractional scale: 1.5 = 3/2 -> 3)."""
    if float(scale).is_integer():
        return modcrop(img, int(scale))
    p = Fraction(scale).limit_denominator(64).numerator
    return modcrop(img, p) if p <= min(img.shape[:2]) else img


def _mean(values) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def _summary(rows: list[dict]) -> dict:
    return {
        "psnr": _mean(r["psnr"] for r in rows), "ssim": _mean(r["ssim"] for r in rows),
        "tof": _mean(r.get("tof") for r in rows), "warp": _mean(r.get("warp") for r in rows),
        "frames": len(rows),
    }


def _split(rows: list[dict]) -> dict:
    return {
        "interpolated": _summary([r for r in rows if r["interpolated"]]),
        "input_time": _summary([r for r in rows if not r["interpolated"]]),
        "all": _summary(rows),
    }


def check(
    video: str | Path,
    *,
    scale: float | str | None = None,
    time_scale: int | str | None = None,
    size: str | None = None,
    fps: float | str | None = None,
    model: str = "lite",
    seconds: float = DEFAULT_SECONDS,
    device: str = "auto",
    input_fps: float | None = None,
    baselines: tuple[str, ...] = tuple(BASELINES),
    progress: bool = True,
) -> tuple[dict, dict]:
    """Check `model` against the baselines on a sample of `video` (see the module doc and docs/CHECK.md).

    Returns (results as written to results.json, crops {"gain"|"loss": {"frame": row, "images": {...}}}).
    Raises VideoINRError for bad input before any long work.
    """
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        raise VideoINRError(f"--seconds {seconds}: expected a number of seconds, e.g. 6") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise VideoINRError(f"--seconds {seconds:g}: must be a positive number of seconds")
    src = open_source(video, input_fps)
    fac: Factors = resolve_factors(src.width, src.height, src.fps, scale, time_scale, size, fps)
    need = fac.time_scale + 1
    if src.n < need:
        raise VideoINRError(f"{src.path}: {src.n} frame{'s' if src.n != 1 else ''}; time x{fac.time_scale} needs at "
                            f"least {need} consecutive frames of one scene to check")
    dev = pick_device(device)
    names = [model, *[b for b in baselines if b != model]]
    if REFERENCE not in names:
        names.append(REFERENCE)
    methods = [get_method(n, dev) for n in names]  # a bad --model fails here, before decoding
    if not hasattr(methods[0], "model"):
        raise VideoINRError(f"--model {model}: not a VideoINR model (lite, paper or a .safetensors file)")
    segments = plan_segments(src.n, src.fps, seconds, need)
    sampled = sum(len(s) for s in segments)
    out_px = sampled * src.width * src.height
    # a short job: eager rendering (compiling costs ~40 s once); the encoder's precision as eval decides it
    inference_policy(dev, out_px, compile=False).apply(methods[0].model)

    per_frame: dict[str, list[dict]] = {n: [] for n in names}
    seconds_of = {n: 0.0 for n in names}
    model_task_secs: list[float] = []
    scenes_info: list[dict] = []
    extremes: dict[str, tuple[float, dict, dict] | None] = {"gain": None, "loss": None}
    dropped_total = 0
    start = time.perf_counter()
    bar = tqdm(total=sampled, unit="frame", desc="check", disable=not progress, file=sys.stderr)
    try:
        for seg, scenes, dropped in iter_scenes(src, segments, need):
            dropped_total += dropped
            bar.update(dropped)
            for scene in scenes:
                hr = [_crop(f, fac.scale) for f in scene.frames]
                n = len(hr)
                tasks = build_tasks([(scene.name, n)], "vid4", time_scale=fac.time_scale)
                scored = sum(len(t.targets) for t in tasks)
                bar.update(n - scored)  # trailing frames after the scene's last input are not scored
                temporal = _Temporal()
                lr: dict[int, np.ndarray] = {}
                for task in tasks:
                    for i in task.inputs:
                        if i not in lr:
                            lr[i] = make_lr(hr[i], fac.scale)
                    for i in [i for i in lr if i < task.inputs[0]]:
                        del lr[i]
                    gts = [hr[tg.frame] for tg in task.targets]
                    outs = {}
                    for name, method in zip(names, methods):
                        rows, preds, secs = score_task(method, task, lr[task.inputs[0]], lr[task.inputs[1]], gts)
                        seconds_of[name] += secs
                        if name == model:
                            model_task_secs.append(secs)
                        for row in rows:
                            src_index = scene.start + row["frame"]
                            row.update(scene=scene.name, source_frame=src_index, time_s=src_index / float(src.fps),
                                       interpolated=0.0 < row["t"] < 1.0)
                            for key in ("in_average", "center", "sequence"):
                                row.pop(key, None)
                        outs[name] = (rows, preds)
                        per_frame[name] += rows
                    temporal.add(scene.name, [tg.frame for tg in task.targets], gts, outs)
                    _track(extremes, outs, gts, model)
                    bar.update(len(task.targets))
                    bar.set_postfix_str(scene.name.split(" (")[0])
                scenes_info.append({"name": scene.name, "start_frame": scene.start, "frames": n,
                                    "scored": scored, "start_s": scene.t0, "end_s": scene.t1, "whole": scene.whole})
    finally:
        bar.close()
    if not scenes_info:
        raise VideoINRError(f"{src.path}: no scene of at least {need} frames in the sampled segments (every shot "
                            f"is shorter than time x{fac.time_scale} needs)")
    wall = time.perf_counter() - start

    crop_h, crop_w = _crop(np.zeros((src.height, src.width, 1), np.uint8), fac.scale).shape[:2]
    results: dict = {
        "video": str(src.path.resolve()),
        "kind": src.kind,
        "source": {"frames": src.n, "fps": float(src.fps), "width": src.width, "height": src.height,
                   "seconds": src.seconds},
        "space_scale": fac.scale,
        "time_scale": fac.time_scale,
        "factors": fac.label(),
        "scored_size": [crop_h, crop_w],
        "lr_size": list(make_lr(np.zeros((crop_h, crop_w, 3), np.uint8), fac.scale).shape[:2]),
        "model": model,
        "reference": REFERENCE,
        "segments": [[s.start, s.stop] for s in segments],
        "sampled_frames": sampled,
        "dropped_short_shot_frames": dropped_total,
        "scenes": scenes_info,
        "channel": "y",
        "device": str(dev),
        "check_seconds": wall,
        "methods": {},
    }
    for name, method in zip(names, methods):
        rows = per_frame[name]
        entry = {"label": method.label, **_split(rows), "seconds": seconds_of[name]}
        entry["per_scene"] = {s["name"]: _split([r for r in rows if r["scene"] == s["name"]]) for s in scenes_info}
        entry["per_frame"] = rows
        results["methods"][name] = entry
    results["estimate"] = _estimate(src, fac, model_task_secs)
    crops = {k: {"row": v[1], "images": v[2]} for k, v in extremes.items() if v is not None}
    return results, crops


def _track(extremes: dict, outs: dict, gts: list[np.ndarray], model: str) -> None:
    """Keep the frames where the model gains and loses most against REFERENCE (interpolated frames first:
    an interpolated frame replaces an input-time one whatever their deltas)."""
    m_rows, m_preds = outs[model]
    r_rows, r_preds = outs[REFERENCE]
    for j, (mr, rr) in enumerate(zip(m_rows, r_rows)):
        d = mr["psnr"] - rr["psnr"]
        if not math.isfinite(d):
            continue
        row = {"scene": mr["scene"], "source_frame": mr["source_frame"], "time_s": mr["time_s"], "t": mr["t"],
               "interpolated": mr["interpolated"], "model_psnr": mr["psnr"], "reference_psnr": rr["psnr"],
               "delta": d}
        for key in ("gain", "loss"):
            cur = extremes[key]
            rank = (mr["interpolated"], d if key == "gain" else -d)
            if cur is None or rank > cur[0]:
                images = {"original": gts[j], model: m_preds[j], REFERENCE: r_preds[j]}
                extremes[key] = (rank, row, images)


def _estimate(src, fac: Factors, task_secs: list[float]) -> dict:
    """Whole-file time of `videoinr upscale` at these factors, from the model's timing in this check: the
    fastest pair here after the first (as `upscale`'s own estimate keeps the faster of two timings: on a
    shared machine the slower ones measure the other jobs) (one encode at the downscaled size, N frames rendered at the original size)
    times the whole file's F - 1 pairs, times scale^2 (the real run encodes the original and renders N frames
    scale^2 times as large; cost taken as linear in pixels). Eager rendering on this device; a long run
    that compiles is faster."""
    if not task_secs:
        return {"seconds": math.nan, "method": "none"}
    per_pair = min(task_secs[1:] or task_secs)  # the first pays one-off costs; the fastest is the least loaded
    pairs = max(1, src.n - 1)
    secs = per_pair * pairs * fac.scale**2
    return {"seconds": secs, "per_pair_seconds_here": per_pair, "pairs_whole_file": pairs,
            "pixel_factor": fac.scale**2, "pairs_timed": len(task_secs),
            "method": "measured in this check (fastest pair after the first) x pairs of the whole file x scale^2"}
