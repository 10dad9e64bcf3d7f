"""Stage 3, render: each input pair is encoded once (`model.encode`) and all its output frames are rendered
from that state (`state.render(size=(H, W), t=[...], region=...)`) in memory-bounded calls, written to a
sink in order. The first pair also times the run, checked against --max-time before anything is written."""
from __future__ import annotations

import time

import numpy as np
import torch
from tqdm import tqdm

from videoinr.data.convert import to_float, to_uint8
from videoinr.pipeline.budget import Budget, check_estimate, estimate_seconds
from videoinr.pipeline.job import Job
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


def encode_timed(net, a: torch.Tensor, b: torch.Tensor, device: torch.device):
    """(state, seconds) of `net.encode(a, b)`; call under torch.inference_mode()."""
    t0 = time.perf_counter()
    state = net.encode(a, b)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return state, time.perf_counter() - t0


class _Progress:
    """Frames done (written, or already there on --resume): the bar and the job's on_progress callback."""

    def __init__(self, src: ScannedInput, n: int, job: Job) -> None:
        self.n, self.done, self.callback = n, 0, job.on_progress
        self.bar = tqdm(total=n, desc=src.path.name, unit="frame", disable=None if job.progress else True,
                        dynamic_ncols=True)

    def add(self, k: int, report: bool = True) -> None:
        self.bar.update(k)
        self.done += k
        if report:
            self.report()

    def report(self) -> None:
        if self.callback is not None:
            self.callback(self.done, self.n)


def render_all(src: ScannedInput, plan: OutputPlan, job: Job, net, sink, budget: Budget) -> None:
    """Render every output frame that `sink` does not hold yet, in order."""
    frames = DecodedFrameBuffer(src.frames())
    progress = _Progress(src, plan.renders, job)  # counts frames rendered (with --dedup, copies are not)
    checked_estimate = False
    try:
        for group in pair_groups(plan.refs):
            todo = [i for i in group if not sink.is_done(i)]
            progress.add(sum(1 for i in group if plan.rendered(i)) - sum(1 for i in todo if plan.rendered(i)),
                         report=False)
            if not todo:
                continue
            pair = plan.refs[group[0]][0]
            frames.drop_before(pair[0])
            a, b = (to_tensor(frames.get(k), job.device) for k in pair)
            with torch.inference_mode():
                state, t_enc = encode_timed(net, a, b, job.device)
                if not checked_estimate:
                    check_estimate(estimate_seconds(state, plan, todo, t_enc, budget), src, plan, job, budget)
                    checked_estimate = True
                    progress.report()
                _render_group(state, plan, todo, sink, budget, progress, deep=src.bits > 8)
            del state
    finally:
        progress.bar.close()
    # finish reading the input so truncation or a change since the scan is still reported
    for _ in frames.it:
        pass


def _render_group(state, plan: OutputPlan, todo: list[int], sink, budget: Budget, progress: _Progress,
                  deep: bool = False) -> None:
    """Output frames `todo` of one pair's `state`, `budget.t_per_call` times per render call (`deep`: as
    uint16, for a 10/12-bit input)."""
    last = plan.n - 1
    pixels = to_uint16 if deep else to_uint8
    # with --dedup, frames repeating the previous one's pair and t are written as copies of it
    copies: dict[int, list[int]] = {}
    for k, i in enumerate(todo):
        if k and plan.reuse and todo[k - 1] == i - 1 and plan.refs[i] == plan.refs[i - 1]:
            copies[head].append(i)
        else:
            head = i
            copies[head] = [i]
    heads = list(copies)
    for c in range(0, len(heads), budget.t_per_call):
        chunk = heads[c : c + budget.t_per_call]
        rgb = state.render(size=plan.out_hw, t=[plan.refs[i][1] for i in chunk], region=plan.region)
        for i, img in zip(chunk, rgb[0]):
            px = pixels(img)
            for j in copies[i]:
                sink.write(j, px, plan.times[j], plan.last_duration if j == last else None)
            progress.add(1 if plan.rendered(i) else 0)
