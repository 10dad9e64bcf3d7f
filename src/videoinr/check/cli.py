"""`videoinr check VIDEO -o REPORT/ ...`: the command line over `videoinr.check.run.check`."""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from videoinr.errors import ArgumentParser


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="videoinr check",
        description="Measure, on your own video, whether the model beats optical flow + bicubic at the factors you "
        "want: a sample is downscaled (MATLAB bicubic, every N-th frame), brought back by the model and the "
        "classical baselines, and scored against the original (docs/CHECK.md).",
        epilog="example: videoinr check holiday.mp4 --scale 4 --time-scale 2 -o holiday_check/",
    )
    p.add_argument("video", help="a video file or a folder of frames ('example': the bundled clip)")
    p.add_argument("-o", "--output", required=True, metavar="REPORT", help="report folder (report.md, results.json, "
                   "psnr_over_time.png, crops/); must not exist unless --force")
    space = p.add_mutually_exclusive_group()
    space.add_argument("--scale", help="space factor to check (default 4)")
    space.add_argument("--size", help="the output size you want, WxH (one side may be -1): the factor it implies")
    tm = p.add_mutually_exclusive_group()
    tm.add_argument("--time-scale", metavar="N", help="time factor to check (default 2)")
    tm.add_argument("--fps", help="the output frame rate you want: a whole multiple of the video's")
    p.add_argument("--model", default="lite", help="lite, paper, or a .safetensors weights file (default lite)")
    p.add_argument("--seconds", default="3", help="seconds of the video to check, in up to 3 segments spread over "
                   "it (default 3; a shorter file is checked whole)")
    p.add_argument("--baselines", default="flow-bicubic,bicubic-blend,bicubic-repeat",
                   help="comma-separated classical baselines scored beside the model (default: the three of "
                   "`eval`; flow-bicubic is always run: the verdict compares with it). Each costs about as "
                   "much scoring time as the model")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--input-fps", type=float, default=None, help="frame rate of a frame-folder input (default 30)")
    p.add_argument("--force", action="store_true", help="replace an existing REPORT folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _baselines(text: str) -> tuple[str, ...]:
    from videoinr.baselines import BASELINES
    from videoinr.errors import VideoINRError

    names = tuple(dict.fromkeys(b.strip() for b in str(text).split(",") if b.strip()))
    bad = [b for b in names if b not in BASELINES]
    if bad:
        raise VideoINRError(f"--baselines {text}: unknown {', '.join(bad)} (choose from {', '.join(BASELINES)})")
    return names


FRESH_START_S = 60.0  # a process older than this at the check's start was not started for it


def process_age() -> float:
    """Seconds since this process started (interpreter start and imports so far; Linux /proc), else 0."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rpartition(")")[2].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def main(argv: Sequence[str] | None = None) -> int:
    """`videoinr check ...`; returns the exit status (VideoINRError is handled by the caller)."""
    from videoinr.check.report import check_report, verdict, write_report
    from videoinr.check.run import check
    from videoinr.pipeline.cli import resolve_input

    started = process_age()  # interpreter start and imports (torch): a fresh `upscale` pays them too
    if started > FRESH_START_S:  # called inside a process that has run for a while (tests, a notebook)
        started = 0.0

    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    check_report(args.output, args.force)  # before the (long) check, not after it
    results, crops = check(
        resolve_input(args.video), scale=args.scale, time_scale=args.time_scale, size=args.size, fps=args.fps,
        model=args.model, seconds=args.seconds, baselines=_baselines(args.baselines), device=args.device, input_fps=args.input_fps,
        progress=not args.quiet, startup_seconds=started,
    )
    results["verdict"] = verdict(results)
    out = write_report(results, crops, args.output, args.force)
    print(results["verdict"]["text"])
    if not args.quiet:
        print(f"wrote {out}/report.md ({results['check_seconds']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from videoinr.cli import run_with_errors

    sys.exit(run_with_errors(main, sys.argv[1:]))
