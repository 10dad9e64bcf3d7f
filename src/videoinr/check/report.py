"""The report of `videoinr check`: the one-line verdict, report.md (verdict, tables, figures), results.json,
psnr_over_time.png and crops/{gain,loss}.png (original / model / flow + bicubic). The folder is written as
a temporary sibling and renamed into place, so REPORT is either the whole report or absent."""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from videoinr.errors import VideoINRError, resolve_path
from videoinr.fileio import atomic_write_bytes, replace_folder, require_writable_parent, temp_sibling, write_via_temp

GAIN_DB = 0.1  # the model "helps" when at least this much over the reference on the verdict's frames
CROP = 128  # side of the crop windows (original pixels)
FILES = ("report.md", "results.json", "psnr_over_time.png", "crops")


def _secs(s: float) -> str:
    """A duration as `upscale`'s estimate line prints it; "unknown" when not finite."""
    from videoinr.pipeline.budget import fmt_secs

    return fmt_secs(s) if math.isfinite(s) else "unknown"


def _pooled_db(entry: dict) -> float:
    """PSNR of the frame-weighted mean squared error of a method's interpolated and input-time frames (each
    category's MSE from its mean PSNR on the 8-bit scale; a PSNR of inf, identical frames, is an MSE of 0)."""
    total, frames = 0.0, 0
    for cat in ("interpolated", "input_time"):
        n, db = entry[cat]["frames"], entry[cat]["psnr"]
        if n and db is not None and not math.isnan(db):
            total += n * 255.0**2 * 10 ** (-db / 10)
            frames += n
    return 10 * math.log10(255.0**2 / (total / frames)) if frames and total > 0 else math.inf if frames else math.nan


def verdict(results: dict) -> dict:
    """{'text', 'helps', 'delta_db', 'frames', 'input_time_delta_db', 'overall_delta_db'}: the model against
    REFERENCE on interpolated frames (on input-time frames, against its bicubic, when time x1 leaves none
    interpolated). When the model is more than GAIN_DB below the reference on the input-time frames (at x1
    space the baselines keep those exact, the model re-renders them) the verdict says so, and a gain on
    interpolated frames counts only if the model is still GAIN_DB ahead over all frames (`_pooled_db`)."""
    model, ref = results["model"], results["reference"]
    m, r = results["methods"][model], results["methods"][ref]
    cat = "interpolated" if m["interpolated"]["frames"] else "input_time"
    delta = m[cat]["psnr"] - r[cat]["psnr"]
    what = "interpolated frames" if cat == "interpolated" else "input-time frames (time x1: nothing interpolated)"
    against = "optical flow + bicubic" if cat == "interpolated" else "bicubic"
    at = f"at x{results['space_scale']:g}/x{results['time_scale']}"
    refused = results["estimate"].get("refused")
    est = (f"no whole-file estimate, {refused}" if refused else
           f"estimated time to upscale the whole file: {_secs(results['estimate']['seconds'])}")
    m_in, r_in = m["input_time"]["psnr"], r["input_time"]["psnr"]
    d_in = m_in - r_in if cat == "interpolated" and m["input_time"]["frames"] else math.nan
    input_loses = math.isfinite(m_in) and d_in < -GAIN_DB  # (-inf when the baseline keeps them exact)
    overall = _pooled_db(m) - _pooled_db(r) if input_loses else math.nan
    extra = ""
    if input_loses:
        extra = (f"; it alters the input-time frames ({m_in:.2f} dB against the original, which the baselines at "
                 f"x{results['space_scale']:g} keep exact)" if math.isinf(r_in) else
                 f"; it is {-d_in:.2f} dB below bicubic on input-time frames")
        extra += f", over all frames {overall:+.2f} dB"
    if not math.isfinite(delta):
        text, helps = f"on this footage no frame could be scored {at}; {est}", False
    elif delta >= GAIN_DB and not (overall < GAIN_DB):
        text, helps = f"on this footage the model is +{delta:.2f} dB over {against} on {what} {at}{extra}; {est}", True
    elif delta >= GAIN_DB:
        text, helps = (f"on this footage the model does NOT help overall: +{delta:.2f} dB over {against} on {what} "
                       f"{at}{extra}; {est}"), False
    elif delta > -GAIN_DB:
        text, helps = (f"on this footage the model does NOT help: {delta:+.2f} dB against {against} on {what} {at}, "
                       f"no measurable gain (under {GAIN_DB} dB){extra}; {est}"), False
    else:
        text, helps = (f"on this footage the model does NOT help: it is {-delta:.2f} dB below {against} on {what} "
                       f"{at} (the classical method is better here){extra}; {est}"), False
    return {"text": text, "helps": helps, "delta_db": delta, "frames": cat, "input_time_delta_db": d_in,
            "overall_delta_db": overall}


def check_report(report: str | Path, force: bool) -> Path:
    """Before any work: REPORT must not exist (unless `force` and it is a folder) and its parent must be
    writable (probed with a file created and removed)."""
    report = Path(report)
    if report.exists() or report.is_symlink():
        if not report.is_dir():
            raise VideoINRError(f"{report}: exists and is not a folder")
        if not force:
            raise VideoINRError(f"{report}: already exists (use --force to replace it)")
        if any(p.resolve() == resolve_path(report) for p in [Path.cwd(), *Path.cwd().parents]):
            raise VideoINRError(f"{report}: holds the current folder; choose another report folder")
    require_writable_parent(report.parent, str(report))
    return report


def _clean(x):
    """NaN/inf -> None (strict JSON), recursively."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def _f(v: float, nd: int = 2) -> str:
    """A table cell: "inf" for a PSNR of identical frames (x1 input-time frames of the baselines), "-" for none."""
    if v is not None and v == math.inf:
        return "inf"
    return f"{v:.{nd}f}" if v is not None and math.isfinite(v) else "-"


def format_report(results: dict) -> str:
    """report.md's text."""
    v = results["verdict"]
    src = results["source"]
    model, ref = results["model"], results["reference"]
    methods = results["methods"]
    seg = ", ".join(f"{a / src['fps']:.1f}-{b / src['fps']:.1f} s" for a, b in results["segments"])
    whole_file = len(results["segments"]) == 1 and results["segments"][0] == [0, src["frames"]]
    sampled = "the whole file" if whole_file else f"{len(results['segments'])} segment{'s' if len(results['segments']) != 1 else ''} ({seg})"
    lines = [
        f"# videoinr check: `{Path(results['video']).name}`",
        "",
        f"**Verdict: {v['text']}.**",
        "",
        f"Source {src['width']}x{src['height']}, {src['fps']:.3g} fps, {src['frames']} frames ({src['seconds']:.1f} s). "
        f"Checked {sampled}: "
        f"{results['sampled_frames']} frames in {len(results['scenes'])} scene{'s' if len(results['scenes']) != 1 else ''}; downscaled x{results['space_scale']:g} "
        f"to {results['lr_size'][1]}x{results['lr_size'][0]} and every {results['time_scale']}"
        f"{'nd' if results['time_scale'] == 2 else 'th'} frame kept, then brought back to "
        f"{results['scored_size'][1]}x{results['scored_size'][0]} by each method and scored against the original. "
        f"Device {results['device']}; the check took {results['check_seconds']:.0f} s.",
        "",
        "| Method | interpolated PSNR | SSIM | tOF | warp | input-time PSNR | SSIM | tOF | warp | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in methods.items():
        i, t = m["interpolated"], m["input_time"]
        bold = "**" if name == model else ""
        lines.append(
            f"| {bold}{m['label']}{bold} (`{name}`) | {_f(i['psnr'])} | {_f(i['ssim'], 4)} | {_f(i['tof'], 3)} | "
            f"{_f(i['warp'], 3)} | {_f(t['psnr'])} | {_f(t['ssim'], 4)} | {_f(t['tof'], 3)} | {_f(t['warp'], 3)} | "
            f"{m['seconds']:.1f} |")
    n_i, n_t = methods[model]["interpolated"]["frames"], methods[model]["input_time"]["frames"]
    lines += [
        "",
        f"{n_i} interpolated frames (t strictly between two kept frames), {n_t} input-time frames (kept frames: "
        "super-resolution only). Y-channel (BT.601) PSNR in dB / SSIM on 8-bit outputs, no border crop; tOF (px) "
        "and warp (warping error x1e-3) compare consecutive frames with the original's motion, lower is steadier "
        "(docs/EVAL.md); a frame's tOF/warp is that of the pair ending at it.",
        "",
        f"## Per scene: PSNR, model `{model}` vs `{ref}`",
        "",
        "| scene | frames | whole scene | interpolated: model | flow | delta | input-time: model | flow | delta |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["scenes"]:
        pm, pr = methods[model]["per_scene"][s["name"]], methods[ref]["per_scene"][s["name"]]
        di = pm["interpolated"]["psnr"] - pr["interpolated"]["psnr"]
        dt = pm["input_time"]["psnr"] - pr["input_time"]["psnr"]
        lines.append(f"| {s['name']} | {s['scored']} | {'yes' if s['whole'] else 'no (segment edge)'} | "
                     f"{_f(pm['interpolated']['psnr'])} | {_f(pr['interpolated']['psnr'])} | {_f(di, 2)} | "
                     f"{_f(pm['input_time']['psnr'])} | {_f(pr['input_time']['psnr'])} | {_f(dt, 2)} |")
    lines += ["", "## Over time", "", "![PSNR over time](psnr_over_time.png)", ""]
    crops = results.get("crops", {})
    if crops:
        lines += ["## Where the model gains and loses most (original / model / flow + bicubic)", ""]
        for key in ("gain", "loss"):
            c = crops.get(key)
            if c:
                kind = "interpolated" if c["interpolated"] else "input-time"
                title = ("Largest gain" if key == "gain" and c["delta"] > 0 else "Smallest loss" if key == "gain"
                         else "Largest loss" if c["delta"] < 0 else "Smallest gain (the model loses nowhere)")
                lines += [f"{title}: {c['scene']}, frame "
                          f"{c['source_frame']} ({c['time_s']:.2f} s, {kind}, t = {c['t']:.2f}): model "
                          f"{c['model_psnr']:.2f} dB, flow + bicubic {c['reference_psnr']:.2f} dB "
                          f"({c['delta']:+.2f} dB).", "", f"![{key}](crops/{key}.png)", ""]
    e = results["estimate"]
    lines += ["## Whole-file estimate", ""]
    if e.get("output_frames"):
        oh, ow = e["output_size"]
        render = (f"{e['render_seconds_per_frame']:.2f} s rendering, compiled as upscale decides for a job this size"
                  if e.get("compile") else
                  f"{e['render_seconds_per_frame']:.2f} s rendering, eager as upscale decides for a job this size")
        band = e.get("render_timed", {}).get("band_rows")
        lines.append(
            f"{_secs(e['seconds'])} for `videoinr upscale` of the whole file ({src['frames']} -> {e['output_frames']} "
            f"frames of {ow}x{oh}, H.264) on {results['device']}, measured here at the real size"
            f"{f' (a band of {band} rows)' if band else ''}: {e['startup_seconds']:.1f} s startup + "
            f"{e['read_seconds']:.1f} s decoding (scan and render) + {e['pairs_whole_file']} pairs x "
            f"{e['encode_seconds_per_pair']:.2f} s encode + {e['output_frames']} frames x ({render}, + "
            f"{e['write_seconds_per_frame']:.3f} s writing)"
            + (f" + {e['compile_seconds']:.0f} s compile" if e.get("compile") else "")
            + ".")
    elif e.get("refused"):
        lines.append(f"Not estimated: {e['refused']}.")
    else:
        lines.append(f"{_secs(e['seconds'])}: {e.get('method', '')}.")
    lines += ["", "How this is measured: docs/CHECK.md."]
    return "\n".join(lines) + "\n"


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, ref = results["model"], results["reference"]
    methods = results["methods"]
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(8, 5.2), dpi=110, sharex=True,
                                 gridspec_kw={"height_ratios": [3, 2]})
    colours = {model: "tab:red", ref: "tab:blue"}
    others = iter(["tab:gray", "tab:green", "tab:purple", "tab:brown", "tab:olive"])
    for name, m in methods.items():
        colours.setdefault(name, next(others, "k"))
        first = True
        for s in results["scenes"]:
            rows = [r for r in m["per_frame"] if r["scene"] == s["name"] and r["psnr"] is not None
                    and math.isfinite(r["psnr"])]
            if not rows:
                continue
            main = name in (model, ref)
            ax.plot([r["time_s"] for r in rows], [r["psnr"] for r in rows], color=colours.get(name),
                    lw=1.6 if main else 0.8, alpha=1.0 if main else 0.5, label=name if first else None)
            first = False
    ax.set_ylabel("PSNR (Y, dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=4, loc="lower left")
    ax.set_title(f"{Path(results['video']).name}: x{results['space_scale']:g} space, x{results['time_scale']} time",
                 fontsize=9)
    ref_rows = {(r["scene"], r["source_frame"]): r for r in methods[ref]["per_frame"]}
    xs, ds, cs = [], [], []
    for r in methods[model]["per_frame"]:
        rr = ref_rows.get((r["scene"], r["source_frame"]))
        if rr is None or not math.isfinite(r["psnr"] - rr["psnr"]):
            continue
        xs.append(r["time_s"])
        ds.append(r["psnr"] - rr["psnr"])
        cs.append("tab:orange" if r["interpolated"] else "tab:gray")
    width = 0.8 / results["source"]["fps"]
    bx.bar(xs, ds, width=width, color=cs)
    bx.axhline(0, color="k", lw=0.6)
    bx.set_ylabel(f"{model} - {ref} (dB)", fontsize=8)
    bx.set_xlabel("time in the source (s); orange: interpolated frames, grey: input-time frames")
    bx.grid(alpha=0.3)
    fig.tight_layout()
    write_via_temp(path, lambda p: fig.savefig(p, format="png"))
    plt.close(fig)


def _window(gt: np.ndarray, a: np.ndarray, b: np.ndarray, size: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the size x size window (stride size/4) where the squared errors of `a` and `b` differ
    most (the place the gain or loss shows)."""
    h, w = gt.shape[:2]
    cw, ch = min(size, w), min(size, h)
    g = gt.astype(np.float32)
    diff = np.abs(((a.astype(np.float32) - g) ** 2).sum(-1) - ((b.astype(np.float32) - g) ** 2).sum(-1))
    integral = cv2.integral(diff)
    best, xy = -1.0, (0, 0)
    for y in range(0, h - ch + 1, max(1, ch // 4)):
        for x in range(0, w - cw + 1, max(1, cw // 4)):
            e = integral[y + ch, x + cw] - integral[y, x + cw] - integral[y + ch, x] + integral[y, x]
            if e > best:
                best, xy = e, (x, y)
    return xy[0], xy[1], cw, ch


def crop_sheet(images: dict[str, np.ndarray], labels: dict[str, str]) -> np.ndarray:
    """Side-by-side crops of `images` (original first) with a label band; uint8 RGB, shown at x2 when small."""
    names = list(images)
    x, y, w, h = _window(images[names[0]], images[names[1]], images[names[2]], CROP)
    zoom = 2 if max(w, h) <= 96 else 1
    tiles = []
    for name in names:
        crop = images[name][y:y + h, x:x + w]
        if zoom > 1:
            crop = cv2.resize(crop, (w * zoom, h * zoom), interpolation=cv2.INTER_NEAREST)
        tile = np.full((crop.shape[0] + 22, max(crop.shape[1], 120), 3), 255, np.uint8)
        tile[22:, : crop.shape[1]] = crop
        cv2.putText(tile, labels.get(name, name)[:30], (3, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
        tiles += [tile, np.full((tile.shape[0], 4, 3), 255, np.uint8)]
    return np.concatenate(tiles[:-1], axis=1)


def write_report(results: dict, crops: dict, report: str | Path, force: bool = False) -> Path:
    """Write the report folder: every file published (fileio) into a temporary sibling folder, which then
    replaces REPORT (`fileio.replace_folder`: an existing REPORT, with `force`, is replaced only then). On
    any failure the temporary folder is removed."""
    report = Path(report)
    check_report(report, force)
    report.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(report)
    try:
        (tmp / "crops").mkdir(parents=True)
        model, ref = results["model"], results["reference"]
        results.setdefault("verdict", verdict(results))
        results["crops"] = {k: c["row"] for k, c in crops.items()}
        for key, c in crops.items():
            r = c["row"]
            labels = {"original": "original", model: f"{model} {r['model_psnr']:.2f} dB",
                      ref: f"{ref} {r['reference_psnr']:.2f} dB"}
            sheet = crop_sheet(c["images"], labels)
            ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
            if not ok:
                raise OSError(f"cannot encode {tmp / 'crops' / (key + '.png')}")
            atomic_write_bytes(tmp / "crops" / f"{key}.png", png.tobytes())
        _plot(results, tmp / "psnr_over_time.png")
        atomic_write_bytes(tmp / "results.json", json.dumps(_clean(results), indent=1).encode())
        atomic_write_bytes(tmp / "report.md", format_report(results).encode())
        replace_folder(tmp, report, report.parent / f".{report.name[:64]}.old{os.getpid()}")
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise VideoINRError(f"{report}: cannot write the report ({e.strerror or e})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report
