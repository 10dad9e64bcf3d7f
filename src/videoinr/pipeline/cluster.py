"""Ray as the engine for work beyond one process (`videoinr upscale ... --ray [auto|ADDRESS]`, the `ray` extra).

The driver (the process the user started) decides everything a local run decides before its first frame,
for every output (`run.open_output`: lock, scan, plan, codec, policy, render chunking, resume checks), then
cuts each output into tasks: one per scene of each input (scene starts snapped to the output's resume units,
video segments or PNG frames), a scene longer than TASK_SEGMENTS segments cut at segment boundaries. Each
task is a Ray task with declared resources (one GPU, or the CPUs of the smallest node) that rebuilds the
model from the driver's weights, renders its frames with the local renderer (`render.render_all`) into the
output's work folder (which must be on a filesystem every node sees at the same path) and records what it
finished in a record of its own (`FinishedFiles.for_writer`). Ray retries a task whose worker died; a
retried task reuses the segments it had finished. The driver shows one progress bar, then joins each output
as a local run does. Same decisions, same renderer, same segment boundaries: the output is bit-identical
to the local run of the same command, interrupted and resumed or not.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from videoinr.errors import VideoINRError, VideoINRErrors
from videoinr.pipeline.budget import Budget
from videoinr.pipeline.job import UpscaleOptions
from videoinr.pipeline.plan import OutputPlan
from videoinr.pipeline.run import OpenOutput, open_output
from videoinr.pipeline.scan import ScannedInput
from videoinr.runtime import Policy

TASK_SEGMENTS = 2  # the most video segments (of --segment-frames output frames) one task renders
TASK_FRAMES = 480  # the same for a folder of PNGs (its resume unit is one frame)
RETRIES = 3  # times Ray reruns a task whose worker or node died (an error of the input is not retried)


_LOOPBACK = ("127.0.0.1", "localhost")
# Ray on Linux replaces a loopback node address by the machine's network one; with this variable unset to
# 0 it keeps 127.0.0.1, so a cluster on this machine (tests, a laptop) never listens on the network
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _ray():
    try:
        import ray
    except ImportError:
        raise VideoINRError("--ray needs Ray: pip install 'videoinr[ray]'") from None
    return ray


def connect(address: str) -> None:
    """Join the Ray cluster at `address` ("HOST:PORT" of its head, or "auto": the RAY_ADDRESS variable's,
    else the one started on this machine with `ray start`, else a new one-machine cluster). A cluster on
    127.0.0.1 is joined on 127.0.0.1 (`LOOPBACK_ONLY`)."""
    target = os.environ.get("RAY_ADDRESS", "") if address == "auto" else address
    host = target.rpartition(":")[0]
    if host in _LOOPBACK and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_ONLY, "0")  # read when Ray is first imported
    ray = _ray()
    if ray.is_initialized():
        return
    if address != "auto":
        _reachable(address)
    kwargs = {"log_to_driver": False, "configure_logging": False}
    if host in _LOOPBACK:
        kwargs["_node_ip_address"] = "127.0.0.1"
    try:
        ray.init(address=None if address == "auto" else address, **kwargs)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise VideoINRError(f"--ray {address}: cannot join the Ray cluster ({str(e).strip().splitlines()[0]})"
                            ) from None


def _reachable(address: str, timeout: float = 5.0) -> None:
    """One line at once for a head that does not answer (Ray itself retries for minutes)."""
    import socket

    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise VideoINRError(f"--ray {address}: no Ray head answers there ({e.strerror or e}); start one with "
                            "`ray start --head` or give its HOST:PORT") from None


class ClusterFailed(VideoINRError):
    """A task failed for a reason that is not its input's (a worker or node kept dying, a bug): the finished
    work of every output is kept for --resume."""


@dataclass(frozen=True)
class Piece:
    """What one task renders: output frames [lo, hi) of one output, with the driver's decisions."""

    out: Path
    work: Path
    job: UpscaleOptions  # without callbacks or progress (the driver shows progress)
    src: ScannedInput
    plan: OutputPlan
    budget: Budget
    policy: Policy
    codec: str | None
    pix_fmt: str | None
    good: frozenset[str]  # the units the driver verified as finished
    lo: int
    hi: int

    @property
    def key(self) -> str:
        """This task's name among the output's writers (the same when Ray retries it)."""
        return f"{self.lo:09d}-{self.hi:09d}"


def task_ranges(o: OpenOutput) -> list[tuple[int, int]]:
    """[lo, hi) output-frame ranges of `o`'s tasks: scene starts (snapped down to a resume unit) split it,
    and so does every TASK_SEGMENTS-th segment (TASK_FRAMES-th frame for PNGs)."""
    n = o.plan.n
    unit = max(1, int(o.job.segment_frames)) if o.codec is not None else 1
    step = unit * TASK_SEGMENTS if o.codec is not None else TASK_FRAMES
    cuts = sorted(c for c in o.src.cuts if 0 < c < o.src.n)
    firsts, k = set(), 0
    for i, ((a, _b), _t) in enumerate(o.plan.refs):  # the first output frame rendered from each scene
        while k < len(cuts) and a >= cuts[k]:
            firsts.add(i)
            k += 1
    bounds = {0, n} | {i // unit * unit for i in firsts}
    ranges = []
    edges = sorted(bounds)
    for lo, hi in zip(edges, edges[1:]):
        ranges += [(a, min(hi, a + step)) for a in range(lo, hi, step)]
    return ranges


class _Range:
    """A sink that renders frames [lo, hi) only: the others count as done."""

    def __init__(self, sink, lo: int, hi: int) -> None:
        self.sink, self.lo, self.hi = sink, lo, hi

    def is_done(self, j: int) -> bool:
        return not self.lo <= j < self.hi or self.sink.is_done(j)

    def write(self, j, image, time_s, duration) -> None:
        self.sink.write(j, image, time_s, duration)

    def close(self) -> None:
        self.sink.close()


def render_piece(piece: Piece, weights, counter=None) -> str:
    """Ray task body: render `piece` into its work folder; returns the node it ran on. `weights`: the
    model's (config, state dict), or a module; `counter`: the driver's progress actor (frames rendered)."""
    import ray

    from videoinr.models.videoinr import VideoINR
    from videoinr.pipeline.render import render_all
    from videoinr.pipeline.sinks import SEGMENT_NAME, FolderSink, VideoSink
    from videoinr.pipeline.workdir import FRAME_NAME, FinishedFiles

    from videoinr.allocator import tune_allocator

    tune_allocator()  # a worker renders like a command (videoinr.allocator)
    cpus = int(ray.get_runtime_context().get_assigned_resources().get("CPU", 0))
    if cpus > 0:
        torch.set_num_threads(cpus)
    device = torch.device("cuda") if piece.job.device.type == "cuda" else piece.job.device
    if isinstance(weights, tuple):
        cfg, state = weights
        net = VideoINR(cfg)
        net.load_state_dict(state)
    else:  # a module of the caller's own (the API's `model=`), shipped whole
        net = weights
    net = net.to(device).eval()
    piece.policy.apply(net)
    net.max_query_points = piece.budget.max_query_points
    finished = FinishedFiles(piece.work, SEGMENT_NAME if piece.codec else FRAME_NAME)
    finished.good = set(piece.good)
    finished = finished.for_writer(piece.key)
    before = sum(1 for i in range(piece.lo) if piece.plan.rendered(i))  # counted first by render_all
    inside = sum(1 for i in range(piece.lo, piece.hi) if piece.plan.rendered(i))
    sent = 0

    def report(done: int, _total: int) -> None:
        nonlocal sent
        mine = min(max(done - before, 0), inside)
        if counter is not None and mine > sent:
            counter.add.remote(mine - sent)
            sent = mine

    job = dataclasses.replace(piece.job, on_progress=report, device=device)
    if piece.codec is not None:
        sink = VideoSink(piece.out, piece.work, piece.plan, piece.src, job, finished, piece.codec, piece.pix_fmt)
    else:
        sink = FolderSink(piece.out, piece.work, piece.plan.n, finished)
    sink = _Range(sink, piece.lo, piece.hi)
    try:
        render_all(piece.src, piece.plan, job, net, sink, piece.budget)
    finally:
        sink.close()
    return ray.get_runtime_context().get_node_id()


def _resources(device: torch.device) -> dict:
    """A task's declared resources: one GPU (and a CPU), or all the CPUs of the smallest alive node."""
    ray = _ray()
    if device.type == "cuda":
        return {"num_gpus": 1, "num_cpus": 1}
    cpus = [n["Resources"].get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    cpus = [c for c in cpus if c >= 1]
    if not cpus:
        raise VideoINRError("--ray: the cluster has no node with a CPU to run on")
    return {"num_cpus": int(min(cpus))}


def upscale_on_ray(pairs: list[tuple[Path, Path]], job: UpscaleOptions, net) -> list[Path]:
    """Make every (input, output) of `pairs` on the Ray cluster joined by `connect`. An input that fails
    (a user error) is reported with the others at the end (VideoINRErrors); the other outputs are finished."""
    ray = _ray()
    # --max-time is not checked: the estimate would time this process, not the cluster
    quiet = dataclasses.replace(job, on_progress=None, progress=False, max_time=None)
    opened: list[OpenOutput] = []
    try:
        for src, out in pairs:
            opened.append(open_output(src, out, job, net))
        _run_tasks(ray, opened, quiet, net, job)
    except ClusterFailed:
        raise  # finished work kept for --resume
    except BaseException as e:
        for o in opened:
            if o.lock.fd is not None:
                o.fail(e)
        raise
    finally:
        for o in opened:
            o.lock.release()
    return [o.out for o in opened]


def _run_tasks(ray, opened: list[OpenOutput], quiet: UpscaleOptions, net, job: UpscaleOptions) -> None:
    counter = ray.remote(num_cpus=0)(_FrameCounter).remote()
    from videoinr.models.videoinr import VideoINR

    if isinstance(net, VideoINR):  # its config and tensors: rebuilt on the worker, nothing compiled travels
        weights = ray.put((net.cfg, {k: v.detach().cpu() for k, v in net.state_dict().items()}))
    else:
        weights = ray.put(net)
    task = ray.remote(max_retries=RETRIES)(render_piece).options(**_resources(quiet.device))
    refs: dict = {}
    total = 0
    for idx, o in enumerate(opened):
        good = frozenset(o.finished.good)
        for lo, hi in task_ranges(o):
            piece = Piece(o.out, o.lock.work, quiet, o.src, o.plan, o.budget, o.policy, o.codec, o.pix_fmt, good,
                          lo, hi)
            refs[task.remote(piece, weights, counter)] = idx
        total += o.plan.renders
    sinks = [o.sink() for o in opened]  # the driver's view of each work folder (and, at the end, the join)
    done_before = sum(sum(1 for i in range(o.plan.n) if o.plan.rendered(i) and sink.is_done(i))
                      for o, sink in zip(opened, sinks))
    bar = tqdm(total=total, initial=done_before, desc=f"ray: {len(opened)} output{'s' * (len(opened) > 1)}",
               unit="frame", disable=None if job.progress else True, dynamic_ncols=True)
    failed: dict[int, str] = {}
    nodes: set[str] = set()
    pending = list(refs)
    shown = done_before
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in ready:
                try:
                    nodes.add(ray.get(ref))
                except ray.exceptions.RayError as e:
                    cause = getattr(e, "cause", None)
                    if not isinstance(cause, VideoINRError):  # not the input's fault: a worker, node or bug
                        works = ", ".join(str(o.lock.work) for o in opened)
                        why = str(cause if isinstance(cause, BaseException) else e).strip().splitlines()
                        raise ClusterFailed(f"Ray: a task failed after {RETRIES} retries ({why[-1] if why else e}); "
                                            f"finished work kept in {works}: rerun with --resume") from None
                    failed.setdefault(refs[ref], str(cause))
            now = min(total, done_before + ray.get(counter.value.remote()))
            if now > shown:
                bar.update(now - shown)
                shown = now
                if job.on_progress is not None:
                    job.on_progress(shown, total)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        bar.close()
    if job.progress:
        print(f"note: {len(refs)} Ray task{'s' * (len(refs) > 1)} on {len(nodes)} node{'s' * (len(nodes) > 1)}",
              file=sys.stderr)
    for idx, (o, sink) in enumerate(zip(opened, sinks)):
        if idx in failed:
            o.fail(VideoINRError(failed[idx]))
            continue
        o.finished.verify()  # merge the tasks' records; every unit must now be there
        missing = [i for i in range(o.plan.n) if not sink.is_done(i)]
        if missing:
            raise VideoINRError(f"{o.out}: the Ray tasks left output frame {missing[0]} unfinished")
        o.finish(sink)
    if failed:
        raise VideoINRErrors(list(failed.values()))


class _FrameCounter:
    """Frames rendered by all tasks: a Ray actor (num_cpus=0) the driver polls for the progress bar."""

    def __init__(self) -> None:
        self.n = 0

    def add(self, k: int) -> None:
        self.n += k

    def value(self) -> int:
        return self.n
