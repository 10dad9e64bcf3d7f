"""`evaluate`: run a protocol's tasks through each method and score the predictions (PSNR/SSIM per frame,
pooled means, per sequence); also picks the frames whose crops the report shows."""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from videoinr.baselines import Method, Region, crop_region, get_method
from videoinr.data.frames import folder_videos, read_image
from videoinr.errors import VideoINRError
from videoinr.evaluate.protocol import PROTOCOLS, Task, build_tasks, make_lr, modcrop
from videoinr.metrics import flow, psnr, ssim, tof, visible, warping_error
from videoinr.runtime import inference_policy, pick_device

N_CROPS = 4  # sequences shown in crops/*.png


def _crop_targets(tasks: list[Task], n: int = N_CROPS) -> set[tuple[str, int]]:
    """(sequence, frame) of the frames shown in crops/: per sequence (first n), the middle task's frame
    nearest to t = 0.5."""
    chosen: list[tuple[str, int]] = []
    by_seq: dict[str, list[Task]] = {}
    for task in tasks:
        by_seq.setdefault(task.sequence, []).append(task)
    for seq, seq_tasks in list(by_seq.items())[:n]:
        task = seq_tasks[len(seq_tasks) // 2]
        target = min(task.targets, key=lambda tg: abs(tg.t - 0.5))
        chosen.append((seq, target.frame))
    return set(chosen)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def score_task(
    method: Method,
    task: Task,
    lr0: np.ndarray,
    lr1: np.ndarray,
    gts: Sequence[np.ndarray],
    channel: str = "y",
    region: Region | None = None,
) -> tuple[list[dict], list[np.ndarray], float]:
    """Predict a task's targets from its LR pair (uint8 (h, w, 3)) and score each against its ground truth
    (uint8 (H, W, 3) of the whole frame; only the (x, y, w, h) `region` of it is scored if given).

    Returns (one row per target: sequence, frame, t, k, psnr, ssim, in_average, center; the predictions;
    the seconds `predict` took). `evaluate` and training validation both score through here.
    """
    size = gts[0].shape[:2]
    start = time.perf_counter()
    preds = method.predict(lr0, lr1, [tg.t for tg in task.targets], size, region=region)
    seconds = time.perf_counter() - start
    rows = [
        {
            "sequence": task.sequence, "frame": tg.frame, "t": tg.t, "k": tg.k,
            "psnr": psnr(pred, gt, channel), "ssim": ssim(pred, gt, channel),
            "in_average": tg.in_average, "center": tg.center,
        }
        for tg, pred, gt in zip(task.targets, preds, crop_region(list(gts), region))
    ]
    return rows, preds, seconds


def evaluate(
    data: str | Path,
    methods: Sequence[str],
    protocol: str = "vid4",
    scale: int = 4,
    time_scale: int | None = None,
    clip_len: int | None = None,
    space_only: bool = False,
    channel: str = "y",
    device: str | None = None,
    max_frames: int | None = None,
    progress: bool = True,
) -> tuple[dict, dict[tuple[str, int], dict[str, np.ndarray]]]:
    """Run a protocol; returns (results dict as written to results.json, crops {(seq, frame): {name: image}}).

    ``methods``: ``--methods`` entries (baselines, model names, .safetensors paths). See the module doc.
    """
    if protocol not in PROTOCOLS:
        raise VideoINRError(f"unknown protocol '{protocol}': expected one of {', '.join(PROTOCOLS)}")
    if not float(scale).is_integer() or scale < 1:
        raise VideoINRError(f"--scale {scale}: must be a whole number >= 1 (frames are modcropped to a multiple)")
    scale = int(scale)
    if channel not in ("y", "rgb"):
        raise VideoINRError(f"--channel {channel}: expected y or rgb")
    if protocol == "clips":
        if time_scale is not None and clip_len is not None and clip_len != time_scale + 1:
            raise VideoINRError(f"--clip-len {clip_len} contradicts --time-scale {time_scale} (clip length = time scale + 1)")
        clip_len = clip_len if clip_len is not None else (time_scale + 1 if time_scale is not None else 9)
        if clip_len < 2:
            raise VideoINRError(f"--clip-len {clip_len}: a clip needs at least 2 frames")
        time_scale = clip_len - 1
    else:
        if clip_len is not None:
            raise VideoINRError("--clip-len applies to the clips protocol only (use --time-scale with vid4)")
        time_scale = time_scale if time_scale is not None else 2
        if time_scale < 1:
            raise VideoINRError(f"--time-scale {time_scale}: must be >= 1")
    if max_frames is not None and max_frames < 1:
        raise VideoINRError(f"--max-frames {max_frames}: must be >= 1")
    names = list(dict.fromkeys(m.strip() for m in methods if m.strip()))
    if not names:
        raise VideoINRError("--methods: no method given")

    videos = folder_videos(data)
    if max_frames is not None:
        videos = [(name, paths[:max_frames]) for name, paths in videos]
    tasks = build_tasks([(name, len(paths)) for name, paths in videos], protocol, time_scale, clip_len, space_only)
    paths_of = dict(videos)
    dev = pick_device(device or "auto")
    method_objs: list[Method] = [get_method(name, dev) for name in names]
    models = [m.model for m in method_objs if hasattr(m, "model")]
    if models:  # the numeric policy of the model runs, decided once for the whole evaluation
        frame_px = {seq: math.prod(_frame_size(paths[0])) for seq, paths in videos if paths}
        policy = inference_policy(dev, sum(len(task.targets) * frame_px[task.sequence] for task in tasks))
        for model in models:
            policy.apply(model)

    crop_keys = _crop_targets(tasks)
    crops: dict[tuple[str, int], dict[str, np.ndarray]] = {}
    per_frame: dict[str, list[dict]] = {name: [] for name in names}
    seconds = {name: 0.0 for name in names}
    seq_info: dict[str, dict] = {}
    cache: dict[tuple[str, int], np.ndarray] = {}

    def hr(seq: str, i: int) -> np.ndarray:
        if (seq, i) not in cache:
            img = read_image(paths_of[seq][i])
            if seq not in seq_info:
                seq_info[seq] = {"frames": len(paths_of[seq]), "size": list(img.shape[:2])}
            elif list(img.shape[:2]) != seq_info[seq]["size"]:
                raise VideoINRError(f"{paths_of[seq][i]}: frame size differs from the sequence's first frame")
            cropped = modcrop(img, scale)
            if cropped.shape[0] < scale or cropped.shape[1] < scale:
                raise VideoINRError(f"{paths_of[seq][i]}: {img.shape[1]}x{img.shape[0]} is smaller than the scale x{scale}")
            seq_info[seq]["cropped_size"] = list(cropped.shape[:2])
            cache[(seq, i)] = cropped
        return cache[(seq, i)]

    temporal = _Temporal()
    n_targets = sum(len(task.targets) for task in tasks)
    bar = tqdm(total=n_targets, unit="frame", desc=f"eval {protocol}", disable=not progress, file=sys.stderr)
    lr_cache: dict[tuple[str, int], np.ndarray] = {}
    try:
        for task in tasks:
            seq = task.sequence
            for key in [k for k in cache if k[0] != seq or k[1] < task.inputs[0]]:
                del cache[key]
            for key in [k for k in lr_cache if k[0] != seq or k[1] < task.inputs[0]]:
                del lr_cache[key]
            for i in task.inputs:
                if (seq, i) not in lr_cache:
                    lr_cache[(seq, i)] = make_lr(hr(seq, i), scale)
            lr0, lr1 = lr_cache[(seq, task.inputs[0])], lr_cache[(seq, task.inputs[1])]
            gts = [hr(seq, tg.frame) for tg in task.targets]
            outs = {}
            for name, method in zip(names, method_objs):
                rows, preds, secs = score_task(method, task, lr0, lr1, gts, channel)
                per_frame[name] += rows
                seconds[name] += secs
                outs[name] = (rows, preds)
                for tg, pred, gt in zip(task.targets, preds, gts):
                    if (seq, tg.frame) in crop_keys:
                        crops.setdefault((seq, tg.frame), {"GT": gt})[name] = pred
            temporal.add(seq, [tg.frame for tg in task.targets], gts, outs)
            bar.update(len(task.targets))
            bar.set_postfix_str(seq)
    finally:
        bar.close()  # ends the bar's line, so an error message starts on a line of its own

    results: dict = {
        "protocol": protocol,
        "data": str(Path(data).resolve()),
        "space_scale": scale,
        "time_scale": 1 if space_only else time_scale,
        "clip_len": clip_len if protocol == "clips" and not space_only else None,
        "space_only": space_only,
        "channel": channel,
        "border_crop": 0,
        "modcrop": scale,
        "max_frames": max_frames,
        "n_scored": sum(1 for r in per_frame[names[0]] if r["in_average"]),
        "sequences": seq_info,
        "methods": {},
    }
    for name, method in zip(names, method_objs):
        rows = per_frame[name]
        scored = [r for r in rows if r["in_average"]]
        entry: dict = {
            "label": method.label,
            "psnr": _mean([r["psnr"] for r in scored]),
            "ssim": _mean([r["ssim"] for r in scored]),
        }
        if protocol == "clips" and not space_only:
            center = [r for r in rows if r["center"]]
            entry["center"] = {"psnr": _mean([r["psnr"] for r in center]), "ssim": _mean([r["ssim"] for r in center])}
        entry["tof"] = _mean([r["tof"] for r in rows if "tof" in r])
        entry["warp"] = _mean([r["warp"] for r in rows if "warp" in r and not math.isnan(r["warp"])])
        entry["per_sequence"] = {
            seq: {
                "psnr": _mean([r["psnr"] for r in scored if r["sequence"] == seq]),
                "ssim": _mean([r["ssim"] for r in scored if r["sequence"] == seq]),
                "tof": _mean([r["tof"] for r in rows if r["sequence"] == seq and "tof" in r]),
                "frames": sum(1 for r in scored if r["sequence"] == seq),
            }
            for seq in seq_info
        }
        entry["per_frame"] = rows
        entry["seconds"] = seconds[name]
        results["methods"][name] = entry
    return results, crops


class _Temporal:
    """Temporal stability of every method (`metrics.tof`, `metrics.warping_error`), scored on each pair of
    consecutive frames of a sequence (frame f - 1 from this or the previous task): the ground truth's
    flows are computed once per pair and shared by the methods; the values go into each frame's row."""

    def __init__(self) -> None:
        self.prev: dict[str, tuple[int, np.ndarray, dict[str, np.ndarray]]] = {}  # seq -> (frame, gt, preds)

    def add(self, seq: str, frames: list[int], gts: list[np.ndarray], outs: dict[str, tuple[list[dict], list]]) -> None:
        for j, (frame, gt) in enumerate(zip(frames, gts)):
            preds = {name: p[j] for name, (_, p) in outs.items()}
            last = self.prev.get(seq)
            if last is not None and last[0] == frame - 1:
                gt_flow, back = flow(last[1], gt), flow(gt, last[1])
                mask = visible(back, gt_flow)
                for name, (rows, _) in outs.items():
                    rows[j]["tof"] = tof(last[2][name], preds[name], gt_flow)
                    rows[j]["warp"] = warping_error(last[2][name], preds[name], back, mask)
            self.prev[seq] = (frame, gt, preds)


def _frame_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file."""
    return read_image(path).shape[:2]
