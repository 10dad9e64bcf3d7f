"""`videoinr upscale ...`: the command line over `videoinr.upscale()`."""
from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from videoinr.errors import ArgumentParser, Stopped
from videoinr.pipeline.api import upscale
from videoinr.pipeline.job import DEFAULT_INPUT_FPS, EXAMPLE_VIDEO, UpscaleOptions, upscale_options


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="videoinr upscale",
        description="Upscale a video (or frame folder, or folder of videos) to any resolution and frame rate.",
        epilog="Examples: videoinr upscale in.mp4 -o out.mp4 --scale 4 --time-scale 2;  "
               "videoinr upscale frames/ -o big/ --size 1920x-1 --fps 60",
    )
    p.add_argument("input", help="video file, folder of frames, or folder of videos ('example': the bundled clip)")
    p.add_argument("-o", "--output", required=True,
                   help="video file (.mp4, .mkv, .mov, .webm) or folder (numbered PNG frames)")
    space = p.add_mutually_exclusive_group()
    space.add_argument("--scale", help="space scale factor, any positive float (e.g. 2.7)")
    space.add_argument("--size", help="exact output size WxH; one side may be -1 to keep the aspect")
    tm = p.add_mutually_exclusive_group()
    tm.add_argument("--time-scale", metavar="N", help="N output frames per input interval")
    tm.add_argument("--fps", help="output frame rate (uses the real input timestamps)")
    tm.add_argument("--times", help="explicit output times in input-frame units, e.g. 0,0.25,0.5,1,2")
    p.add_argument("--region", help="X,Y,W,H window of the output frame (output pixels) to render "
                   "(a value starting with '-' is accepted, e.g. --region=-5,0,10,10, and reported)")
    p.add_argument("--model", default="lite", help="lite, paper, or a .safetensors weights file (default lite)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--codec", help="video encoder for video outputs (default: follows the container: VP9 for "
                   ".webm, else libx264)")
    p.add_argument("--preset", help="the encoder's speed/quality preset, passed through (x264/x265: ultrafast .. "
                   "placebo; SVT-AV1: 0..13)")
    p.add_argument("--crf", default="18", help="encoder quality, lower is better (default 18)")
    p.add_argument("--input-fps", help=f"frame rate of a frame-folder input (default {DEFAULT_INPUT_FPS})")
    p.add_argument("--max-memory", default="auto", help="peak memory bound, e.g. 4G (default auto)")
    p.add_argument("--max-time", default="7d", help="refuse runs estimated to take longer (default 7d; none)")
    p.add_argument("--no-scene-cuts", action="store_true", help="do not detect scene cuts")
    p.add_argument("--dedup", nargs="?", const=True, default=None, metavar="THRESHOLD",
                   help="skip input frames that repeat the previous distinct one (anime, screen recordings) and "
                   "interpolate across the real motion; THRESHOLD: largest mean absolute luma difference of "
                   "an 8x8 block, in 8-bit levels, that still counts as a repeat (default 20)")
    p.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                   help="run the work as Ray tasks (needs the ray extra): on the cluster whose head is at ADDRESS "
                   "(HOST:PORT), or with no ADDRESS (auto) on RAY_ADDRESS's, this machine's `ray start` one or "
                   "a new one-machine cluster; the output folder must be on storage every node sees (docs/UPSCALE.md)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--force", action="store_true", help="overwrite an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def resolve_input(name: str) -> Path:
    """The CLI input: `example` means the bundled clip unless a file or folder of that name exists."""
    p = Path(name)
    if name == "example" and not p.exists():
        return EXAMPLE_VIDEO
    return p


_SIGNED = ("--region", "--size", "--times")  # options whose value may start with '-'


def _join_region(argv: Sequence[str] | None) -> list[str]:
    """`--region -5,0,10,10` -> `--region=-5,0,10,10` (and `--size -1x720`, `--times -1,0`), so argparse
    does not take the value for an option: `-1x720` is a legal size, and the real problem of a negative X
    is reported by the region parser."""
    args = list(sys.argv[1:] if argv is None else argv)
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            out.extend(args[i:])
            break
        if a in _SIGNED and i + 1 < len(args) and re.fullmatch(r"-[0-9][\w\s.,:+-]*", args[i + 1]):
            out.append(f"{a}={args[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def options_from_args(args: argparse.Namespace) -> UpscaleOptions:
    """The parsed command line as `UpscaleOptions` (each option named like its field; `--no-scene-cuts`
    and `--quiet` are the negated `scene_cuts` and `progress`)."""
    given = {f: getattr(args, f) for f in UpscaleOptions.__dataclass_fields__ if hasattr(args, f)}
    return upscale_options(given, scene_cuts=not args.no_scene_cuts, progress=not args.quiet)


def _on_sigterm(signum, frame):
    raise Stopped("terminated")


def main(argv: Sequence[str] | None = None) -> int:
    """`videoinr upscale ...`; returns the exit status (VideoINRError is handled by the caller)."""
    args = build_parser().parse_args(_join_region(argv))
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        result = upscale(resolve_input(args.input), args.output, options_from_args(args), model=args.model)
    except Stopped as e:
        if e.reason != "terminated":
            raise
        print(f"error: terminated{'; ' + e.detail if e.detail else ''}", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
    if not args.quiet:
        outs = result if isinstance(result, list) else [result]
        for o in outs:
            print(f"wrote {o}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from videoinr.cli import run_with_errors

    sys.exit(run_with_errors(main, sys.argv[1:]))
