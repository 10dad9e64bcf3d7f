"""One input to one output, end to end: check the destination, own its work folder, scan, plan, budget,
render into a sink, move the result into place; on failure keep finished work for --resume or clean up."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import torch

from videoinr.errors import Stopped, VideoINRError
from videoinr.models.conventions import check_output_size
from videoinr.pipeline.budget import Budget, make_budget, memory_limit
from videoinr.pipeline.job import UpscaleOptions, is_video_output
from videoinr.pipeline.plan import OutputPlan, make_plan
from videoinr.pipeline.render import render_all
from videoinr.pipeline.scan import ScannedInput, scan
from videoinr.pipeline.sinks import SEGMENT_NAME, FolderSink, VideoSink, check_container
from videoinr.pipeline.workdir import (FRAME_NAME, FinishedFiles, WorkLock, check_destination, check_name,
                                       check_output, disk_full, input_stamp, model_fingerprint, output_parent,
                                       prepare_work, work_dir)
from videoinr.runtime import Policy, inference_policy


def upscale_one(src_path: Path, out: Path, job: UpscaleOptions, net) -> Path:
    """Upscale one video or frame folder `src_path` to `out` (a video file or a folder of PNGs)."""
    o = open_output(src_path, out, job, net)
    try:
        render_locally(o, net)
    finally:
        o.lock.release()
    return out


@dataclasses.dataclass
class OpenOutput:
    """One output being made, from the lock on its work folder to the rename into place: what was decided
    before any frame is rendered (the same for a local run and a Ray run, so both write the same bytes)."""

    out: Path
    lock: WorkLock
    job: UpscaleOptions
    src: ScannedInput
    plan: OutputPlan
    budget: Budget
    policy: Policy
    codec: str | None  # None: a folder of PNGs
    pix_fmt: str | None
    finished: FinishedFiles

    def sink(self, finished: FinishedFiles | None = None) -> VideoSink | FolderSink:
        """A sink writing into the work folder, recording finished units in `finished` (default: the run's)."""
        finished = finished or self.finished
        if self.codec is not None:
            return VideoSink(self.out, self.lock.work, self.plan, self.src, self.job, finished, self.codec,
                             self.pix_fmt)
        return FolderSink(self.out, self.lock.work, self.plan.n, finished)

    def finish(self, sink: VideoSink | FolderSink) -> None:
        """Every unit is finished: join them (a video) or rename the folder into place."""
        sink.finish()
        if self.codec is not None:
            self.lock.remove_work()

    def fail(self, e: BaseException) -> None:
        """Keep the finished work for --resume, or remove it (`_after_failure`)."""
        _after_failure(e, self.out, self.lock)


def open_output(src_path: Path, out: Path, job: UpscaleOptions, net) -> OpenOutput:
    """Check the destination, take the lock on its work folder and decide everything before rendering
    (scan, plan, codec, policy, budget; on --resume the interrupted run's settings and finished files are
    checked). The caller releases `.lock`; on an error here it is released and a fresh folder removed."""
    check_destination(out)
    out_is_video = is_video_output(out)
    try:
        check_name(out, output_parent(out))
        check_output(out, src_path, out_is_video, job.force)  # before the lock: refuse without touching anything
        lock = WorkLock(work_dir(out), out).acquire()
    except OSError as e:
        raise VideoINRError(f"{out}: cannot write here ({e.strerror or e})") from None
    try:
        try:
            check_output(out, src_path, out_is_video, job.force)  # again, now that no other run can write it
        except OSError as e:
            raise VideoINRError(f"{out}: cannot write here ({e.strerror or e})") from None
        return _decide(src_path, out, lock, job, net)
    except BaseException:
        if lock.fresh and lock.work.exists():
            lock.remove_work()  # created by this run and holding nothing to keep
        lock.release()
        raise


def render_locally(o: OpenOutput, net) -> None:
    """Render every unfinished frame of `o` in this process and move the result into place."""
    sink = o.sink()
    old_points = net.max_query_points
    try:
        net.max_query_points = o.budget.max_query_points
        render_all(o.src, o.plan, o.job, net, sink, o.budget)
        sink.close()
        o.finish(sink)
    except BaseException as e:
        sink.close()
        o.fail(e)
        raise
    finally:
        net.max_query_points = old_points


def _settings(src: ScannedInput, plan: OutputPlan, job: UpscaleOptions, net, policy, codec: str | None) -> dict:
    """The job description for --resume: everything that determines the output bytes."""
    return {
        "input": str(src.path.resolve()), "input_size": input_stamp(src.path), "frames": src.n,
        "out": list(plan.out_hw), "region": list(plan.region) if plan.region else None, "u": hashlib.sha1(
            json.dumps([plan.u, plan.times]).encode()).hexdigest(), "cuts": src.cuts,
        "codec": codec or "png", "preset": job.preset if codec else None, "crf": job.crf,
        "segment": job.segment_frames, "model": model_fingerprint(net), "policy": dataclasses.asdict(policy),
        "version": 2,
    }


def _deep_output(src: ScannedInput, out: Path, job: UpscaleOptions, codec: str, frame_hw: tuple[int, int]
                 ) -> tuple[str, str | None]:
    """(encoder, pixel format) keeping as much of a 10/12-bit input's depth as the encoder can (the default
    encoder is chosen for it); a note when some is lost (an explicit --codec without such formats, or an odd
    size the deep default encoder cannot store, which then falls back to the 8-bit default)."""
    from videoinr.data.video import check_preset, choose_pix_fmt, deep_pix_fmt, default_codec, pix_fmt_bits

    h, w = frame_hw
    why = f"{codec} in this FFmpeg has no {src.bits}-bit 4:2:0 format; choose another --codec to keep it"
    if job.codec is None:
        codec = default_codec(out, src.bits)
        why = f"{codec} in this FFmpeg has no {src.bits}-bit 4:2:0 format"
        try:
            choose_pix_fmt(codec, w, h, deep_pix_fmt(codec, src.bits), out)
        except VideoINRError:  # an odd size the deep encoder cannot store: the 8-bit default can
            why = f"{codec}, which would keep it, cannot store the odd size {w}x{h}"
            codec = default_codec(out)
            return _noted(src, job, codec, None, why)
        check_container(out, codec)
        check_preset(codec, job.preset)
    fmt = deep_pix_fmt(codec, src.bits)
    choose_pix_fmt(codec, w, h, fmt, out)  # an odd size it cannot store: refused now, naming the output
    return _noted(src, job, codec, fmt, why)


def _noted(src: ScannedInput, job: UpscaleOptions, codec: str, fmt: str | None, why: str) -> tuple[str, str | None]:
    from videoinr.data.video import pix_fmt_bits

    kept = pix_fmt_bits(fmt) if fmt else 8
    if kept < src.bits and job.progress:
        print(f"note: {src.path}: {src.bits}-bit video written as {kept}-bit ({why})", file=sys.stderr)
    return codec, fmt


def _decide(src_path: Path, out: Path, lock: WorkLock, job: UpscaleOptions, net) -> OpenOutput:
    """`open_output`'s decisions, holding the lock on the work folder."""
    out_is_video = is_video_output(out)
    codec = None
    if out_is_video:
        from videoinr.data.video import check_encoder, check_preset, default_codec

        codec = job.codec or default_codec(out)
        check_encoder(codec)
        check_container(out, codec)
        check_preset(codec, job.preset)

    src = scan(src_path, job.input_fps, job.scene_cuts, job.progress, job.dedup)
    plan = make_plan(src, job)
    pix_fmt = None
    if out_is_video and src.bits > 8:
        codec, pix_fmt = _deep_output(src, out, job, codec, plan.frame_hw)
    check_output_size(net.cfg.conventions, (src.height, src.width), plan.out_hw)  # official models: a padded grid
    if out_is_video and src.kind == "video" and plan.copy_audio is False and src.info.has_audio and job.progress:
        print(f"note: {src_path}: audio not copied (--times changes the timeline)", file=sys.stderr)

    limit = memory_limit(job)
    policy = inference_policy(job.device, plan.n * plan.frame_hw[0] * plan.frame_hw[1])  # decided once per job
    policy.apply(net)
    budget = make_budget(net, (src.height, src.width), plan.frame_hw, limit, str(src_path), job.device)
    settings = _settings(src, plan, job, net, policy, codec)
    if src.keep is not None:  # --dedup: which frames are rendered from, and what is copied
        settings["dedup"] = [job.dedup, hashlib.sha1(json.dumps([src.keep, plan.refs]).encode()).hexdigest()]
    if src.bits > 8:  # (absent for 8-bit inputs, whose work folders stay as before)
        settings["bits"], settings["pix_fmt"] = src.bits, pix_fmt
    budget = prepare_work(lock.work, settings, budget, limit, job.resume)
    lock.fresh = False  # from here on the work folder is kept or removed below
    finished = FinishedFiles(lock.work, SEGMENT_NAME if out_is_video else FRAME_NAME)
    redo = finished.verify()  # on --resume: only files whose recorded size and checksum still match are reused
    if redo and job.progress:
        print(f"note: {out}: {len(redo)} finished file{'s' * (len(redo) > 1)} of the interrupted run failed "
              f"verification (truncated or changed) and will be redone: {', '.join(redo[:3])}"
              f"{' ...' if len(redo) > 3 else ''}", file=sys.stderr)
    return OpenOutput(out, lock, job, src, plan, budget, policy, codec, pix_fmt, finished)


def _after_failure(e: BaseException, out: Path, lock: WorkLock) -> None:
    """Keep finished frames/segments for --resume when the failure is not the input's fault (interrupt,
    out of memory, full disk: the last raises its own one-line error); else remove the work folder."""
    work = lock.work
    if isinstance(e, Stopped):
        # SIGTERM or a cancel: like Ctrl-C, keep finished work; whoever stopped it reports it in one line
        e.detail = f"finished work kept in {work}; rerun with --resume to continue"
    elif isinstance(e, (KeyboardInterrupt, MemoryError, torch.OutOfMemoryError)):
        # never under the output name
        print(f"{type(e).__name__}: finished work kept in {work}; rerun with --resume to continue",
              file=sys.stderr)
    elif disk_full(e):
        raise VideoINRError(
            f"{out}: disk full ({e.strerror or 'no space left'}); finished work kept in {work}: "
            "free some space and rerun with --resume to continue"
        ) from None
    elif work.exists():
        lock.remove_work()
