"""One input to one output, end to end: check the destination, own its work folder, scan, plan, budget,
render into a sink, move the result into place; on failure keep finished work for --resume or clean up."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import torch

from videoinr.errors import VideoINRError
from videoinr.models.conventions import check_output_size
from videoinr.pipeline.budget import make_budget, memory_limit
from videoinr.pipeline.job import Job, is_video_output
from videoinr.pipeline.plan import OutputPlan, make_plan
from videoinr.pipeline.render import render_all
from videoinr.pipeline.scan import ScannedInput, scan
from videoinr.pipeline.sinks import SEGMENT_NAME, FolderSink, VideoSink, check_container
from videoinr.pipeline.workdir import (FRAME_NAME, FinishedFiles, WorkLock, check_destination, check_name,
                                       check_output, disk_full, input_stamp, model_fingerprint, output_parent,
                                       prepare_work, work_dir)
from videoinr.runtime import inference_policy


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM: handled like Ctrl-C (finished work kept for --resume)."""

    detail = ""


def upscale_one(src_path: Path, out: Path, job: Job, net) -> Path:
    """Upscale one video or frame folder `src_path` to `out` (a video file or a folder of PNGs)."""
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
        return _upscale_locked(src_path, out, lock, job, net)
    except BaseException:
        if lock.fresh and lock.work.exists():
            lock.remove_work()  # created by this run and holding nothing to keep
        raise
    finally:
        lock.release()


def _settings(src: ScannedInput, plan: OutputPlan, job: Job, net, policy, codec: str | None) -> dict:
    """The job description for --resume: everything that determines the output bytes."""
    return {
        "input": str(src.path.resolve()), "input_size": input_stamp(src.path), "frames": src.n,
        "out": list(plan.out_hw), "region": list(plan.region) if plan.region else None, "u": hashlib.sha1(
            json.dumps([plan.u, plan.times]).encode()).hexdigest(), "cuts": src.cuts,
        "codec": codec or "png", "preset": job.preset if codec else None, "crf": job.crf,
        "segment": job.segment_frames, "model": model_fingerprint(net), "policy": dataclasses.asdict(policy),
        "version": 2,
    }


def _deep_output(src: ScannedInput, out: Path, job: Job, codec: str, frame_hw: tuple[int, int]
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


def _noted(src: ScannedInput, job: Job, codec: str, fmt: str | None, why: str) -> tuple[str, str | None]:
    from videoinr.data.video import pix_fmt_bits

    kept = pix_fmt_bits(fmt) if fmt else 8
    if kept < src.bits and job.progress:
        print(f"note: {src.path}: {src.bits}-bit video written as {kept}-bit ({why})", file=sys.stderr)
    return codec, fmt


def _upscale_locked(src_path: Path, out: Path, lock: WorkLock, job: Job, net) -> Path:
    """The run itself, holding the lock on the work folder."""
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
    sink = (VideoSink(out, lock.work, plan, src, job, finished, codec, pix_fmt) if out_is_video
            else FolderSink(out, lock.work, plan.n, finished))
    old_points = net.max_query_points
    try:
        net.max_query_points = budget.max_query_points
        render_all(src, plan, job, net, sink, budget)
        sink.close()
        sink.finish()
        if out_is_video:
            lock.remove_work()
    except BaseException as e:
        sink.close()
        _after_failure(e, out, lock)
        raise
    finally:
        net.max_query_points = old_points
    return out


def _after_failure(e: BaseException, out: Path, lock: WorkLock) -> None:
    """Keep finished frames/segments for --resume when the failure is not the input's fault (interrupt,
    out of memory, full disk: the last raises its own one-line error); else remove the work folder."""
    work = lock.work
    if isinstance(e, Terminated):
        # SIGTERM: like Ctrl-C, keep finished work; main() reports it in one line
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
