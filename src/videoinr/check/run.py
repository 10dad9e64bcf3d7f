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
ENCODE_TIMING_FRAMES = 6  # original frames kept for the whole-file estimate (encode pair, writer timing)
WRITE_TIMING_FRAMES = 6
RENDER_TIMING_PIXELS = 8_000_000  # the estimate renders at most this many output pixels at the real size
CHEAP_TIMING_S = 5.0  # the estimate's encode is timed twice (the faster kept) when one takes less


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
    startup_seconds: float = 0.0,
) -> tuple[dict, dict]:
    """Check `model` against the baselines on a sample of `video` (see the module doc and docs/CHECK.md).

    `startup_seconds`: how long this process took to start before the call (the CLI passes it; the whole-file
    estimate counts it, as a fresh `videoinr upscale` pays it too).
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
    t_load = time.perf_counter()
    methods = [get_method(n, dev) for n in names]  # a bad --model fails here, before decoding
    load_secs = time.perf_counter() - t_load
    if not hasattr(methods[0], "model"):
        raise VideoINRError(f"--model {model}: not a VideoINR model (lite, paper or a .safetensors file)")
    segments = plan_segments(src.n, src.fps, seconds, need)
    sampled = sum(len(s) for s in segments)
    out_px = sampled * src.width * src.height
    # a short job: eager rendering (compiling costs ~40 s once); the encoder's precision as eval decides it
    inference_policy(dev, out_px, compile=False).apply(methods[0].model)

    per_frame: dict[str, list[dict]] = {n: [] for n in names}
    seconds_of = {n: 0.0 for n in names}
    scenes_info: list[dict] = []
    extremes: dict[str, tuple[float, dict, dict] | None] = {"gain": None, "loss": None}
    dropped_total = 0
    start = time.perf_counter()
    bar = tqdm(total=sampled, unit="frame", desc="check", disable=not progress, file=sys.stderr)
    read_secs = [0.0]  # decoding and cut detection of the sample (the generator's own time)
    timing_frames: list[np.ndarray] = []  # the first consecutive frames of a scene, as read (for the estimate)
    try:
        for seg, scenes, dropped in _timed(iter_scenes(src, segments, need), read_secs):
            dropped_total += dropped
            bar.update(dropped)
            for scene in scenes:
                if not timing_frames:
                    timing_frames = list(scene.frames[:ENCODE_TIMING_FRAMES])
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
    if progress:
        print(f"check: timing one pair of {src.width}x{src.height} frames at the output size for the whole-file "
              "estimate", file=sys.stderr)
    results["estimate"] = whole_file_estimate(
        src, fac, methods[0].model, dev, timing_frames, read_seconds_per_frame=read_secs[0] / max(1, sampled),
        startup_seconds=startup_seconds + load_secs)
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


def _timed(it, acc: list[float]):
    """Yield from `it`, adding the seconds spent inside it (not in the caller's loop body) to acc[0]."""
    it = iter(it)
    while True:
        t0 = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            acc[0] += time.perf_counter() - t0
            return
        acc[0] += time.perf_counter() - t0
        yield item


def _sync(device) -> None:
    if getattr(device, "type", "") == "cuda":
        import torch

        torch.cuda.synchronize(device)


def whole_file_estimate(src, fac: Factors, net, device, frames: list[np.ndarray], *, read_seconds_per_frame: float,
                        startup_seconds: float = 0.0) -> dict:
    """Seconds `videoinr upscale` of the whole file at these factors would take, from upscale's own cost
    model measured here at the real size (docs/CHECK.md):

    startup (this process's start and model load) + 2 x F x (decode + cut detection per source frame, timed
    on the sample: upscale's scan and its render each decode the file) + (F - 1) x one encode of two original
    frames (DIS prior included) + [the compile, when `runtime.inference_policy` would compile this job] +
    output frames x (render time per frame: upscale's first render call, the pair's first N times at the
    output size, with upscale's memory budget, the faster of two calls; compiled when
    `runtime.inference_policy` compiles this job, after a first call that compiles and counts as the compile) +
    H.264 encode time per output frame, timed on original frames resized to the output size).

    `frames`: consecutive original frames (at least 2) of one scene. Renders at most RENDER_TIMING_PIXELS
    (a band of the frame, scaled by its pixels, beyond). Returns a dict with "seconds" and every term."""
    import torch

    from videoinr.data.convert import to_float
    from videoinr.pipeline.budget import default_memory, make_budget
    from videoinr.pipeline.job import output_size
    from videoinr import runtime

    if len(frames) < 2:
        return {"seconds": math.nan, "method": "no two consecutive frames to time"}
    F, N = src.n, fac.time_scale
    H, W = output_size((src.height, src.width), fac.scale, None)
    n_out = (F - 1) * N + 1
    pairs = max(1, F - 1)
    try:
        budget = make_budget(net, (src.height, src.width), (H, W), default_memory(device), "upscale", device)
    except VideoINRError as e:  # upscale refuses this size under its default memory limit
        return {"seconds": math.nan, "refused": str(e), "method": f"not estimated: {e}"}
    policy = runtime.inference_policy(device, n_out * H * W)  # the decision upscale makes for this job
    times = [k / N for k in range(N)][: budget.t_per_call]  # the first render call of a pair in upscale
    if len(times) * H * W > RENDER_TIMING_PIXELS:
        times = times[:1]
    region, frac = None, 1.0
    if H * W > RENDER_TIMING_PIXELS:  # a band of full rows through the middle, scaled by its pixels
        rows = max(1, RENDER_TIMING_PIXELS // W)
        region, frac = (0, (H - rows) // 2, W, rows), rows / H
    old_points = net.max_query_points
    saved = {k: getattr(net, k) for k in ("compile_render", "encode_bf16", "render_bf16")}
    try:
        net.max_query_points = budget.max_query_points
        a, b = (to_float(f, device).unsqueeze(0) for f in frames[:2])
        with torch.inference_mode():
            encodes = []
            while len(encodes) < 2 and (not encodes or encodes[0] < CHEAP_TIMING_S):  # a second when cheap
                t0 = time.perf_counter()
                state = net.encode(a, b)
                _sync(device)
                encodes.append(time.perf_counter() - t0)
            t_enc = min(encodes)  # the fastest: on a shared machine the slower one measures the other jobs

            def call() -> float:
                t0 = time.perf_counter()
                state.render(size=(H, W), t=times, region=region)
                _sync(device)
                return time.perf_counter() - t0

            compile_s = 0.0
            if policy.compile_render:  # upscale compiles this job: a first call compiles (the check scored eagerly)
                policy.apply(net)
                first = call()
            calls = [call(), call()]
            if policy.compile_render:
                compile_s = max(0.0, first - min(calls))
            t_render = min(calls) / len(times) / frac
        del state
    finally:
        net.max_query_points = old_points
        for k, v in saved.items():
            setattr(net, k, v)
    t_write = _time_writer(frames, (H, W), src.fps * N)
    read = 2 * F * read_seconds_per_frame
    secs = startup_seconds + read + pairs * t_enc + compile_s + n_out * (t_render + t_write)
    return {
        "seconds": secs, "method": "upscale's cost model at the real size (docs/CHECK.md)",
        "output_size": [H, W], "output_frames": n_out, "pairs_whole_file": pairs, "compile": policy.compile_render,
        "startup_seconds": startup_seconds, "read_seconds": read, "encode_seconds_per_pair": t_enc,
        "render_seconds_per_frame": t_render,
        "render_timed": {"frames": len(times), "band_rows": region[3] if region else None},
        "compile_seconds": compile_s, "write_seconds_per_frame": t_write,
    }


def _time_writer(frames: list[np.ndarray], out_hw: tuple[int, int], fps) -> float:
    """Seconds per frame of upscale's default video encoder (libx264, CRF 18) at the output size, on the
    given original frames resized to it (real motion), written to a temporary file that is then removed."""
    import tempfile

    import cv2

    from videoinr.data.video import VideoWriter

    H, W = out_hw
    imgs = [cv2.resize(f, (W, H), interpolation=cv2.INTER_CUBIC) for f in frames[:WRITE_TIMING_FRAMES]]
    with tempfile.TemporaryDirectory(prefix="videoinr-check-") as d:
        t0 = time.perf_counter()
        with VideoWriter(Path(d) / "t.mp4", fps) as w:
            for img in imgs:
                w.write(img)
        return (time.perf_counter() - t0) / len(imgs)
