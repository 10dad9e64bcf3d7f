"""End-to-end benchmark of `videoinr upscale` at real sizes (issue 25): the whole command, in a fresh process
per row, on real frames (DAVIS 480p from ../shared/data, resized for the 360p and 1080p rows).

Per row: wall seconds per output frame; the share of the command's time in decode (scan + frame reads),
prior (DIS flows), encode (the CNN encoder, prior excluded), render, output encode (the sink's writes),
joins (the sink's finish: segments joined), estimate (the estimate's own timing renders) and other (import,
model load, planning); achieved GFLOP/s (encoder + renderer GEMM FLOPs counted by torch.utils.flop_counter,
per LR pixel and per output pixel, over the wall time) against the float32 (and bf16) GEMM peak measured in
the same run, and the GEMM-bound limit (FLOPs / peak of the precision each part runs in); peak RSS of the
child; the printed estimate against the measured wall; ratios against DIS flow + bicubic
(`videoinr.baselines`) and libavfilter's `minterpolate` + `scale=lanczos` on the same frames in the same run
(the `ffmpeg` binary if on PATH, else the same filters through PyAV's libavfilter).

    python benchmarks/e2e.py            # all rows (~10 min on the 2-core CPU), table into RESULTS.md
    python benchmarks/e2e.py --quick    # small frame counts / sizes, prints only
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DAVIS = ROOT / ".." / "shared" / "data" / "train" / "davis480p" / "bmx-trees"
BEGIN, END = "<!-- e2e.py output: begin -->", "<!-- e2e.py output: end -->"
STAGES = ("decode", "prior", "encode", "render", "output", "joins", "estimate", "other")

# (name, input kind, input (h, w) or None = DAVIS 480p as is, frames, CLI options)
ROWS = [
    ("480p -> 1080p x2, folder", "folder", None, 3, ["--size", "1920x1080", "--time-scale", "2"]),
    ("480p -> 1080p x2, mp4", "mp4", None, 3, ["--size", "1920x1080", "--time-scale", "2"]),
    ("480p -> 1080p x8, mp4", "mp4", None, 2, ["--size", "1920x1080", "--time-scale", "8"]),
    ("360p -> 4K space only, folder", "folder", (360, 640), 2, ["--size", "3840x2160", "--time-scale", "1"]),
    ("1080p -> 1080p x4 time only, folder", "folder", (1080, 1920), 2, ["--scale", "1", "--time-scale", "4"]),
    ("480p -> 1080p x2, 13 frames, folder (issue 25's job)", "folder", None, 13,
     ["--size", "1920x1080", "--time-scale", "2"]),
]
QUICK_ROWS = [
    ("240p -> 540p x2, folder", "folder", (240, 426), 3, ["--size", "960x540", "--time-scale", "2"]),
    ("240p -> 540p x2, mp4", "mp4", (240, 426), 3, ["--size", "960x540", "--time-scale", "2"]),
]


# ------------------------------------------------------------------------------------------- inputs
def make_inputs(work: Path, kind: str, hw, n: int) -> Path:
    """A frame folder (PNG) or an H.264 mp4 of the first n DAVIS frames, resized to hw (cv2 area/cubic)."""
    import cv2

    from videoinr.data.frames import read_image

    tag = f"{kind}_{'orig' if hw is None else f'{hw[0]}x{hw[1]}'}_{n}"
    frames = []
    for i in range(n):
        img = read_image(DAVIS / f"{i:05d}.jpg")
        if hw is not None:
            interp = cv2.INTER_AREA if hw[0] < img.shape[0] else cv2.INTER_CUBIC
            img = cv2.resize(img, (hw[1], hw[0]), interpolation=interp)
        frames.append(img)
    if kind == "folder":
        out = work / tag
        if not out.exists():
            tmp = work / (tag + ".tmp")
            tmp.mkdir(parents=True, exist_ok=True)
            for i, img in enumerate(frames):
                cv2.imwrite(str(tmp / f"{i:05d}.png"), img[..., ::-1])
            tmp.rename(out)
        return out
    import av

    out = work / (tag + ".mp4")
    if not out.exists():
        with av.open(str(out), "w") as c:
            s = c.add_stream("libx264", rate=24)
            s.height, s.width = frames[0].shape[:2]
            s.pix_fmt, s.options = "yuv420p", {"crf": "12"}
            for img in frames:
                c.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
            c.mux(s.encode())
    return out


# ------------------------------------------------------------------------------------------- the child
def child(argv: list[str], report: Path) -> None:
    """Run `videoinr upscale ARGV` in this process with stage timers patched in; write a JSON report."""
    t_start = time.perf_counter()
    import threading

    import videoinr.cli
    from videoinr.models import prior as vprior
    from videoinr.models import render as vrender
    from videoinr.models import videoinr as vmodel
    from videoinr.pipeline import budget as vbudget
    from videoinr.pipeline import render as prender
    from videoinr.pipeline import scan as vscan
    from videoinr.pipeline import sinks as vsinks

    totals = dict.fromkeys(STAGES, 0.0)
    local = threading.local()
    lock = threading.Lock()
    info: dict = {}

    def timer(stage, fn):
        def wrapped(*a, **k):
            stack = getattr(local, "stack", None)
            if stack is None:
                stack = local.stack = []
            t0 = time.perf_counter()
            stack.append(0.0)
            try:
                return fn(*a, **k)
            finally:
                inner = stack.pop()
                dt = time.perf_counter() - t0
                with lock:
                    totals["estimate" if getattr(local, "in_estimate", False) else stage] += dt - inner
                if stack:
                    stack[-1] += dt
        return wrapped

    def timed_iter(fn):
        def wrapped(*a, **k):
            it = fn(*a, **k)
            nxt = timer("decode", lambda: next(it, StopIteration))
            while True:
                v = nxt()
                if v is StopIteration:
                    return
                yield v
        return wrapped

    vmodel.pair_flows = vprior.pair_flows = timer("prior", vprior.pair_flows)
    vmodel.VideoINR.encode = timer("encode", vmodel.VideoINR.encode)
    if hasattr(vmodel.VideoINR, "encode_frame"):  # a frame's own part, once for sliding pairs
        vmodel.VideoINR.encode_frame = timer("encode", vmodel.VideoINR.encode_frame)
    vrender.State.render = timer("render", vrender.State.render)
    vscan.ScannedInput.frames = timed_iter(vscan.ScannedInput.frames)
    for name in ("scan",):
        for mod in (vscan, sys.modules.get("videoinr.pipeline.run")):
            if mod is not None and hasattr(mod, name):
                setattr(mod, name, timer("decode", getattr(mod, name)))
    for cls in (vsinks.VideoSink, vsinks.FolderSink):
        cls.write = timer("output", cls.write)
        cls.finish = timer("joins", cls.finish)
    est = vbudget.estimate_seconds

    def estimate_seconds(*a, **k):
        local.in_estimate = True  # its timing renders (and a compile they trigger) count as the estimate's
        try:
            secs = est(*a, **k)
        finally:
            local.in_estimate = False
        info["estimate"] = float(secs)
        info["estimate_at"] = time.perf_counter() - t_start
        return secs

    vbudget.estimate_seconds = prender.estimate_seconds = estimate_seconds
    import videoinr.pipeline.run as vrun  # noqa: F401 - patched above through sys.modules when imported

    inner_render_all = vrun.render_all

    def render_all(*a, **k):
        info["render_all_start"] = time.perf_counter() - t_start
        try:
            return inner_render_all(*a, **k)
        finally:
            info["render_all_end"] = time.perf_counter() - t_start

    vrun.render_all = render_all
    decide = vrun.inference_policy

    def inference_policy(*a, **k):
        policy = decide(*a, **k)
        info["compiled"] = bool(policy.compile_render)
        return policy

    vrun.inference_policy = inference_policy

    if hasattr(vrun, "scan") and not getattr(vrun.scan, "__wrapped_e2e__", False):
        vrun.scan = timer("decode", vrun.scan)
        vrun.scan.__wrapped_e2e__ = True
    status = videoinr.cli.main(["upscale", *argv])
    wall = time.perf_counter() - t_start
    totals["other"] = max(0.0, wall - sum(v for s, v in totals.items() if s != "other"))
    import torch

    info.update(status=status, wall=wall, stages=totals, rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                threads=torch.get_num_threads())
    report.write_text(json.dumps(info))


# ------------------------------------------------------------------------------------------- parent side
def gemm_peaks() -> dict:
    import torch

    out = {}
    for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(2048, 2048).to(dt), torch.randn(2048, 2048).to(dt)
        best = float("inf")
        for _ in range(10):
            t0 = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - t0)
        out[name] = 2 * 2048**3 / best
    return out


def flops_per_pixel() -> tuple[float, float, float]:
    """(encoder GEMM FLOPs of a whole pair per LR pixel, of one frame's own part (`encode_frame`, which
    sliding pairs compute once) per LR pixel, renderer GEMM FLOPs per output pixel) of the shipped lite."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import videoinr

    m = videoinr.create_model("lite").eval()
    a, b = torch.rand(1, 3, 96, 160), torch.rand(1, 3, 96, 160)
    with torch.inference_mode():
        with FlopCounterMode(display=False) as fc:
            st = m.encode(a, b)
        enc = fc.get_total_flops() / (96 * 160)
        with FlopCounterMode(display=False) as fc:
            m.encode_frame(a)
        part = fc.get_total_flops() / (96 * 160)
        with FlopCounterMode(display=False) as fc:
            st.render((384, 640), [0.25, 0.5])
        ren = fc.get_total_flops() / (2 * 384 * 640)
    return enc, part, ren


def job_shape(inp: Path, opts: list[str]) -> dict:
    """Pairs, output frames and sizes of a row's job, from the package's own plan (writes nothing)."""
    from videoinr.pipeline import upscale_options
    from videoinr.pipeline.plan import encode_counts, make_plan
    from videoinr.pipeline.scan import scan

    kw = {k.lstrip("-").replace("-", "_"): v for k, v in zip(opts[::2], opts[1::2])}  # as a user spells them
    job = upscale_options(kw)
    src = scan(inp)
    plan = make_plan(src, job)
    pairs, parts = encode_counts(plan.refs)
    return {"lr": (src.height, src.width), "out": plan.out_hw, "frames": plan.n, "renders": plan.renders,
            "pairs": pairs, "frame_parts": parts}


def read_frames(inp: Path) -> list[np.ndarray]:
    from videoinr.pipeline.scan import scan

    return list(scan(inp).frames())


def flow_bicubic_seconds(frames, out_hw, per_pair_times: list[float], last: bool) -> float:
    """DIS flow + bicubic (`videoinr.baselines`) producing the same output frames from the same frames."""
    from videoinr.baselines import get_method

    method = get_method("flow-bicubic")
    t0 = time.perf_counter()
    for i in range(len(frames) - 1):
        ts = list(per_pair_times) + ([1.0] if last and i == len(frames) - 2 else [])
        method.predict(frames[i], frames[i + 1], ts, tuple(out_hw))
    return time.perf_counter() - t0


def libav_seconds(frames, fps_out: int, out_hw) -> tuple[float, str]:
    """minterpolate (motion-compensated, to fps_out from 24) + scale=lanczos on the same frames: the ffmpeg
    binary if on PATH, else PyAV's libavfilter (the same filters)."""
    h, w = out_hw
    chain = (f"minterpolate=fps={fps_out}:mi_mode=mci," if fps_out != 24 else "") + f"scale={w}:{h}:flags=lanczos"
    if shutil.which("ffmpeg"):
        with tempfile.TemporaryDirectory() as d:
            raw = Path(d) / "in.rgb"
            raw.write_bytes(b"".join(f.tobytes() for f in frames))
            fh, fw = frames[0].shape[:2]
            t0 = time.perf_counter()
            subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{fw}x{fh}",
                            "-r", "24", "-i", str(raw), "-vf", chain, "-f", "null", "-"], check=True)
            return time.perf_counter() - t0, "ffmpeg", None
    import av

    t0 = time.perf_counter()
    graph = av.filter.Graph()
    fh, fw = frames[0].shape[:2]
    src = graph.add_buffer(width=fw, height=fh, format="rgb24", time_base=Fraction(1, 24))
    nodes = [src]
    if fps_out != 24:
        nodes.append(graph.add("minterpolate", f"fps={fps_out}:mi_mode=mci"))
    nodes.append(graph.add("scale", f"{w}:{h}:flags=lanczos"))
    nodes.append(graph.add("buffersink"))
    for a, b in zip(nodes, nodes[1:]):
        a.link_to(b)
    graph.configure()
    n_out = 0
    for i, f in enumerate(frames + [None]):
        if f is None:
            graph.push(None)
        else:
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, 24)
            graph.push(vf)
        while True:
            try:
                graph.pull()
                n_out += 1
            except (av.error.BlockingIOError, av.error.EOFError):
                break
    return time.perf_counter() - t0, f"PyAV libavfilter", n_out


def run_row(row, work: Path, peaks: dict, fpp: tuple[float, float, float], src: Path | None = None) -> dict:
    name, kind, hw, n, opts = row
    inp = make_inputs(work, kind, hw, n)
    shape = job_shape(inp, opts)
    out = work / f"out_{abs(hash(name))}{'.mp4' if kind == 'mp4' else ''}"
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    rep = work / "report.json"
    env = dict(os.environ)
    if src is not None:  # another source tree (e.g. an earlier commit's `src`, from git archive) for the command
        env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(rep), "--", str(inp), "-o", str(out),
           *opts, "--quiet"]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    r = json.loads(rep.read_text())
    if r["status"] != 0:
        raise SystemExit(f"{name}: videoinr upscale exited with {r['status']}")
    frames = read_frames(inp)
    tscale = float(opts[opts.index("--time-scale") + 1])
    times = [k / tscale for k in range(int(tscale))]
    fb = flow_bicubic_seconds(frames, shape["out"], times, last=True)
    lav, lav_how, lav_n = libav_seconds(frames, int(24 * tscale), shape["out"])
    H, W = shape["out"]
    lr_px = shape["lr"][0] * shape["lr"][1]
    gflop_enc = shape["pairs"] * fpp[0] * lr_px / 1e9  # every pair encoded whole (issue 25's count)
    gflop_run = (shape["pairs"] * (fpp[0] - 2 * fpp[1]) + shape["frame_parts"] * fpp[1]) * lr_px / 1e9  # as run
    gflop_ren = shape["renders"] * fpp[2] * H * W / 1e9
    from videoinr.runtime import native_bf16
    import torch

    enc_peak = peaks["bf16" if native_bf16(torch.device("cpu")) else "fp32"]
    limit = gflop_enc * 1e9 / enc_peak + gflop_ren * 1e9 / peaks["fp32"]
    limit_run = gflop_run * 1e9 / enc_peak + gflop_ren * 1e9 / peaks["fp32"]
    total = r["wall"]
    return {"name": name, **shape, "wall": total, "per_frame": total / shape["frames"], "stages": r["stages"],
            "gflop": gflop_enc + gflop_ren, "gflops": (gflop_enc + gflop_ren) / total, "limit": limit,
            "gflop_run": gflop_run + gflop_ren, "limit_run": limit_run,
            "rss": r["rss"], "estimate": r.get("estimate"), "compiled": r.get("compiled"),
            "job": r.get("render_all_end", 0) - r.get("render_all_start", 0), "flow_bicubic": fb, "libav": lav, "libav_how": lav_how, "libav_frames": lav_n,
            "load": os.getloadavg()[0]}


def table(results: list[dict], peaks: dict, meta: dict) -> str:
    lines = [
        "# End-to-end `videoinr upscale` (benchmarks/e2e.py)",
        "",
        f"- Machine: {meta['cpu']}, {meta['cores']} cores ({meta['isa']}), torch {meta['torch']}; "
        f"load average at start {meta['load']}; {meta['date']}",
        f"- Command: `python benchmarks/e2e.py{' --quick' if meta['quick'] else ''}`; inputs: the first frames "
        "of DAVIS bmx-trees (854x480 JPEG), resized (cv2) for the 360p / 1080p rows; mp4 = H.264 crf 12 of them",
        f"- GEMM peak (torch.mm 2048^2, best of 10, this run): fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, "
        f"bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s",
        "",
        f"- Renderer: compiled where the job's saving pays back the compile cost the commands expect here "
        f"(`runtime.compile_seconds()` at the start of this run: {meta['compile_s']:.1f} s)",
        "",
        "| row | LR -> out | frames (pairs) | renderer | wall | s / out frame | decode | prior | encode | render | output "
        "| joins | estimate | other | GFLOP | GFLOP/s (of fp32 peak) | x GEMM-bound limit | GFLOP run, x its limit | peak RSS "
        "| estimate / measured (command, render_all) | x flow+bicubic | x minterpolate+lanczos | load |",
        "|" + "---|" * 23,
    ]
    for r in results:
        s = r["stages"]
        share = [f"{100 * s[k] / r['wall']:.0f}%" for k in STAGES]
        est = (f"{r['estimate'] / r['wall']:.2f}, {r['estimate'] / r['job']:.2f}" if r.get("estimate") and r["job"]
               else "-")
        lines.append(
            f"| {r['name']} | {r['lr'][1]}x{r['lr'][0]} -> {r['out'][1]}x{r['out'][0]} | {r['frames']} ({r['pairs']}) "
            f"| {'compiled' if r.get('compiled') else 'eager'} | {r['wall']:.1f} s | {r['per_frame']:.2f} s | " + " | ".join(share)
            + f" | {r['gflop']:.0f} | {r['gflops'] / 1e9 * 1e9:.1f} ({100 * r['gflops'] * 1e9 / peaks['fp32']:.0f}%) "
            f"| {r['wall'] / r['limit']:.1f} | {r['gflop_run']:.0f}, {r['wall'] / r['limit_run']:.1f} "
            f"| {r['rss'] / 2**30:.2f} GiB | {est} "
            f"| {r['wall'] / r['flow_bicubic']:.1f} | {_libav_ratio(r)} | {r['load']:.1f} |")
    lines += [
        "",
        "Shares are of the command's wall time (exclusive: the prior is not in encode, the estimate's timing "
        "renders not in render); other = import, model load, planning, compile outside the render calls. GFLOP: "
        "encoder + renderer GEMM FLOPs (torch.utils.flop_counter per LR / output pixel), every pair encoded "
        "whole (issue 25's count); GFLOP run: as the command runs them, each frame's own encoder part "
        "(`encode_frame`) once for sliding pairs, and the wall over the limit of those; the GEMM-bound limit "
        "takes the encoder at the bf16 peak where bf16 is native, the renderer at the fp32 peak. Estimate / "
        "measured: the estimate printed before the job over the command's wall, and over the time of the "
        "render stage (`render_all`: decode, prior, encode, render, output; without the start-up and the joins). x flow+bicubic, x "
        "minterpolate+lanczos: our wall over theirs, same frames and output, same run (in process, decode "
        f"excluded for them; {results[0]['libav_how'] if results else ''}). Load: 1-minute load average at "
        "the row's end (2 cores: above ~1 another job competed). The output encode and the next pair's decode "
        "and DIS run on worker threads beside the render, so the shares can sum above 100% (other is then 0).",
    ]
    return "\n".join(lines) + "\n"


def _libav_ratio(r: dict) -> str:
    n = r.get("libav_frames")
    if n is not None and n < r["frames"]:  # minterpolate holds frames back on such short inputs
        return f"n/a ({n} of {r['frames']} frames out)"
    return f"{r['wall'] / r['libav']:.1f}"


def machine() -> dict:
    import datetime
    import platform

    import torch

    from videoinr.runtime import cpu_info

    info = cpu_info()
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in info["flags"]]
    return {"cpu": info["model_name"] or platform.processor(), "cores": os.cpu_count(), "isa": " ".join(isa),
            "torch": torch.__version__, "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def write_results(text: str) -> None:
    dest = ROOT / "benchmarks" / "RESULTS.md"
    old = dest.read_text()
    if BEGIN in old:
        head, rest = old.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = head + BEGIN + "\n" + text + END + tail
    else:
        new = BEGIN + "\n" + text + END + "\n\n" + old
    dest.write_text(new)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[4:], Path(sys.argv[2]))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small inputs, prints only")
    p.add_argument("--rows", default=None, help="comma-separated row numbers (1-based) to run")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "videoinr_e2e")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--src", type=Path, default=None,
                   help="run the command from this source tree (before/after comparisons; prints only)")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    from videoinr.runtime import compile_seconds

    meta = machine() | {"quick": args.quick, "compile_s": compile_seconds()}
    peaks = gemm_peaks()
    fpp = flops_per_pixel()
    rows = QUICK_ROWS if args.quick else ROWS
    if args.rows:
        rows = [rows[int(i) - 1] for i in args.rows.split(",")]
    results = []
    for row in rows:
        r = run_row(row, args.work, peaks, fpp, args.src)
        print(json.dumps({k: v for k, v in r.items() if k != "stages"} | {"stages": {k: round(v, 2) for k, v in r["stages"].items()}}), flush=True)
        results.append(r)
    text = table(results, peaks, meta)
    print(text)
    if not (args.quick or args.no_write or args.rows or args.src):
        write_results(text)


if __name__ == "__main__":
    main()
