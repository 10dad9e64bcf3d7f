"""Inference benchmark of VideoINR on this machine: one table, also written to benchmarks/RESULTS.md.

Measures, in one run: GEMM throughput (torch.mm on large square matrices, fp32 and bf16); per config and
precision (fp32; bf16 = torch.autocast(cpu, bfloat16) around encode and render): encode time per pair,
render time per output frame (eager and torch.compile'd renderer), FLOPs per output pixel (counted by
torch.utils.flop_counter on a window of the same render: GEMMs only, sin/gathers are not FLOPs there), the
achieved FLOP/s of rendering as a fraction of the GEMM peak of its precision; per-output-frame cost at time
x2 vs x8 (encode amortised) with the t-independent spatial cache (spatial_uses_t=False) and without it;
peak RSS (child processes) for one 1080p output frame and for `videoinr upscale` of a synthetic 300-frame
video (vs 30 frames, to show it is flat in length); and the classical baselines on the same frames.

Case: x4 from 180x320 (two real frames of sam2 01_dog downscaled with MATLAB bicubic) to 720x1280. Paper's
renders are timed on a band of the 720p frame (--paper-band rows) and scaled to the frame: the per-pixel work
is uniform. `--quick` is a small smoke case (36x64 -> 144x256, no subprocess RSS runs).

    python benchmarks/bench.py                          # full run (~20-30 min on 2 cores), writes RESULTS.md
    python benchmarks/bench.py --quick --configs lite   # smoke test, prints only
    python benchmarks/bench.py --sections memory        # re-measure one part; the rest from results.json
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / ".." / "shared" / "data" / "train" / "sam2_clips" / "01_dog.mp4"
X2 = [0.0, 0.5]  # output times of one pair at time x2 (t = 1 belongs to the next pair)
X8 = [k / 8 for k in range(8)]


# ------------------------------------------------------------------------------------------- helpers
def machine() -> dict:
    from videoinr.runtime import cpu_info

    info = cpu_info()
    cpu = info["model_name"] or platform.processor() or "?"
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in info["flags"]]
    return {"cpu": cpu, "cores": os.cpu_count(), "isa": " ".join(isa), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "capability": torch.backends.cpu.get_cpu_capability(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def timed(fn, reps: int = 3, warmup: int = 1) -> float:
    """Best-of-reps wall seconds of fn() (the minimum is the least noisy estimate on a shared machine)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def autocast(precision: str):
    """fp32: everything float32; bf16: autocast around encode and render; default: the commands' policy
    (videoinr.runtime.inference_policy: on native-bf16 CPUs the encoder in bf16, and the compiled renderer's
    per-point GEMMs in bf16), set through the model's switches (`set_precision`)."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def set_precision(model, precision: str, compiled: bool = False) -> None:
    """The model's switches for `precision` with the renderer compiled or not."""
    from videoinr.runtime import Policy, inference_policy

    if precision == "default":
        inference_policy(torch.device("cpu"), 0, compile=compiled).apply(model)
    else:  # fp32, or bf16 through the caller's autocast
        Policy(compile_render=compiled).apply(model)


def render_peak(peaks: dict, precision: str) -> float:
    """The GEMM peak a compiled render at this precision is compared with (default: bf16 GEMMs on a
    native-bf16 CPU)."""
    from videoinr.runtime import native_bf16

    bf16 = precision == "bf16" or (precision == "default" and native_bf16(torch.device("cpu")))
    return peaks["bf16" if bf16 else "fp32"]


def gemm_peak(dtype: torch.dtype, n: int) -> float:
    """FLOP/s of torch.mm on n x n matrices (best of 5)."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    return 2 * n**3 / timed(lambda: torch.mm(a, b), reps=5)


def count_flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def load_pair(lr_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Two consecutive real frames (uint8 h x w x 3), MATLAB-bicubic downscaled to lr_hw."""
    from videoinr.data.imresize import imresize
    from videoinr.data.video import iter_video

    frames = []
    for fr in iter_video(CLIP):
        frames.append(fr.image)
        if len(frames) == 2:
            break
    out = []
    for f in frames:
        x = torch.from_numpy(f).permute(2, 0, 1).float()
        y = imresize(x, size=lr_hw)
        out.append(y.round().clamp(0, 255).byte().permute(1, 2, 0).numpy())
    return out[0], out[1]


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255


SECTIONS = ("models", "baselines", "compile", "vid4", "memory")
RESULTS_JSON = ROOT / "benchmarks" / "results.json"
WEIGHTS: dict[str, str] = {}  # --weights overrides: config name -> .safetensors path


def build(name: str, spatial_uses_t: bool | None = None):
    """The named model (--weights file, else shipped weights, else random init) or its variant with
    spatial_uses_t replaced (random init: timing does not depend on the weights). Returns (model, label)."""
    import videoinr
    from videoinr.models import CONFIGS, VideoINR
    from videoinr.models.registry import PRETRAINED

    cfg = CONFIGS[name]
    if name in WEIGHTS and spatial_uses_t is None:
        return videoinr.create_model(WEIGHTS[name]), Path(WEIGHTS[name]).name
    if spatial_uses_t is None or spatial_uses_t == cfg.spatial_uses_t:
        shipped = PRETRAINED[name].is_file()
        return videoinr.create_model(name, pretrained=shipped), ("shipped" if shipped else "random init")
    torch.manual_seed(0)
    return VideoINR(dataclasses.replace(cfg, spatial_uses_t=spatial_uses_t)).eval(), "random init"


# ------------------------------------------------------------------------------------------- model runs
@dataclasses.dataclass
class Case:
    lr: tuple[int, int]
    out: tuple[int, int]
    band: int | None  # render only this many output rows (region) and scale to the frame


def render_seconds(state, case: Case, times: list[float], precision: str, compiled: bool, reps: int,
                   exact: bool = False) -> float:
    """Seconds to render the len(times) frames of one pair at case.out (scaled from a band if set)."""
    H, W = case.out
    rows = min(case.band or H, H)
    region = None if rows == H else (0, 0, W, rows)
    set_precision(state.model, precision, compiled)

    def run():
        with torch.inference_mode(), autocast(precision):
            state.render(case.out, times, region=region, exact=exact)

    # compiled: one untimed call (the first full-size call after compiling still pays one-time costs)
    return timed(run, reps=reps, warmup=1 if compiled else 0) * H / rows


def log(*msg) -> None:
    print(f"[{time.strftime('%H:%M:%S')}]", *msg, file=sys.stderr, flush=True)


def bench_model(name: str, precision: str, case: Case, reps: int, frames) -> dict:
    """Encode/render timings and counted FLOPs of one config at one precision (+ the other cache mode)."""
    log(f"{name} {precision}: encode")
    f0, f1 = to_tensor(frames[0]), to_tensor(frames[1])
    H, W = case.out
    res: dict = {"config": name, "precision": precision, "lr": case.lr, "out": case.out, "band": case.band,
                 "load": os.getloadavg()[0]}
    model, res["weights"] = build(name)
    model.max_query_points = _default_chunk(model)
    set_precision(model, precision)

    def enc():
        with torch.inference_mode(), autocast(precision):
            return model.encode(f0, f1)

    heavy = name == "paper"  # an encode takes about a minute: time it once, no warm-up
    if not heavy:
        enc()
    secs = []
    for _ in range(1 if heavy else reps):
        t0 = time.perf_counter()
        state = enc()
        secs.append(time.perf_counter() - t0)
    res["encode_s"] = min(secs)
    res["encode_flops"] = count_flops(enc)
    reps = 1 if heavy else reps
    # FLOPs per output pixel at x8 (eager path: the counter sees every GEMM), on a 64 x 32 window
    set_precision(model, precision, False)
    win = (0, 0, min(W, 64), min(H, 32))
    with torch.inference_mode(), autocast(precision):
        fl = count_flops(lambda: state.render(case.out, X8, region=win))
    res["flops_px"] = fl / (win[2] * win[3] * len(X8))
    for mode in (False, True):
        key = "compiled" if mode else "eager"
        log(f"{name} {precision}: render {key}")
        if mode:  # compile (first call) outside the timing; see compile_warmup for its cost
            with torch.inference_mode(), autocast(precision):
                state.render(case.out, X8, region=(0, 0, min(W, 256), min(H, 16)))
        res[f"x8_{key}_s"] = render_seconds(state, case, X8, precision, mode, reps)
        res[f"x2_{key}_s"] = render_seconds(state, case, X2, precision, mode, reps)
    if not model.cfg.spatial_uses_t:  # what the frame form (HR feature map warped per t) buys
        log(f"{name} {precision}: render exact form")
        with torch.inference_mode(), autocast(precision):
            state.render(case.out, X8, region=(0, 0, min(W, 256), min(H, 16)), exact=True)
        res["x8_exact_s"] = render_seconds(state, case, X8, precision, True, reps, exact=True)
    res["render_frame_s"] = res["x8_compiled_s"] / len(X8)
    res["render_frame_eager_s"] = res["x8_eager_s"] / len(X8)
    res["gflops_render"] = res["flops_px"] * H * W / res["render_frame_s"] / 1e9
    for key in ("compiled", "eager"):
        res[f"frame_x2_{key}"] = (res["encode_s"] + res[f"x2_{key}_s"]) / len(X2)
        res[f"frame_x8_{key}"] = (res["encode_s"] + res[f"x8_{key}_s"]) / len(X8)
    # the same config with the other spatial_uses_t (encode cost is the same network; reuse its time)
    log(f"{name} {precision}: other cache mode")
    other, _ = build(name, spatial_uses_t=not model.cfg.spatial_uses_t)
    other.max_query_points = model.max_query_points
    set_precision(other, precision, True)
    with torch.inference_mode(), autocast(precision):
        st2 = other.encode(f0, f1)
        st2.render(case.out, X8, region=(0, 0, min(W, 256), min(H, 16)))  # warm-up (recompiles)
    x8 = render_seconds(st2, case, X8, precision, True, reps)
    x2 = render_seconds(st2, case, X2, precision, True, reps)
    res["other_cache"] = {"spatial_uses_t": other.cfg.spatial_uses_t,
                          "frame_x2": (res["encode_s"] + x2) / 2, "frame_x8": (res["encode_s"] + x8) / 8}
    return res


def _default_chunk(model) -> int:
    """The chunk the CLI uses on CPU (videoinr.upscale caps render chunks at 2^16 points there)."""
    return min(model.max_query_points, 1 << 16)


def bench_baselines(frames, out_hw: tuple[int, int], reps: int) -> dict:
    from videoinr.baselines import BASELINES

    res = {}
    for key, cls in BASELINES.items():
        m = cls()
        res[m.label] = timed(lambda: m.predict(frames[0], frames[1], X8, out_hw), reps=reps) / len(X8)
    return res


def vid4_bf16(name: str, pairs: int) -> dict:
    """Y-PSNR on Vid4 (x4 space, x2 time, the eval protocol's first `pairs` pairs of each sequence) of fp32
    and bf16 (autocast around encode and render) outputs, and the PSNR between the two outputs; compiled
    renderer."""
    from videoinr.data.frames import list_frames, read_image
    from videoinr.evaluate import make_lr, modcrop
    from videoinr.metrics import psnr

    model, label = build(name)
    vid4 = ROOT / ".." / "shared" / "data" / "vid4"
    scores: dict[str, list[float]] = {"fp32": [], "default": [], "bf16": [], "between": [], "between_default": []}
    for seq in sorted(p.name for p in vid4.iterdir() if p.is_dir()):
        paths = list_frames(vid4 / seq)
        for i in range(0, min(2 * pairs, len(paths) - 2), 2):
            gt = [modcrop(read_image(paths[i + k]), 4) for k in range(3)]
            lr = [to_tensor(make_lr(g, 4)) for g in gt]
            outs = {}
            for prec in ("fp32", "default", "bf16"):
                set_precision(model, prec, True)  # the renderer of long jobs (default: bf16 GEMMs there)
                with torch.inference_mode(), autocast(prec):
                    y = model.encode(lr[0], lr[2]).render(gt[0].shape[:2], [0.0, 0.5])
                outs[prec] = (y[0].float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()
                scores[prec] += [psnr(outs[prec][k], gt[k]) for k in range(2)]
            scores["between"] += [psnr(outs["bf16"][k], outs["fp32"][k]) for k in range(2)]
            scores["between_default"] += [psnr(outs["default"][k], outs["fp32"][k]) for k in range(2)]
    res = {k: float(np.mean(v)) for k, v in scores.items()}
    res.update(weights=label, frames=len(scores["fp32"]))
    return res


_COMPILE_CHILD = r"""
import sys, time, torch, videoinr
m = videoinr.create_model(sys.argv[1], pretrained=False)
m.compile_render = True
f0, f1 = torch.rand(2, 1, 3, 36, 64).unbind(0)
with torch.inference_mode():
    st = m.encode(f0, f1)
    t0 = time.perf_counter()
    st.render((144, 256), [0.0, 0.5])
    print(time.perf_counter() - t0)
"""


def compile_warmup(name: str) -> tuple[float, float]:
    """Seconds of the first compiled render in a fresh process: with an empty inductor cache (cold) and
    again with the cache that run left (warm: what later runs on this machine pay)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache)
        runs = [subprocess.run([sys.executable, "-c", _COMPILE_CHILD, name], env=env, capture_output=True,
                               text=True, check=True) for _ in range(2)]
    return float(runs[0].stdout.split()[-1]), float(runs[1].stdout.split()[-1])


# ------------------------------------------------------------------------------------------- memory (children)
_HWM = r"""
import atexit, sys
def _report_hwm():  # peak RSS of this process image (not inherited from the parent, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            sys.stderr.write(f"VMHWM_KB {line.split()[1]}\n")
atexit.register(_report_hwm)
"""

_RSS_FRAME = _HWM + r"""
import torch, videoinr
from videoinr.models.registry import PRETRAINED
name, h, w, H, W = sys.argv[1], *map(int, sys.argv[2:6])
m = videoinr.create_model(name, pretrained=PRETRAINED[name].is_file())
torch.manual_seed(0)
f0, f1 = torch.rand(2, 1, 3, h, w).unbind(0)
with torch.inference_mode():
    out = m.encode(f0, f1).render((H, W), [0.5])
assert out.shape[-2:] == (H, W)
"""

_RSS_CLI = _HWM + r"""
import runpy
sys.argv = ["videoinr", *sys.argv[1:]]
runpy.run_module("videoinr.cli", run_name="__main__")
"""


def child_max_rss(cmd: list[str], env: dict | None = None) -> tuple[int, float]:
    """(peak RSS in bytes, wall seconds) of a child Python process that reports its own VmHWM at exit
    (wait4's ru_maxrss would include the benchmark's own RSS, inherited across fork + exec)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed:\n{proc.stderr[-2000:]}")
    kb = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("VMHWM_KB ")]
    if not kb:
        raise RuntimeError("child did not report its peak RSS (needs Linux /proc)")
    return kb[-1] * 1024, time.perf_counter() - t0


def synthetic_video(path: Path, n: int, hw: tuple[int, int]) -> None:
    """n frames of a smooth moving pattern (no scene cuts), 30 fps, H.264."""
    from videoinr.data.video import VideoWriter

    h, w = hw
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    with VideoWriter(path, 30, crf=18) as wr:
        for i in range(n):
            r = 127 + 100 * np.sin((xx + 2 * i) / 9)
            g = 127 + 100 * np.cos((yy - i) / 7)
            b = 127 + 100 * np.sin((xx + yy + 3 * i) / 13)
            wr.write(np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8))


def bench_memory(name: str, video_frames: list[int], video_hw: tuple[int, int], tmp: Path) -> dict:
    from videoinr.models.registry import PRETRAINED, save_weights

    res = {}
    rss, secs = child_max_rss([sys.executable, "-c", _RSS_FRAME, name, "270", "480", "1080", "1920"])
    res["rss_1080p"], res["rss_1080p_s"] = rss, secs
    if not video_frames:
        return res
    weights = str(PRETRAINED[name]) if PRETRAINED[name].is_file() else None
    if weights is None:
        model, _ = build(name)
        weights = str(tmp / f"{name}-random.safetensors")
        save_weights(model, weights)
    # default settings for every length, plus the longest with the compiled renderer off (the compile
    # itself, which starts after a minute of eager rendering, needs memory that does not grow with the video)
    runs = [(n, "") for n in video_frames] + [(max(video_frames), "0")]
    res["video"] = []
    for n, compile_env in runs:
        src = tmp / f"synthetic{n}.mp4"
        if not src.exists():
            synthetic_video(src, n, video_hw)
        out = tmp / f"out{n}.mp4"
        cmd = [sys.executable, "-c", _RSS_CLI, "upscale", str(src), "-o", str(out), "--scale", "4",
               "--time-scale", "2", "--model", weights, "--quiet", "--force"]
        env = dict(os.environ, VIDEOINR_COMPILE=compile_env) if compile_env else None
        rss, secs = child_max_rss(cmd, env)
        res["video"].append({"frames": n, "eager": compile_env == "0", "rss": rss, "s": secs})
    return res


# ------------------------------------------------------------------------------------------- report
def fmt_s(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.2f} s"


def report(info: dict, peaks: dict, rows: list[dict], base: dict, mem: dict, comp: dict, vid4: dict,
           case_note: str, cmd: str) -> str:
    L = ["# VideoINR inference benchmark\n",
         f"- Machine: {info['cpu']}, {info['cores']} cores ({info['isa']}; ATen {info['capability']}), "
         f"torch {info['torch']}, {info['threads']} threads; load average at start {info['load']}",
         f"- Date: {info['date']}", f"- Command: `{cmd}`", f"- Case: {case_note}",
         f"- GEMM peak (torch.mm, {peaks['n']}x{peaks['n']}): fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, "
         f"bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s", ""]
    if rows:
        L += ["| config | prec | weights | LR | encode / pair | render / frame, eager | render / frame, compiled "
              "| FLOPs / out px | render GFLOP/s | of GEMM peak | frame @x2 | frame @x8 | x8 / x2 "
              "| other cache mode: frame @x2 / @x8 | render / frame, exact form | load |",
              "|" + "---|" * 16]
        for r in rows:
            peak = render_peak(peaks, r["precision"])
            exact = fmt_s(r["x8_exact_s"] / len(X8)) if "x8_exact_s" in r else "-"
            oc = r["other_cache"]
            tag = "t in SpatialINR (no cache)" if oc["spatial_uses_t"] else "no t in SpatialINR (cache)"
            L.append(
                f"| {r['config']} | {r['precision']} | {r['weights']} | {r['lr'][0]}x{r['lr'][1]} "
                f"| {fmt_s(r['encode_s'])} ({r['encode_flops'] / 1e9:.0f} GFLOP) | {fmt_s(r['render_frame_eager_s'])} "
                f"| {fmt_s(r['render_frame_s'])} | {r['flops_px'] / 1e3:.1f} K | {r['gflops_render']:.1f} "
                f"| {100 * r['gflops_render'] * 1e9 / peak:.0f}% | {fmt_s(r['frame_x2_compiled'])} "
                f"| {fmt_s(r['frame_x8_compiled'])} | {r['frame_x8_compiled'] / r['frame_x2_compiled']:.2f} "
                f"| {tag}: {fmt_s(oc['frame_x2'])} / {fmt_s(oc['frame_x8'])} | {exact} | {r['load']:.1f}"
                f"{' (' + r['when'].split(',')[0] + ')' if r.get('when') else ''} |")
        H, W = rows[0]["out"]
        L += ["", f"Output {W}x{H}. Frame @xN = (encode + render of the N frames of one pair) / N with the compiled "
              "renderer. FLOPs are the GEMM FLOPs torch.utils.flop_counter counts in an eager render at x8 (the "
              "sines, gathers and adds are not counted); render GFLOP/s = those FLOPs / compiled render time. "
              "Rows use the config's own spatial_uses_t; 'other cache mode' is the same network with it "
              "flipped (random init; same encode time). Precision: fp32 = everything float32; bf16 = autocast "
              "around encode and render; default = the commands' policy, `videoinr.runtime.inference_policy` (on this native-bf16 CPU: encoder "
              "under bf16 autocast, the compiled renderer's per-point GEMMs in bf16, eager ones float32). Render, exact form: the compiled per-point form "
              "(`render(exact=True)`: SpatialINR at every warped point) instead of the default frame form "
              "(HR feature map warped per t). Load: 1-minute load average when the row started "
              "(2 cores; above ~2.2 other jobs were competing) and when the row was measured.", ""]
    if comp:
        L += ["| config | compile, cold cache | compile, warm cache | eager - compiled per frame "
              "| frames to pay back cold / warm |", "|---|---|---|---|---|"]
        for name, c in comp.items():
            fp32 = [r for r in rows if r["config"] == name and r["precision"] in ("fp32", "default")]
            gain = fp32[0]["render_frame_eager_s"] - fp32[0]["render_frame_s"] if fp32 else None
            pay = (f"{c['cold'] / gain:.0f} / {c['warm'] / gain:.0f}" if gain and gain > 0 else "n/a")
            L.append(f"| {name} | {c['cold']:.0f} s | {c['warm']:.1f} s | "
                     f"{fmt_s(gain) if gain else 'n/a'} | {pay} |")
        L += ["", "First compiled render in a fresh process (inductor, dynamic shapes: one graph serves every chunk "
              "size, number of times and LR size). The commands compile for jobs of at least "
              "videoinr.runtime.COMPILE_MIN_PIXELS output pixels (decided once per job).", ""]
    if vid4:
        L += ["| config | weights | Vid4 frames | Y-PSNR fp32 | Y-PSNR default | default - fp32 "
              "| Y-PSNR bf16 | bf16 - fp32 | PSNR(default output, fp32 output) | PSNR(bf16 output, fp32 output) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for name, v in vid4.items():
            dflt = (f"{v['default']:.3f} dB | {v['default'] - v['fp32']:+.3f} dB" if "default" in v else "- | -")
            L.append(f"| {name} | {v['weights']} | {v['frames']} | {v['fp32']:.3f} dB | {dflt} | {v['bf16']:.3f} dB "
                     f"| {v['bf16'] - v['fp32']:+.3f} dB | {v.get('between_default', float('nan')):.1f} dB "
                     f"| {v['between']:.1f} dB |")
        L += ["", "Vid4 protocol (x4 space, x2 time), the first pairs of each sequence, compiled renderer; bf16 = "
              "autocast around encode and render (encoder convs and the renderer's per-point GEMMs in bf16); "
              "default = `create_model`'s default on this CPU (encoder under bf16 autocast, compiled per-point "
              "GEMMs in bf16).", ""]
    if base:
        L += ["| classical baseline (LR pair -> 8 frames at x8) | time / output frame |", "|---|---|"]
        L += [f"| {k} | {fmt_s(v)} |" for k, v in base.items()] + [""]
    if mem:
        L += ["| peak RSS (VmHWM of a fresh child process) | RSS | wall |", "|---|---|---|"]
        for name, m in mem.items():
            when = f" (measured {m['when'].split(',')[0]})" if m.get("when") else ""
            L.append(f"| {name}: encode 270x480 + render one 1080x1920 frame{when} | {m['rss_1080p'] / 2**30:.2f} GiB "
                     f"| {m['rss_1080p_s']:.0f} s |")
            for v in m.get("video", []):
                n = v["frames"]
                eager = ", VIDEOINR_COMPILE=0" if v["eager"] else ""
                L.append(f"| {name}: `videoinr upscale` synthetic {n}-frame {m['video_hw'][1]}x{m['video_hw'][0]} "
                         f"video, x4 space, x2 time ({2 * n - 1} frames out){eager} "
                         f"| {v['rss'] / 2**30:.2f} GiB | {v['s']:.0f} s |")
        L.append("")
    return "\n".join(L)


BEGIN, END = "<!-- bench.py output: begin -->", "<!-- bench.py output: end -->"


def write_results(dest: Path, text: str) -> None:
    """Write the measured part between the markers, keeping hand-written notes around it."""
    old = dest.read_text() if dest.exists() else ""
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = block + "\n" + old
    dest.write_text(new if new.endswith("\n") else new + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small smoke case (36x64 -> 144x256), no child runs")
    p.add_argument("--configs", default="lite,paper", help="comma list of model configs (default lite,paper)")
    p.add_argument("--precisions", default="default,fp32,bf16")
    p.add_argument("--paper-band", type=int, default=180,
                   help="output rows of paper's timed renders, scaled to the frame (default 180 = 1/4 of 720p)")
    p.add_argument("--reps", type=int, default=None, help="timed repetitions, best is kept (default 3; quick 2)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, all cores)")
    p.add_argument("--weights", action="append", default=[], metavar="NAME=PATH",
                   help="weights file for a config (default: shipped weights, else random init)")
    p.add_argument("--video-frames", default="30,300", help="lengths of the synthetic upscale RSS runs (lite)")
    p.add_argument("--vid4-pairs", type=int, default=3, help="Vid4 pairs per sequence for bf16 vs fp32 (0: skip)")
    p.add_argument("--vid4-configs", default="lite", help="configs for the Vid4 bf16 check (paper is slow)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma list of parts to measure (default all: {','.join(SECTIONS)}); the others are "
                        "taken from the last full-case run's benchmarks/results.json and marked with their date")
    p.add_argument("--out", type=Path, default=None,
                   help="markdown file to write (default benchmarks/RESULTS.md; quick: none)")
    args = p.parse_args(argv)
    import torch._dynamo.config

    torch._dynamo.config.recompile_limit = 64  # one graph per config x precision x cache mode here
    if args.threads:
        torch.set_num_threads(args.threads)
    for item in args.weights:
        key, _, path = item.partition("=")
        WEIGHTS[key] = path
    configs = [c for c in args.configs.split(",") if c]
    precisions = [c for c in args.precisions.split(",") if c]
    reps = args.reps or (2 if args.quick else 3)
    if args.quick:
        lr, out, n_gemm = (36, 64), (144, 256), 1024
    else:
        lr, out, n_gemm = (180, 320), (720, 1280), 2048
    sections = set(x for x in args.sections.split(",") if x)
    unknown = sections - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    if args.quick:
        sections -= {"compile", "vid4", "memory"}
    info = machine()
    log(f"{info['cpu']}, {info['cores']} cores, torch {info['torch']}, {info['threads']} threads, load {info['load']}")
    peaks = {"n": n_gemm, "fp32": gemm_peak(torch.float32, n_gemm), "bf16": gemm_peak(torch.bfloat16, n_gemm)}
    log(f"GEMM peak: fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s")
    frames = load_pair(lr)
    rows = []
    for name in configs if "models" in sections else []:
        case = Case(lr, out, None if args.quick or name != "paper" else args.paper_band)
        for prec in precisions:
            t0 = time.perf_counter()
            r = bench_model(name, prec, case, reps, frames)
            rows.append(r)
            log(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}),
                f"({time.perf_counter() - t0:.0f} s)")
    base = bench_baselines(frames, out, reps) if "baselines" in sections else {}
    log("baselines:", {k: round(v, 4) for k, v in base.items()})
    comp, vid4, mem = {}, {}, {}
    if "compile" in sections:
        for name in configs:
            cold, warm = compile_warmup(name)
            comp[name] = {"cold": cold, "warm": warm}
            log(name, "compile:", comp[name])
    if "vid4" in sections and args.vid4_pairs > 0:
        for name in [c for c in args.vid4_configs.split(",") if c]:
            vid4[name] = vid4_bf16(name, args.vid4_pairs)
            log(name, "vid4:", vid4[name])
    if "memory" in sections:
        lens = [int(x) for x in args.video_frames.split(",") if x]
        with tempfile.TemporaryDirectory() as tmp:
            for name in configs:
                vlen = lens if name == "lite" else []  # paper's 300 encodes would take an hour here
                mem[name] = bench_memory(name, vlen, (36, 64), Path(tmp))
                mem[name]["video_hw"] = (36, 64)
                log(name, "memory:", mem[name])
    note = (f"x4 from {lr[0]}x{lr[1]} to {out[0]}x{out[1]}" + ("" if args.quick or "paper" not in configs else
            f"; paper renders timed on the top {args.paper_band} rows and scaled to the frame"))
    cmd = ("python benchmarks/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    parts = {"models": rows, "baselines": base, "compile": comp, "vid4": vid4, "memory": mem}
    stamp = f"{info['date']}, load {info['load']}"
    dated = {}
    if not args.quick:  # merge with the sections of the last run that this one did not measure
        saved = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
        for key in SECTIONS:
            if key == "models" and key in sections and key in saved:  # keep rows of other configs/precisions
                mine = {(r["config"], r["precision"]) for r in rows}
                kept = [dict(r, when=r.get("when", saved[key]["when"])) for r in saved[key]["data"]
                        if (r["config"], r["precision"]) not in mine]
                parts[key] = [dict(r, when=stamp) for r in rows] + kept
                saved[key] = {"when": stamp, "cmd": cmd, "data": parts[key]}
            elif key in sections:
                saved[key] = {"when": stamp, "cmd": cmd, "data": parts[key]}
            elif key in saved:
                parts[key] = saved[key]["data"]
                dated[key] = f"{saved[key]['when']} (`{saved[key]['cmd']}`)"
        RESULTS_JSON.write_text(json.dumps(saved, indent=1, default=list) + "\n")
    text = report(info, peaks, parts["models"], parts["baselines"], parts["memory"], parts["compile"],
                  parts["vid4"], note, cmd)
    if dated:
        text += "\n" + "\n".join(f"- '{k}' measured earlier: {v}" for k, v in dated.items()) + "\n"
    print(text)
    dest = args.out if args.out is not None else (None if args.quick else ROOT / "benchmarks" / "RESULTS.md")
    if dest is not None:
        write_results(dest, text)
        log(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
