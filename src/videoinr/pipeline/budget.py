"""Stage 2b, budget: a memory model of the network's internals (encoder, kept state, render chunks), the
split of a memory limit into render chunks, and the run-time estimate checked against --max-time."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from videoinr.errors import VideoINRError
from videoinr.pipeline.job import UpscaleOptions, total_ram
from videoinr.pipeline.plan import OutputPlan
from videoinr.pipeline.scan import ScannedInput



def default_memory(device: torch.device) -> int:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * 0.8)
    return int(min(8 * 2**30, total_ram() * 0.5))


def device_memory(device: torch.device) -> int:
    """All the memory a job on `device` could use: the GPU's total, else this machine's RAM."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[1])
    return total_ram()


def memory_limit(job: UpscaleOptions) -> int:
    """The job's memory bound: --max-memory, which must not exceed what the device has, or the default."""
    if job.max_memory is None:
        return default_memory(job.device)
    have = device_memory(job.device)
    if job.max_memory > have:
        raise VideoINRError(f"--max-memory {fmt_bytes(job.max_memory)}: more than the {fmt_bytes(have)} this "
                            f"machine's {job.device.type.upper()} has")
    return job.max_memory


def _bytes_per_point(model) -> int:
    """Estimated peak bytes per rendered (pixel, t) query inside `State.render` (float32 activations)."""
    cfg = model.cfg
    widest = max(*cfg.spatial_hidden, *cfg.temporal_hidden, *cfg.decoder_hidden)
    per = 3 * cfg.hr_dim + 2 * sum(cfg.spatial_hidden) + sum(cfg.temporal_hidden) + sum(cfg.decoder_hidden)
    return int(4 * (per + 4 * widest + 64) * 1.5)


def _encode_bytes(model, h: int, w: int) -> int:
    """Estimated peak bytes of `model.encode` on an h x w pair plus the kept state (float32)."""
    cfg = model.cfg
    lr_dim = 3 * cfg.nf + 6  # the State's LR features and frames, then the renderer's projections of them
    state = h * w * (lr_dim + sum((cfg.spatial_hidden[0], cfg.temporal_hidden[0], 2 * cfg.decoder_hidden[0])))
    state += h * w * 4 * int(cfg.flow_prior)  # the prior's two flows
    state += h * w * 16 * 6 * int(cfg.conventions == "official")  # official: the x4 bilinear frames
    encoder = h * w * cfg.nf * 24  # several feature maps at LR (pyramid levels add ~1/3)
    return int(4 * (state + encoder))


def fmt_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if b < 1024 or unit == "PiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b:.1f} PiB"


def fmt_secs(s: float) -> str:
    if s < 1:
        return f"{s:.1f} s"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 3 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


@dataclass
class Budget:
    max_query_points: int
    t_per_call: int
    peak_bytes: int


def make_budget(model, lr_hw: tuple[int, int], out_hw: tuple[int, int], limit: int, label: str,
                device: torch.device) -> Budget:
    """Split the memory limit between encoder, frame buffers and render chunks; refuse what cannot fit.

    Chunks are capped where bigger ones stop paying: on CPU 2^16 points (the model's default; eagerly 25%
    faster than 2^14, compiled as fast; 2^18 no faster), on GPUs 2^20.
    """
    h, w = lr_hw
    H, W = out_hw
    fixed = _encode_bytes(model, h, w) + 4 * h * w * 3 * 4
    per_frame = H * W * 3 * (4 * 2 + 1)  # float32 render output (+ a copy when joining chunks) + uint8
    if not model.cfg.spatial_uses_t:  # warp form: two HR maps per pixel (written in place) and 4 flows per t
        fixed += H * W * 2 * model.cfg.decoder_hidden[0] * 4
        per_frame += H * W * 4 * 4
    bpp = _bytes_per_point(model)
    min_chunk = 1024 * bpp
    need = fixed + per_frame + min_chunk
    if need > limit:
        raise VideoINRError(
            f"{label}: one {W}x{H} output frame needs about {fmt_bytes(need)}, over the memory limit of "
            f"{fmt_bytes(limit)} (lower --scale/--size, render a --region, or raise --max-memory)"
        )
    room = limit - fixed
    t_per_call = int(max(1, min(16, (room // 2) // per_frame)))
    points = (room - t_per_call * per_frame) // bpp
    points = int(max(1024, min(points, 1 << 16 if device.type == "cpu" else 1 << 20)))
    return Budget(points, t_per_call, fixed + t_per_call * per_frame + points * bpp)


def _sync(x: torch.Tensor) -> None:
    if x.is_cuda:
        torch.cuda.synchronize(x.device)


def estimate_seconds(state, plan: OutputPlan, todo: list[int], t_enc: float, budget: Budget,
                     first_call: float | None = None, t_frame: float = 0.0) -> float:
    """Run time of the whole plan from the first pair: its encode time `t_enc` (of which `t_frame` each of
    its two frames' own part, computed once for sliding pairs: `render.PairEncoder`) per pair, plus the render
    time of the run's own first render call (`todo`: output frames of the first pair; at most
    budget.t_per_call of them, whole frames as the run renders them) per call like it. `first_call`: that
    call's seconds, when the caller rendered it (the run keeps its frames); None renders it here.

    Whole frames, not a band of rows: a band's HR maps cover the box its warped points reach, rows beyond
    the band, which made the band's cost per pixel up to 1.8x a frame's (issue 25). A compiled renderer's
    first call also compiles: the cost of a call is then timed on further calls of one and two frames, as a
    fixed part (pass 1, the HR maps: once per call) plus a part per frame, and the first call's excess (the
    compile) and these timing calls once; a job of one render call needs neither. (Timing one frame alone
    counted pass 1 once per frame: x2 jobs were estimated ~1.3x, x8 ones ~1.8x their render time.)"""
    from videoinr.models.render import _use_compiled  # the renderer's own rule
    from videoinr.pipeline.plan import encode_counts, pair_groups

    t = [plan.refs[i][1] for i in todo[: budget.t_per_call]]
    if first_call is None:
        first_call = _timed_render(state, plan, t)
    n_pairs, parts = encode_counts(plan.refs)
    encode = n_pairs * max(0.0, t_enc - 2 * t_frame) + parts * t_frame
    calls = sum(-(-sum(1 for i in g if plan.rendered(i)) // budget.t_per_call) for g in pair_groups(plan.refs))
    if calls <= 1:  # the first call renders the whole job: nothing left to time
        return encode + first_call
    per_call, per_frame, first, timing = 0.0, first_call / len(t), 0.0, 0.0
    if getattr(state, "model", None) is not None and _use_compiled(state):
        one = per_frame = timing = _timed_render(state, plan, t[:1])
        if len(t) > 1:  # two frames: the per-frame part is the difference (at least a quarter: timing noise)
            two = _timed_render(state, plan, t[:2])
            per_frame, timing = max(two - one, 0.25 * one), one + two
            per_call = max(one - per_frame, 0.0)
        first = first_call - (per_call + len(t) * per_frame)
    # --dedup: copies cost no render
    return encode + max(0.0, first) + timing + calls * per_call + plan.renders * per_frame


def _timed_render(state, plan: OutputPlan, t: list[float]) -> float:
    """Seconds of one render call of `state` at times t (its output is dropped)."""
    t0 = time.perf_counter()
    _sync(state.render(size=plan.out_hw, t=t, region=plan.region))
    return time.perf_counter() - t0


def check_estimate(secs: float, src: ScannedInput, plan: OutputPlan, job: UpscaleOptions, budget: Budget) -> None:
    """Refuse the run up front when estimated over --max-time; else print the estimate (with progress)."""
    rh, rw = plan.frame_hw
    label = str(src.path)
    if job.max_time is not None and secs > job.max_time:
        raise VideoINRError(
            f"{label}: estimated {fmt_secs(secs)} for {plan.n} frames of {rw}x{rh}, over the --max-time limit "
            f"of {fmt_secs(job.max_time)} (lower --scale/--size/--time-scale or raise --max-time)"
        )
    if job.progress:
        tqdm.write(f"{label}: estimate ~{fmt_secs(secs)}, peak memory ~{fmt_bytes(budget.peak_bytes)}",
                   file=sys.stderr)


def announce(src: ScannedInput, plan: OutputPlan, job: UpscaleOptions) -> None:
    """The job's first line (before the first pair is timed for the estimate): frames in and out, size."""
    if job.progress:
        rh, rw = plan.frame_hw
        dedup = (f" ({plan.dropped} repeated input frames skipped, {plan.renders} frames rendered)"
                 if plan.reuse else "")
        tqdm.write(f"{src.path}: {src.n} -> {plan.n} frames of {rw}x{rh}{dedup}; timing the first pair for "
                   "the estimate", file=sys.stderr)
