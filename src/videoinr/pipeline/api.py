"""The Python API: `upscale()` (one input or a folder of videos, here or on a Ray cluster) and
`estimate()` (what a run would produce and cost, writing nothing)."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch

from videoinr.data.frames import is_ignored_name
from videoinr.errors import VideoINRError, VideoINRErrors, require_path, require_regular_file, resolve_path
from videoinr.pipeline.budget import estimate_seconds, make_budget, memory_limit
from videoinr.fileio import OUTPUT_VIDEO_EXTENSIONS, VIDEO_EXTENSIONS
from videoinr.pipeline.job import UpscaleOptions, upscale_options
from videoinr.pipeline.plan import make_plan, pair_groups
from videoinr.pipeline.render import encode_timed, to_tensor
from videoinr.pipeline.run import upscale_one
from videoinr.pipeline.scan import DecodedFrameBuffer, is_frame_folder, note_ignored, scan
from videoinr.pipeline.sinks import check_container


def _load_model(model, device: torch.device):
    if isinstance(model, torch.nn.Module):
        return model.to(device).eval()
    from videoinr.models import CONFIGS, create_model

    if str(model) not in CONFIGS:
        require_regular_file(model, "weights file")  # a FIFO would block the read forever
    return create_model(str(model), device=device)


def upscale(
    input: str | os.PathLike,
    output: str | os.PathLike,
    options: UpscaleOptions | Mapping[str, object] | None = None,
    *,
    model: str | os.PathLike | torch.nn.Module = "lite",
    **changes: object,
) -> Path | list[Path]:
    """Upscale `input` (video file, frame folder, or folder of videos) to `output` in space and time.

    `options` (an `UpscaleOptions`, or a mapping) and keyword `changes` are the `UpscaleOptions` fields,
    checked once by `upscale_options` (unknown names and bad values are VideoINRErrors):
    space: `scale` (float, output = ceil(scale * input)) or `size` (W, H) / "WxH", one side -1 keeping the
    aspect. Time (at most one): `time_scale` N -> (F - 1) * N + 1 frames at t = k / N, last input frame
    kept; `fps` -> a frame rate from the real timestamps (variable frame rate sources included); `times` ->
    explicit positions in input-frame units (2.5 = halfway between frames 2 and 3), non-decreasing.
    `region` (x, y, w, h) in output pixels renders only that window. `output`: a video file (container by
    extension; audio/subtitles stream-copied) or a folder (numbered PNGs). `codec`: the video encoder (None:
    follows the container, VP9 for .webm, else libx264); `preset`: the encoder's `preset` option. `model`: "lite", "paper", a
    .safetensors path, or a VideoINR module. `max_memory` bounds peak memory (e.g. "4G"; default: half the
    RAM up to 8 GiB, or 80% of free GPU memory); `max_time` refuses runs estimated to take longer.
    `dedup`: True or a threshold (8-bit luma levels, default 20) skips input frames that repeat the last
    distinct one (`videoinr.pipeline.scan.frame_difference`) and interpolates between the distinct frames by
    their timestamps; the output's frame count and rate are unchanged.
    `on_progress(frames_done, frames_total)` (frames rendered: with `dedup`, held copies are not counted) is called once rendering starts (after the estimate) and after
    each output frame is written (per input file for a folder of videos); an exception it raises aborts the
    run like any error (the work folder is removed, nothing is written under the output name).
    A folder of videos gives a folder of outputs (with `resume`, outputs already finished are kept).
    `ray` ("auto" or a head's "HOST:PORT"; needs the `ray` extra): the work runs as Ray tasks on that cluster
    (`videoinr.pipeline.cluster`), with output bit-identical to a local run; the output folder must be on a
    filesystem every node sees at the same path.
    Returns the output path (a list of paths for a folder of videos). Raises VideoINRError on bad input.
    """
    inp, out = Path(input), Path(output)
    require_path(inp)
    job = upscale_options(options, **changes)
    batch = inp.is_dir() and not is_frame_folder(inp)
    pairs = _batch_pairs(inp, out, job) if batch else [(inp, out)]
    if job.ray is not None:
        from videoinr.pipeline.cluster import connect

        connect(job.ray)  # before the model loads: a cluster that cannot be joined fails at once
    net = _load_model(model, job.device)
    if batch:
        _check_batch(pairs, job, net)
        try:
            out.mkdir(parents=False, exist_ok=True)
        except OSError as e:
            raise VideoINRError(f"{out}: cannot create output folder ({e.strerror or e})") from None
        done = [o for _, o in pairs if job.resume and _finished(o)]
        pairs = [(v, o) for v, o in pairs if o not in done]
    if job.ray is not None:
        from videoinr.pipeline.cluster import upscale_on_ray

        made = upscale_on_ray(pairs, job, net)
    else:
        made = [upscale_one(v, o, job, net) for v, o in pairs]
    return sorted(done + made) if batch else made[0]


def _finished(out: Path) -> bool:
    """Whether `out` of a folder of videos was finished by the run that --resume continues (it exists and
    no work folder of an unfinished run is beside it)."""
    from videoinr.pipeline.workdir import work_dir

    return out.exists() and not work_dir(out).exists()


def _batch_pairs(inp: Path, out: Path, job: UpscaleOptions) -> list[tuple[Path, Path]]:
    """(input, output) pairs of a folder of videos (hidden and system files skipped)."""
    videos = sorted(p for p in inp.iterdir()
                    if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS and not is_ignored_name(p.name))
    if not videos:
        raise VideoINRError(f"{inp}: no image frames or video files in this folder")
    if job.progress:
        note_ignored(inp)
    if out.suffix:
        raise VideoINRError(f"{out}: a folder of videos needs a folder as output, not a {out.suffix} file")
    if out.exists() and not out.is_dir():
        raise VideoINRError(f"{out}: exists and is not a folder")
    pairs = [(v, out / v.name) for v in videos]
    pairs = [(v, o) for v, o in pairs if o.suffix.lower() in OUTPUT_VIDEO_EXTENSIONS] + [
        (v, o.with_suffix(".mp4")) for v, o in pairs if o.suffix.lower() not in OUTPUT_VIDEO_EXTENSIONS]
    pairs.sort()
    inputs = {v.resolve() for v in videos}
    for v, o in pairs:
        if resolve_path(o) in inputs:
            raise VideoINRError(f"{o}: output for {v.name} would overwrite an input; choose another output folder")
    if not job.force:
        taken = [f"{o}: already exists (use --force to overwrite)" for _, o in pairs
                 if (o.exists() or o.is_symlink()) and not (job.resume and _finished(o))]
        if taken:
            raise VideoINRErrors(taken)
    return pairs


def _check_batch(pairs: list[tuple[Path, Path]], job: UpscaleOptions, net) -> None:
    """Probe every input of this process before anything is rendered or written: decode it (a truncated
    mkv shows only when decoded; decoding costs little next to rendering), plan it (a single frame cannot be
    interpolated, a region must fit) and fit one output frame in memory. All bad inputs are reported at
    once, one line each (VideoINRErrors)."""
    from videoinr.data.video import check_encoder, check_preset, default_codec

    if job.codec is not None:
        check_encoder(job.codec)
    limit = memory_limit(job)
    problems = []
    checked = set()
    for v, o in pairs:
        try:
            codec = job.codec or default_codec(o)
            check_container(o, codec)
            if codec not in checked:
                check_preset(codec, job.preset)
                checked.add(codec)
            src = scan(v, None, False, job.progress, job.dedup)
            plan = make_plan(src, job)
            make_budget(net, (src.height, src.width), plan.frame_hw, limit, str(v), job.device)
        except VideoINRError as e:
            problems.extend(getattr(e, "messages", None) or [str(e)])
    if problems:
        raise VideoINRErrors(problems)


@dataclass(frozen=True)
class Estimate:
    """What `upscale()` would produce and cost (see `estimate()`)."""

    frames_in: int
    frames_out: int
    width: int
    height: int
    fps: Fraction  # nominal output frame rate
    seconds: float  # estimated run time (frames rendered: with dedup, held copies cost nothing)
    peak_bytes: int  # estimated peak memory
    audio: bool  # whether a video output would carry the input's audio


def estimate(
    input: str | os.PathLike,
    options: UpscaleOptions | Mapping[str, object] | None = None,
    *,
    model: str | os.PathLike | torch.nn.Module = "lite",
    **changes: object,
) -> Estimate:
    """Frames, output size, run time and peak memory of `upscale(input, ..., same options)`, writing nothing.

    Decodes the input once (as the run's scan, without scene-cut detection), loads the model and times the
    first pair as the run does before rendering (eager renderer: a long job that compiles runs faster).
    Raises the run's VideoINRError for bad input or settings over the memory limit.
    """
    inp = Path(input)
    require_path(inp)
    if inp.is_dir() and not is_frame_folder(inp):
        raise VideoINRError(f"{inp}: estimate takes one video or frame folder")
    job = upscale_options(options, **changes)
    job = dataclasses.replace(job, max_time=None, scene_cuts=False, progress=False)  # checked: no re-check
    src = scan(inp, dedup=job.dedup)
    plan = make_plan(src, job)
    net = _load_model(model, job.device)
    limit = memory_limit(job)
    budget = make_budget(net, (src.height, src.width), plan.out_hw, limit, str(inp), job.device)
    frames = DecodedFrameBuffer(src.frames())
    todo = list(next(pair_groups(plan.refs)))
    old_points = net.max_query_points
    try:
        net.max_query_points = budget.max_query_points
        pair = plan.refs[0][0]
        a, b = (to_tensor(frames.get(k), job.device) for k in pair)
        with torch.inference_mode():
            state, t_enc, t_frame = encode_timed(net, pair, a, b, job.device)
            secs = estimate_seconds(state, plan, todo, t_enc, budget, t_frame=t_frame)
    finally:
        net.max_query_points = old_points
        frames.it.close()
    audio = bool(src.kind == "video" and src.info.has_audio and plan.copy_audio)
    return Estimate(src.n, plan.n, plan.out_hw[1], plan.out_hw[0], Fraction(plan.fps), float(secs),
                    budget.peak_bytes, audio)
