"""``videoinr eval``: the paper's evaluation protocols on any ``<root>/<sequence>/<frames>`` dataset.

Protocols (HR frames are modcropped to a multiple of the space scale S, then bicubic-downsampled by S with
the project's MATLAB-compatible ``degrade``):

- ``vid4`` (Table 1, Vid4): inputs are frames 0, N, 2N, ... (time scale N, default 2); every frame up to the
  last input is predicted, frame i + k of the pair (i, i + N) at t = k / N. A sequence's trailing frames are
  scored only when they are inputs.
- ``clips`` (Table 1 GoPro/Adobe240, Table 2): non-overlapping clips of L frames (default 9; time scale N
  means L = N + 1); inputs are each clip's first and last frame, frame k is predicted at t = k / (L - 1).
  -Center is k = (L - 1) // 2, -Average is k = 0 .. L - 2 (the main number), pooled over all clips.
- ``--space-only`` (Table 5 sweep): every frame at t = 0, from the pair (i, i + 1) (the last frame at t = 1).

Metrics are PSNR and SSIM on the BT.601 Y channel (``--channel rgb`` for RGB), no border crop, on
predictions quantised to uint8, pooled over all scored frames. Outputs in ``--out``: ``results.json``,
``results.md`` (also printed), ``psnr_vs_t.png`` and ``crops/*.png``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from videoinr.baselines import Method, get_method
from videoinr.data.frames import folder_videos, read_image
from videoinr.data.imresize import degrade
from videoinr.errors import ArgumentParser, VideoINRError
from videoinr.metrics import psnr, ssim
from videoinr.runtime import inference_policy, pick_device

__all__ = [
    "Target",
    "Task",
    "build_tasks",
    "modcrop",
    "make_lr",
    "evaluate",
    "write_outputs",
    "check_out",
    "format_table",
    "add_arguments",
    "run",
    "main",
]

PROTOCOLS = ("vid4", "clips")
CROP = 160  # side of the crops in crops/*.png (HR pixels)
N_CROPS = 4


@dataclass
class Target:
    """One predicted frame: its index in the sequence, time t in [0, 1] within its pair, position k."""

    frame: int
    t: float
    k: int
    in_average: bool = True  # counted in the pooled mean
    center: bool = False  # the -Center frame of a clip


@dataclass
class Task:
    """Two input frames (indices into the sequence) and the frames predicted from them."""

    sequence: str
    inputs: tuple[int, int]
    targets: list[Target] = field(default_factory=list)


def build_tasks(
    sequences: Sequence[tuple[str, int]],
    protocol: str,
    time_scale: int | None = None,
    clip_len: int | None = None,
    space_only: bool = False,
) -> list[Task]:
    """The protocol's tasks for sequences given as [(name, number of frames)].

    Raises VideoINRError when a sequence is too short for the protocol.
    """
    tasks: list[Task] = []
    for name, n in sequences:
        if space_only:
            if n < 2:
                tasks.append(Task(name, (0, 0), [Target(0, 0.0, 0)]))
                continue
            for i in range(n):
                pair = (i, i + 1) if i < n - 1 else (n - 2, n - 1)
                tasks.append(Task(name, pair, [Target(i, 0.0 if i < n - 1 else 1.0, 0)]))
        elif protocol == "vid4":
            step = time_scale or 2
            if n < step + 1:
                raise VideoINRError(f"sequence '{name}': {n} frames, too few for time x{step} (needs {step + 1})")
            starts = list(range(0, n - step, step))
            for j, i in enumerate(starts):
                last = j == len(starts) - 1
                ks = range(step + 1) if last else range(step)
                tasks.append(Task(name, (i, i + step), [Target(i + k, k / step, k) for k in ks]))
        elif protocol == "clips":
            length = clip_len or 9
            if n < length:
                raise VideoINRError(f"sequence '{name}': {n} frames, too few for a clip of {length} frames")
            center = (length - 1) // 2
            for c in range(0, n - length + 1, length):
                targets = [
                    Target(c + k, k / (length - 1), k, in_average=k < length - 1, center=k == center)
                    for k in range(length)
                ]
                tasks.append(Task(name, (c, c + length - 1), targets))
        else:
            raise VideoINRError(f"unknown protocol '{protocol}': expected one of {', '.join(PROTOCOLS)}")
    return tasks


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop an image (H, W, C) at the bottom/right to a multiple of ``scale`` on each side."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """Low-resolution input uint8 (H/s, W/s, 3) of a modcropped uint8 RGB frame: MATLAB bicubic ``degrade``."""
    x = torch.from_numpy(np.ascontiguousarray(hr)).permute(2, 0, 1).float() / 255.0
    lr = degrade(x, scale)  # clamped and quantised to 8 bits inside
    return (lr * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()


def _pick_crop(gt: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the size x size window (stride size/2) with the most gradient energy in ``gt``."""
    h, w = gt.shape[:2]
    cw, ch = min(size, w), min(size, h)
    g = cv2.cvtColor(gt, cv2.COLOR_RGB2GRAY).astype(np.float32)
    energy = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1))
    integral = cv2.integral(energy)
    best, best_xy = -1.0, (0, 0)
    for y in range(0, h - ch + 1, max(1, ch // 2)):
        for x in range(0, w - cw + 1, max(1, cw // 2)):
            e = integral[y + ch, x + cw] - integral[y, x + cw] - integral[y + ch, x] + integral[y, x]
            if e > best:
                best, best_xy = e, (x, y)
    return best_xy[0], best_xy[1], cw, ch


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
    pixels = sum(len(task.targets) * math.prod(_frame_size(paths_of[task.sequence][0])) for task in tasks)
    for m in method_objs:  # the numeric policy of the model runs, decided once for the whole evaluation
        if hasattr(m, "model"):
            inference_policy(dev, pixels).apply(m.model)

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
            size = gts[0].shape[:2]
            times = [tg.t for tg in task.targets]
            for name, method in zip(names, method_objs):
                start = time.perf_counter()
                preds = method.predict(lr0, lr1, times, size)
                seconds[name] += time.perf_counter() - start
                for tg, pred, gt in zip(task.targets, preds, gts):
                    per_frame[name].append({
                        "sequence": seq, "frame": tg.frame, "t": tg.t, "k": tg.k,
                        "psnr": psnr(pred, gt, channel), "ssim": ssim(pred, gt, channel),
                        "in_average": tg.in_average, "center": tg.center,
                    })
                    if (seq, tg.frame) in crop_keys:
                        crops.setdefault((seq, tg.frame), {"GT": gt})[name] = pred
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
        entry["per_sequence"] = {
            seq: {
                "psnr": _mean([r["psnr"] for r in scored if r["sequence"] == seq]),
                "ssim": _mean([r["ssim"] for r in scored if r["sequence"] == seq]),
                "frames": sum(1 for r in scored if r["sequence"] == seq),
            }
            for seq in seq_info
        }
        entry["per_frame"] = rows
        entry["seconds"] = seconds[name]
        results["methods"][name] = entry
    return results, crops


def _frame_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file."""
    return read_image(path).shape[:2]


def _title(results: dict) -> str:
    s, t = results["space_scale"], results["time_scale"]
    if results["space_only"]:
        return f"space x{s} only (t = 0, every frame)"
    if results["protocol"] == "clips":
        return f"{results['clip_len']}-frame clips, space x{s}, time x{t}"
    return f"space x{s}, time x{t}"


def format_table(results: dict) -> str:
    """Markdown results in the layout of the paper's Table 1 (and Table 2 for clips)."""
    ch = "Y-channel (BT.601)" if results["channel"] == "y" else "RGB"
    seqs = list(results["sequences"])
    dataset = Path(results["data"]).name
    lines = [
        f"## videoinr eval {results['protocol']}: {_title(results)}",
        "",
        f"Data: `{results['data']}` ({len(seqs)} sequences, {results['n_scored']} scored frames"
        + (f", first {results['max_frames']} frames per sequence" if results["max_frames"] else "")
        + f"). {ch} PSNR (dB) / SSIM on 8-bit outputs, no border crop, pooled over frames. Frames are cropped to"
        f" a multiple of {results['space_scale']} (modcrop) before bicubic (MATLAB) downsampling.",
        "",
    ]
    methods = results["methods"]
    is_clips = results["protocol"] == "clips" and not results["space_only"]
    if is_clips:
        lines += [
            f"| Method | `--methods` | {dataset}-Center PSNR | SSIM | {dataset}-Average PSNR | SSIM | seconds |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, m in methods.items():
            lines.append(
                f"| {m['label']} | `{name}` | {m['center']['psnr']:.2f} | {m['center']['ssim']:.4f} | "
                f"{m['psnr']:.2f} | {m['ssim']:.4f} | {m['seconds']:.1f} |"
            )
        lines += [
            "",
            f"-Center: frame k = {(results['clip_len'] - 1) // 2} of each clip; -Average: k = 0 .. {results['clip_len'] - 2}.",
            "",
            "Table 2 layout (PSNR / SSIM, -Average):",
            "",
            "| Time Scale | Space Scale | " + " | ".join(m["label"] for m in methods.values()) + " |",
            "|---|---|" + "---|" * len(methods),
            f"| x{results['time_scale']} | x{results['space_scale']} | "
            + " | ".join(f"{m['psnr']:.2f} / {m['ssim']:.4f}" for m in methods.values()) + " |",
        ]
    else:
        col = dataset if not results["space_only"] else f"{dataset} x{results['space_scale']}"
        lines += [
            f"| Method | `--methods` | {col} PSNR | SSIM | " + " | ".join(seqs) + " | seconds |",
            "|---|---|---|---|" + "---|" * len(seqs) + "---|",
        ]
        for name, m in methods.items():
            per = " | ".join(f"{m['per_sequence'][s]['psnr']:.2f}" for s in seqs)
            lines.append(f"| {m['label']} | `{name}` | {m['psnr']:.2f} | {m['ssim']:.4f} | {per} | {m['seconds']:.1f} |")
        lines += ["", "Per-sequence columns: PSNR (dB)."]
    return "\n".join(lines) + "\n"


def _replace_write(path: Path, write) -> None:
    """Write via a temporary sibling and rename, so no half-written file is left behind."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _plot_psnr_vs_t(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, m in results["methods"].items():
        by_t: dict[float, list[float]] = {}
        for r in m["per_frame"]:
            if math.isfinite(r["psnr"]):
                by_t.setdefault(round(r["t"], 6), []).append(r["psnr"])
        ts = sorted(by_t)
        ax.plot(ts, [np.mean(by_t[t]) for t in ts], marker="o", label=name)
    ax.set_xlabel("t within the clip (0, 1 = input frames)")
    ax.set_ylabel(f"PSNR ({'Y' if results['channel'] == 'y' else 'RGB'}, dB)")
    ax.set_title(f"{Path(results['data']).name}: {_title(results)}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _replace_write(path, lambda p: fig.savefig(p, format="png"))
    plt.close(fig)


def _crop_sheet(images: dict[str, np.ndarray], results: dict, seq: str, frame: int) -> np.ndarray:
    """Side-by-side crops (GT, then each method) with a label band; uint8 RGB."""
    x, y, w, h = _pick_crop(images["GT"], CROP)
    tiles = []
    for name, img in images.items():
        tile = np.full((h + 22, w, 3), 255, np.uint8)
        tile[22:] = img[y : y + h, x : x + w]
        label = name
        if name != "GT":
            row = next(r for r in results["methods"][name]["per_frame"] if r["sequence"] == seq and r["frame"] == frame)
            label = f"{name} {row['psnr']:.2f}"
        cv2.putText(tile, label[:28], (3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
        tiles.append(np.full((h + 22, 4, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def check_out(out: str | Path) -> Path:
    """Fail fast (before any work) unless ``out`` is, or can be created as, a writable folder.

    Probes by creating and removing a file in ``out`` or, when it does not exist yet, in its nearest existing
    parent (so nothing is left behind, and read-only file systems are caught even when running as root).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise VideoINRError(f"--out {out}: exists and is not a folder")
    for sub in ("crops", "results.json", "results.md", "psnr_vs_t.png"):
        target = out / sub
        if target.exists() and (target.is_dir() != (sub == "crops")):
            raise VideoINRError(f"--out {out}: {target} is in the way ({'not ' if sub == 'crops' else ''}a folder)")
    parent = out
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise VideoINRError(f"--out {out}: {parent} is a file, not a folder")
    probe = parent / f".videoinr-eval-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise VideoINRError(f"--out {out}: cannot write in {parent} ({e.strerror or type(e).__name__})") from None
    return out


def write_outputs(results: dict, crops: dict[tuple[str, int], dict[str, np.ndarray]], out: str | Path) -> Path:
    """Write results.json, results.md, psnr_vs_t.png and crops/*.png into ``out`` (created if needed).

    A file system error (full disk, permissions) is raised as one-line VideoINRError."""
    out = check_out(out)
    try:
        return _write_outputs(results, crops, out)
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        raise VideoINRError(f"--out {out}: cannot write results{where}: {e.strerror or e}") from None


def _write_outputs(results: dict, crops: dict[tuple[str, int], dict[str, np.ndarray]], out: Path) -> Path:
    (out / "crops").mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, allow_nan=True)
    _replace_write(out / "results.json", lambda p: p.write_text(text))
    table = format_table(results)
    _replace_write(out / "results.md", lambda p: p.write_text(table))
    _plot_psnr_vs_t(results, out / "psnr_vs_t.png")
    for (seq, frame), images in sorted(crops.items()):
        sheet = _crop_sheet(images, results, seq, frame)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in seq)
        png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))[1].tobytes()
        _replace_write(out / "crops" / f"{safe}_{frame:05d}.png", lambda p: p.write_bytes(png))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``videoinr eval`` options."""
    parser.add_argument("protocol", choices=PROTOCOLS, help="vid4: pairs (0, N), (N, 2N), ...; clips: non-overlapping L-frame clips")
    parser.add_argument("--data", required=True, help="dataset root: <root>/<sequence>/<frames> (or one frame folder)")
    parser.add_argument(
        "--methods", required=True,
        help="comma-separated: bicubic-repeat, bicubic-blend, flow-bicubic, lite, paper, or .safetensors paths",
    )
    parser.add_argument("--out", required=True, help="output folder (results.json, results.md, psnr_vs_t.png, crops/)")
    parser.add_argument("--scale", type=int, default=4, help="space scale S (default 4)")
    parser.add_argument("--time-scale", type=int, default=None, help="time scale N (vid4 default 2; clips: L = N + 1)")
    parser.add_argument("--clip-len", type=int, default=None, help="clips protocol: frames per clip L (default 9)")
    parser.add_argument("--space-only", action="store_true", help="space SR only: every frame at t = 0")
    parser.add_argument("--channel", choices=("y", "rgb"), default="y", help="metric channel (default y: BT.601 luma)")
    parser.add_argument("--device", default="auto", help="device for model methods: auto, cpu, cuda, ...")
    parser.add_argument("--max-frames", type=int, default=None, help="use only the first K frames of each sequence")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``videoinr eval`` from parsed arguments; prints the Markdown table."""
    check_out(args.out)  # before the (long) evaluation, not after it
    start = time.perf_counter()
    results, crops = evaluate(
        args.data, args.methods.split(","), args.protocol, args.scale, args.time_scale, args.clip_len,
        args.space_only, args.channel, args.device, args.max_frames, progress=not args.no_progress,
    )
    results["wall_seconds"] = time.perf_counter() - start
    write_outputs(results, crops, args.out)
    print(format_table(results))
    print(f"wrote {args.out} ({results['wall_seconds']:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``videoinr eval PROTOCOL --data DIR --methods a,b --out DIR [...]`` (argv excludes 'eval')."""
    parser = ArgumentParser(
        prog="videoinr eval",
        description="Evaluate models and classical baselines with the paper's protocols (PSNR/SSIM on Y); "
        "writes results.json, results.md, psnr_vs_t.png and crops/ into --out.",
        epilog="example: videoinr eval vid4 --data ../shared/data/vid4 --methods lite,flow-bicubic --out runs/eval",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    from videoinr.cli import run_with_errors

    sys.exit(run_with_errors(main, sys.argv[1:]))
