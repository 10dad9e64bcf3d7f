"""Stage 3, render: each input pair is encoded once (`model.encode`) and all its output frames are rendered
from that state (`state.render(size=(H, W), t=[...], region=...)`) in memory-bounded calls, written to a
sink in order. The first pair also times the run, checked against --max-time before anything is written."""
from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from videoinr.data.convert import to_float, to_uint8
from videoinr.pipeline.budget import Budget, announce, check_estimate, estimate_seconds
from videoinr.pipeline.job import UpscaleOptions
from videoinr.pipeline.plan import OutputPlan, pair_groups
from videoinr.pipeline.scan import DecodedFrameBuffer, ScannedInput


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> float (1, 3, H, W) in [0, 1] on `device` (uint16: on the 0..65535 scale)."""
    if img.dtype == np.uint16:
        x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32) / np.float32(65535)).to(device)
        return x.movedim(-1, -3).unsqueeze(0)
    return to_float(img, device).unsqueeze(0)


def to_uint16(x: torch.Tensor) -> np.ndarray:
    """Float (3, H, W) in [0, 1] -> uint16 (H, W, 3) RGB on the 0..65535 scale (clamped, rounded)."""
    return x.float().clamp(0, 1).mul(65535).round_().to(torch.int32).movedim(-3, -1).cpu().numpy().astype(np.uint16)


class PairEncoder:
    """Encodes a job's pairs in order. A `VideoINR` computes each frame's part (`encode_frame`) once where a
    pair starts at the previous pair's last frame (sliding pairs; lite at 480p: ~20% of a pair's encode);
    other models (tests' stand-ins) encode each pair whole. `frame_seconds`: the last frame part's time.
    Call under torch.inference_mode()."""

    def __init__(self, net, device: torch.device) -> None:
        from videoinr.models.videoinr import VideoINR

        self.net, self.device = net, device
        self.parts = isinstance(net, VideoINR)
        self.last = None  # (frame index, its FrameCode)
        self.frame_seconds = 0.0

    def __call__(self, pair: tuple[int, int], a: torch.Tensor, b: torch.Tensor, flows: torch.Tensor | None = None):
        """The State of input frames pair = (i, j) given as a, b (1, 3, h, w); flows: their DIS prior or None."""
        if not self.parts:
            return self.net.encode(a, b) if flows is None else self.net.encode(a, b, flows=flows)
        code0 = self.last[1] if self.last is not None and self.last[0] == pair[0] else self._part(a)
        code1 = code0 if pair[1] == pair[0] else self._part(b)
        self.last = (pair[1], code1)
        return self.net.encode(code0, code1, flows=flows)

    def _part(self, frame: torch.Tensor):
        t0 = time.perf_counter()
        code = self.net.encode_frame(frame)
        _sync(self.device)
        self.frame_seconds = time.perf_counter() - t0
        return code


def encode_timed(net, pair: tuple[int, int], a: torch.Tensor, b: torch.Tensor, device: torch.device):
    """(state, seconds, seconds of one frame's part) of a job's first pair (`PairEncoder`); call under
    torch.inference_mode()."""
    encoder = PairEncoder(net, device)
    t0 = time.perf_counter()
    state = encoder(pair, a, b)
    _sync(device)
    return state, time.perf_counter() - t0, encoder.frame_seconds


class _Progress:
    """Frames done (written, or already there on --resume): the bar and the job's on_progress callback."""

    def __init__(self, src: ScannedInput, n: int, job: UpscaleOptions) -> None:
        self.n, self.done, self.callback = n, 0, job.on_progress
        self.bar = tqdm(total=n, desc=src.path.name, unit="frame", disable=None if job.progress else True,
                        dynamic_ncols=True, smoothing=0)  # rate since the start: the ETA converges

    def add(self, k: int, report: bool = True) -> None:
        self.bar.update(k)
        self.done += k
        if report:
            self.report()

    def report(self) -> None:
        if self.callback is not None:
            self.callback(self.done, self.n)


def render_all(src: ScannedInput, plan: OutputPlan, job: UpscaleOptions, net, sink, budget: Budget) -> None:
    """Render every output frame that `sink` does not hold yet, in order (`sink.is_done(i)` frames are
    skipped: --resume, or another worker's range). The first render call of the first pair to render is
    timed for the estimate, checked against --max-time before anything is written. Where cores are spare
    (`overlaps`), output encoding (the sink's writes, in order, on one worker thread) overlaps the next
    render, and the next pair's frames are decoded and its DIS prior computed on that thread's sibling
    while the current pair renders; else each runs in turn."""
    if not all(sink.is_done(i) for i in range(plan.n)):
        announce(src, plan, job)
    frames = DecodedFrameBuffer(src.frames())
    progress = _Progress(src, plan.renders, job)  # counts frames rendered (with --dedup, copies are not)
    overlap = overlaps(job.device)
    writer = _Writer(sink, to_uint16 if src.bits > 8 else to_uint8, threaded=overlap)
    groups = [(g, [i for i in g if not sink.is_done(i)]) for g in pair_groups(plan.refs)]
    from videoinr.models.videoinr import VideoINR  # (other models, e.g. tests' stand-ins, compute their own)

    flow_prior = isinstance(net, VideoINR) and net.cfg.flow_prior
    checked_estimate, meter = False, None
    ahead = None  # the next pair to render, prepared on a worker thread: (pair, (a, b), flows or None)
    encoder = PairEncoder(net, job.device)
    pool = ThreadPoolExecutor(1, thread_name_prefix="videoinr-prefetch")
    try:
        for n, (group, todo) in enumerate(groups):
            progress.add(sum(1 for i in group if plan.rendered(i)) - sum(1 for i in todo if plan.rendered(i)),
                         report=False)
            if not todo:
                continue
            pair = plan.refs[group[0]][0]
            if ahead is not None and ahead.result()[0] == pair:
                _, (a, b), flows = ahead.result()
            else:
                frames.drop_before(pair[0])
                (a, b), flows = _load_pair(frames, pair, job.device), None
            ahead = None
            nxt = next(((plan.refs[g[0]][0]) for g, t in groups[n + 1 :] if t), None)
            if nxt is not None and overlap:  # decode (and DIS) of the next pair while this one encodes and renders
                ahead = pool.submit(_prepare, frames, pair, nxt, job.device, flow_prior)
            with torch.inference_mode():
                t0 = time.perf_counter()
                state = encoder(pair, a, b, flows)
                _sync(job.device)
                t_enc = time.perf_counter() - t0
                first = None
                if not checked_estimate:
                    fresh = _compiles_fresh(state)
                    first = _first_call(state, plan, todo, budget)
                    meter = _CompileMeter(len(first[0][0]), first[1]) if fresh else None
                    secs = estimate_seconds(state, plan, todo, t_enc, budget, first_call=first[1],
                                            t_frame=encoder.frame_seconds)
                    check_estimate(secs, src, plan, job, budget)
                    checked_estimate = True
                    progress.report()
                _render_group(state, plan, todo, _Out(writer, budget, progress, meter), first=first)
            del state
        writer.close()
    finally:
        writer.abort()
        pool.shutdown(wait=True, cancel_futures=True)
        progress.bar.close()
    # finish reading the input so truncation or a change since the scan is still reported
    for _ in frames.it:
        pass


def _compiles_fresh(state) -> bool:
    """Whether rendering `state` compiles the renderer for the first time in this process."""
    from videoinr.models.compile import compiled_in_process
    from videoinr.models.render import State, _use_compiled

    return isinstance(state, State) and _use_compiled(state) and not compiled_in_process()


class _CompileMeter:
    """The cost of the process's first compile, measured in the job and recorded for the next jobs'
    compile decision (`runtime.record_compile_seconds`): the first render call (compile + n frames) minus
    n times the per-frame time of the next call of at least n frames (which amortises pass 1 as well or
    better: the cost is, if anything, over-counted)."""

    def __init__(self, n: int, seconds: float) -> None:
        self.n, self.seconds, self.done = n, seconds, False

    def add(self, n: int, seconds: float) -> None:
        if self.done or n < self.n:
            return
        from videoinr.runtime import record_compile_seconds

        record_compile_seconds(self.seconds - self.n * seconds / n)
        self.done = True


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _load_pair(frames: DecodedFrameBuffer, pair, device: torch.device):
    return tuple(to_tensor(frames.get(k), device) for k in pair)


def _prepare(frames: DecodedFrameBuffer, current, pair, device: torch.device, flow_prior: bool):
    """The next pair's frames (decoded; the buffer keeps the current pair's) and, for flow_prior models,
    its DIS flows (the same function `encode` calls: the same bits)."""
    frames.drop_before(min(current[0], pair[0]))
    a, b = _load_pair(frames, pair, device)
    flows = None
    if flow_prior:
        from videoinr.models.prior import pair_flows

        flows = pair_flows(a, b)
    return pair, (a, b), flows


def overlaps(device: torch.device) -> bool:
    """Whether the output encoding and the next pair's decode + DIS run on threads beside the render: on a
    GPU, or where this process may use more CPUs than torch's threads. Not on a CPU whose cores torch's
    kernels all use: there the threads preempt them mid-kernel (2-core CPU, issue 25's job: 45.5 s
    overlapped, 38.5-39.6 s in turn; docs/MEASUREMENTS.md)."""
    if device.type != "cpu":
        return True
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus > torch.get_num_threads()


class _Writer:
    """The sink's writes, in order, on one thread (output encoding overlaps rendering); at most `depth`
    frames wait, so memory stays bounded. Errors are raised in the caller at its next write or close.
    threaded=False: each write runs in the caller, at once."""

    def __init__(self, sink, pixels, depth: int = 4, threaded: bool = True) -> None:
        self.sink, self.error = sink, None
        self.pixels = pixels  # float (3, H, W) -> the sink's uint8 (or, for a 10/12-bit input, uint16) frame
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.threaded = threaded
        self.thread = threading.Thread(target=self._run, name="videoinr-writer", daemon=True)
        if threaded:
            self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.sink.write(*item)
                except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                    self.error = e

    def write(self, j: int, px, time_s: float, duration) -> None:
        self._raise()
        if self.threaded:
            self.q.put((j, px, time_s, duration))
        else:
            self.sink.write(j, px, time_s, duration)

    def _raise(self) -> None:
        if self.error is not None:
            e, self.error = self.error, None
            self.q.put(None)
            raise e

    def close(self) -> None:
        """Wait for every queued write; raise a write's error."""
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()
        self._raise()

    def abort(self) -> None:
        """After an error elsewhere: let the queued writes finish (the sink stays consistent), then stop."""
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()


def _heads(plan: OutputPlan, todo: list[int]) -> dict[int, list[int]]:
    """The frames to render of `todo` (keys) and the frames written as copies of each (--dedup: frames
    repeating the previous one's pair and t)."""
    copies: dict[int, list[int]] = {}
    for k, i in enumerate(todo):
        if k and plan.reuse and todo[k - 1] == i - 1 and plan.refs[i] == plan.refs[i - 1]:
            copies[head].append(i)
        else:
            head = i
            copies[head] = [i]
    return copies


def _first_call(state, plan: OutputPlan, todo: list[int], budget: Budget):
    """The first render call of a pair (its output, seconds), timed for the estimate."""
    chunk = list(_heads(plan, todo))[: budget.t_per_call]
    t0 = time.perf_counter()
    rgb = state.render(size=plan.out_hw, t=[plan.refs[i][1] for i in chunk], region=plan.region)
    _sync(rgb.device)
    return rgb, time.perf_counter() - t0


@dataclass
class _Out:
    """Where a pair's rendered frames go: the writer, the budget (times per call), the progress, and the
    compile meter while the process's first compile is being measured."""

    sink: "_Writer"
    budget: Budget
    progress: _Progress
    meter: _CompileMeter | None = None


def _render_group(state, plan: OutputPlan, todo: list[int], out: _Out, first=None) -> None:
    """Output frames `todo` of one pair's `state`, `out.budget.t_per_call` times per render call, written
    through `out.sink` in its pixel format (`sink.pixels`); `first`: the first call's (output, seconds),
    already rendered."""
    sink, budget, progress, meter = out.sink, out.budget, out.progress, out.meter
    last = plan.n - 1
    pixels = sink.pixels
    copies = _heads(plan, todo)
    heads = list(copies)
    for c in range(0, len(heads), budget.t_per_call):
        chunk = heads[c : c + budget.t_per_call]
        if c == 0 and first is not None:
            rgb = first[0]
        else:
            t0 = time.perf_counter()
            rgb = state.render(size=plan.out_hw, t=[plan.refs[i][1] for i in chunk], region=plan.region)
            if meter is not None:
                _sync(rgb.device)
                meter.add(len(chunk), time.perf_counter() - t0)
        for i, img in zip(chunk, rgb[0]):
            px = pixels(img)
            for j in copies[i]:
                sink.write(j, px, plan.times[j], plan.last_duration if j == last else None)
            progress.add(1 if plan.rendered(i) else 0)
        del rgb
