"""Stage 2, plan: each output frame gets a position u in input-frame units (2.5 = halfway between frames 2
and 3) and a presentation time; u maps to an input pair (k, k+1) and t in [0, 1]. No pair crosses a scene
cut (frames near a cut come from the nearer side, rendered within their own shot)."""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from videoinr.errors import VideoINRError
from videoinr.pipeline.job import UpscaleOptions, check_frame_count, output_size
from videoinr.pipeline.scan import ScannedInput

FrameRef = tuple[tuple[int, int], float]  # (input pair (a, b), t in [0, 1]) rendering one output frame


@dataclass
class OutputPlan:
    u: list[float]  # position of each output frame in input-frame units
    times: list[float]  # presentation time of each output frame, seconds
    fps: Fraction  # nominal output frame rate
    time_base: Fraction  # output video time base
    last_duration: float  # seconds the last output frame is shown
    copy_audio: bool
    out_hw: tuple[int, int] = (0, 0)  # full output frame (H, W)
    region: tuple[int, int, int, int] | None = None  # (x, y, w, h) of out_hw actually rendered
    refs: list[FrameRef] = field(default_factory=list)  # what renders each output frame
    reuse: bool = False  # with --dedup: an output frame with the same ref as the one before is a copy of it
    dropped: int = 0  # with --dedup: input frames skipped as repeats

    def rendered(self, i: int) -> bool:
        """Whether output frame i is rendered (False: it repeats frame i - 1's pair and t, and is its copy)."""
        return not (self.reuse and i > 0 and self.refs[i] == self.refs[i - 1])

    @property
    def renders(self) -> int:
        """Output frames actually rendered (the rest are copies)."""
        return sum(1 for i in range(self.n) if self.rendered(i)) if self.reuse else self.n

    @property
    def frame_hw(self) -> tuple[int, int]:
        """(H, W) of the frames written: the region's, or the full output's."""
        return (self.region[3], self.region[2]) if self.region is not None else self.out_hw

    @property
    def n(self) -> int:
        return len(self.u)


def _interp(xs: Sequence[float], u: float) -> float:
    """Piecewise-linear value of xs at fractional index u (clamped)."""
    k = min(max(int(math.floor(u)), 0), len(xs) - 1)
    if k >= len(xs) - 1:
        return xs[-1]
    return xs[k] + (u - k) * (xs[k + 1] - xs[k])


def _timeline(src: ScannedInput, time_scale: int | None, fps: Fraction | None,
              times: list[float] | None) -> OutputPlan:
    """The output frames' positions and times for one time mode (at most one of the three is given)."""
    n = src.n
    t_in = src.times
    end = src.end
    frame_dur = end - t_in[-1]  # how long the last input frame is shown
    if (time_scale and time_scale > 1) or fps is not None or times is not None:
        if n < 2:
            what = "--time-scale" if time_scale else "--fps" if fps is not None else "--times"
            raise VideoINRError(
                f"{src.path}: has only 1 frame; {what} needs at least 2 frames to interpolate between "
                "(space-only upscaling works)"
            )
    if times is not None:
        bad = [t for t in times if t < 0 or t > n - 1]
        if bad:
            raise VideoINRError(f"--times: {bad[0]:g} is outside 0..{n - 1} (input-frame units, {n} frames)")
        check_frame_count(len(times), "--times")
        out_fps = src.fps
        tb = 1 / out_fps
        out_t = [t_in[0] + j / float(out_fps) for j in range(len(times))]
        return OutputPlan(list(times), out_t, out_fps, tb, float(1 / out_fps), copy_audio=False)
    if fps is not None:
        out_fps = Fraction(fps)
        span = t_in[-1] - t_in[0]
        count = int(math.floor(span * float(out_fps) + 1e-6)) + 1
        check_frame_count(count, f"{src.path}: --fps {out_fps}")
        out_t = [t_in[0] + j / float(out_fps) for j in range(count)]
        u = []
        for t in out_t:  # invert the (monotone) time curve: real timestamps, VFR included
            k = min(max(bisect_right(t_in, t) - 1, 0), n - 2)
            d = t_in[k + 1] - t_in[k]
            u.append(min(float(n - 1), k + ((t - t_in[k]) / d if d > 0 else 0.0)))
        return OutputPlan(u, out_t, out_fps, 1 / out_fps, max(end - out_t[-1], 1e-3), copy_audio=True)
    N = int(time_scale or 1)
    count = (n - 1) * N + 1
    if N > 1:
        check_frame_count(count, f"{src.path}: --time-scale {N} on {n} frames")
    u = [j / N for j in range(count)]
    out_t = [_interp(t_in, x) for x in u]
    return OutputPlan(u, out_t, src.fps * N, src.time_base / N, frame_dur, copy_audio=True)


def _frame_ref(k: int, shots_start: list[int], n: int) -> FrameRef:
    """Pair and t that render input frame k within its own shot."""
    i = bisect_right(shots_start, k) - 1
    a = shots_start[i]
    b = shots_start[i + 1] if i + 1 < len(shots_start) else n
    if b - a == 1:
        return (k, k), 0.0
    if k < b - 1:
        return (k, k + 1), 0.0
    return (k - 1, k), 1.0


def _locate(u: float, cuts: set[int], shots_start: list[int], n: int) -> FrameRef:
    """(pair (a, b), t in [0, 1]) rendering position u; never interpolates across a cut."""
    k = min(int(math.floor(u)), n - 1)
    frac = u - k
    if k == n - 1 or frac == 0.0:
        return _frame_ref(k, shots_start, n)
    if (k + 1) not in cuts:
        return (k, k + 1), frac
    return _frame_ref(k if frac < 0.5 else k + 1, shots_start, n)


def make_plan(src: ScannedInput, job: UpscaleOptions) -> OutputPlan:
    """The output frames of `job` on `src`: positions and times, size and region, and the pair and t of
    each. Refuses a time mode the input cannot support and a region outside the output frame."""
    plan = _timeline(src, job.time_scale, job.fps, job.times)
    H, W = output_size((src.height, src.width), job.scale, job.size)
    if job.region is not None:
        rx, ry, rw, rh = job.region
        if rx + rw > W or ry + rh > H:
            raise VideoINRError(f"--region {rx},{ry},{rw},{rh}: not inside the {W}x{H} output frame")
    plan.out_hw, plan.region = (H, W), job.region
    if src.keep is not None:
        plan.refs, plan.reuse, plan.dropped = _dedup_refs(src, plan.u), True, src.n - len(src.keep)
        return plan
    shots_start = [0, *[c for c in src.cuts if 0 < c < src.n]]
    cutset = set(shots_start[1:])
    plan.refs = [_locate(u, cutset, shots_start, src.n) for u in plan.u]
    return plan


def _dedup_refs(src: ScannedInput, us: list[float]) -> list[FrameRef]:
    """Refs rendering positions `us` (input-frame units) from the distinct frames `src.keep` only: each
    position's time on the input timeline is placed between the distinct frames around it by their true
    timestamps (a frame shown three times is one drawing whose motion continues to the next), so the output
    keeps its times and rate while the motion is interpolated evenly. After the last distinct frame, its
    image is held. Pairs are input-frame indices; no pair crosses a scene cut."""
    keep = src.keep
    m = len(keep)
    kt = [src.times[k] for k in keep]
    shots_start = [0, *sorted({bisect_left(keep, c) for c in src.cuts if 0 < c < src.n} - {0})]
    cutset = set(shots_start[1:])
    refs = []
    for u in us:
        t = _interp(src.times, u)
        j = min(max(bisect_right(kt, t) - 1, 0), m - 1)
        x = float(j) if j >= m - 1 else j + (t - kt[j]) / (kt[j + 1] - kt[j])
        if abs(x - round(x)) < 1e-9:
            x = float(round(x))
        (a, b), tt = _locate(min(x, m - 1.0), cutset, shots_start, m)
        refs.append(((keep[a], keep[b]), tt))
    return refs


def pair_groups(refs: list[FrameRef]) -> Iterator[range]:
    """Runs of consecutive output frames rendered from the same input pair (each pair is encoded once)."""
    j = 0
    while j < len(refs):
        end = j
        while end < len(refs) and refs[end][0] == refs[j][0]:
            end += 1
        yield range(j, end)
        j = end


def encode_counts(refs: list[FrameRef]) -> tuple[int, int]:
    """(pairs, frame parts) a plan encodes: its distinct input pairs, and the frames' own encoder parts they
    compute in order (`render.PairEncoder`: none for a frame the previous pair ended on, one per new frame)."""
    pairs = list(dict.fromkeys(ref[0] for ref in refs))
    parts = sum(int(not (k and pairs[k - 1][1] == p[0])) + int(p[1] != p[0]) for k, p in enumerate(pairs))
    return len(pairs), parts
