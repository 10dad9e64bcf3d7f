"""Writing an evaluation's outputs into ``--out``: results.json, the Markdown table (results.md, the layout of
the paper's Tables 1 and 2), the PSNR-vs-t plot and the side-by-side crops; and the early check that ``--out``
is writable. Every file is written via a temporary sibling and renamed."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from videoinr.errors import VideoINRError, resolve_path
from videoinr.fileio import atomic_write_bytes, require_writable_parent, write_via_temp

CROP = 160  # side of the crops in crops/*.png (HR pixels)


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
            f"| Method | `--methods` | {dataset}-Center PSNR | SSIM | {dataset}-Average PSNR | SSIM | tOF | warp | seconds |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, m in methods.items():
            lines.append(
                f"| {m['label']} | `{name}` | {m['center']['psnr']:.2f} | {m['center']['ssim']:.4f} | "
                f"{m['psnr']:.2f} | {m['ssim']:.4f} | {_temporal(m)} | {m['seconds']:.1f} |"
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
            f"| Method | `--methods` | {col} PSNR | SSIM | tOF | warp | " + " | ".join(seqs) + " | seconds |",
            "|---|---|---|---|---|---|" + "---|" * len(seqs) + "---|",
        ]
        for name, m in methods.items():
            per = " | ".join(f"{m['per_sequence'][s]['psnr']:.2f}" for s in seqs)
            lines.append(f"| {m['label']} | `{name}` | {m['psnr']:.2f} | {m['ssim']:.4f} | {_temporal(m)} | {per} "
                         f"| {m['seconds']:.1f} |")
        lines += ["", "Per-sequence columns: PSNR (dB)."]
    lines += ["tOF: mean flow difference (px) between consecutive outputs and consecutive ground truth; warp: "
              "warping error (x1e-3, Y in [0, 1]) on visible pixels; lower is steadier (docs/EVAL.md)."]
    return "\n".join(lines) + "\n"


def _temporal(m: dict) -> str:
    """The tOF and warp cells of a method's row ('-' where no consecutive frames were scored)."""
    tof, warp = m.get("tof", math.nan), m.get("warp", math.nan)
    return f"{tof:.3f} | {warp:.3f}" if not math.isnan(tof) else "- | -"


def _by_t(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(t, mean of the rows' finite `key` values at that t), t ascending; rows without `key` are skipped."""
    by_t: dict[float, list[float]] = {}
    for r in rows:
        v = r.get(key)
        if v is not None and math.isfinite(v):
            by_t.setdefault(round(r["t"], 6), []).append(v)
    ts = sorted(by_t)
    return ts, [float(np.mean(by_t[t])) for t in ts]


def _plot_psnr_vs_t(results: dict, path: Path) -> None:
    """PSNR against t (top, one line per method) and, below, the temporal metrics against t: tOF and warping
    error of the frame at t against the frame before it (lower is steadier; absent where no consecutive
    frames were scored, e.g. one-frame sequences)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temporal = any("tof" in r for m in results["methods"].values() for r in m["per_frame"])
    fig = plt.figure(figsize=(7, 6.2 if temporal else 4), dpi=120)
    grid = fig.add_gridspec(2 if temporal else 1, 2, height_ratios=[3, 2] if temporal else [1])
    ax = fig.add_subplot(grid[0, :])
    panels = [(fig.add_subplot(grid[1, 0]), "tof", "tOF (px)"), (fig.add_subplot(grid[1, 1]), "warp",
              "warping error (x1e-3)")] if temporal else []
    for i, (name, m) in enumerate(results["methods"].items()):
        colour = f"C{i % 10}"
        ts, ys = _by_t(m["per_frame"], "psnr")
        ax.plot(ts, ys, marker="o", label=name, color=colour)
        for bx, key, _ in panels:
            ts, ys = _by_t(m["per_frame"], key)
            bx.plot(ts, ys, marker=".", color=colour)
    ax.set_xlabel("t within the clip (0, 1 = input frames)")
    ax.set_ylabel(f"PSNR ({'Y' if results['channel'] == 'y' else 'RGB'}, dB)")
    ax.set_title(f"{Path(results['data']).name}: {_title(results)}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    for bx, _, label in panels:
        bx.set_xlabel("t", fontsize=8)
        bx.set_ylabel(f"{label}, lower is steadier", fontsize=8)
        bx.tick_params(labelsize=7)
        bx.grid(alpha=0.3)
    fig.tight_layout()
    write_via_temp(path, lambda p: fig.savefig(p, format="png"))
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


def check_out(out: str | Path, data: str | Path | None = None) -> Path:
    """Fail fast (before any work) unless ``out`` is, or can be created as, a writable folder, apart from
    the dataset ``data`` (neither inside the other: results written into a dataset would corrupt it).

    Probes by creating and removing a file in ``out`` or, when it does not exist yet, in its nearest existing
    parent (so nothing is left behind, and read-only file systems are caught even when running as root).
    """
    out = Path(out)
    if data is not None:
        o, d = resolve_path(out), resolve_path(data)
        if o == d or d in o.parents:
            raise VideoINRError(f"--out {out}: inside the dataset --data {data}; results would be written into "
                                "it (choose an --out outside it)")
        if o in d.parents:
            raise VideoINRError(f"--out {out}: contains the dataset --data {data} (choose an --out beside it)")
    if out.exists() and not out.is_dir():
        raise VideoINRError(f"--out {out}: exists and is not a folder")
    for sub in ("crops", "results.json", "results.md", "psnr_vs_t.png"):
        target = out / sub
        if target.exists() and (target.is_dir() != (sub == "crops")):
            raise VideoINRError(f"--out {out}: {target} is in the way ({'not ' if sub == 'crops' else ''}a folder)")
    require_writable_parent(out, f"--out {out}")
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
    atomic_write_bytes(out / "results.json", text.encode())
    table = format_table(results)
    atomic_write_bytes(out / "results.md", table.encode())
    _plot_psnr_vs_t(results, out / "psnr_vs_t.png")
    for (seq, frame), images in sorted(crops.items()):
        sheet = _crop_sheet(images, results, seq, frame)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in seq)
        png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))[1].tobytes()
        atomic_write_bytes(out / "crops" / f"{safe}_{frame:05d}.png", png)
    return out
