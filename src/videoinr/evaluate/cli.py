"""The ``videoinr eval`` command line: options, run, print the table."""
from __future__ import annotations

import argparse
import time

from videoinr.errors import ArgumentParser
from videoinr.evaluate.protocol import PROTOCOLS
from videoinr.evaluate.report import check_out, format_table, write_outputs
from videoinr.evaluate.runner import evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``videoinr eval`` options."""
    parser.add_argument("protocol", choices=PROTOCOLS, help="vid4: pairs (0, N), (N, 2N), ...; clips: non-overlapping L-frame clips")
    parser.add_argument("--data", required=True, help="dataset root: <root>/<sequence>/<frames> (or one frame folder)")
    parser.add_argument(
        "--methods", required=True,
        help="comma-separated: bicubic-repeat, bicubic-blend, flow-bicubic, lite, paper, or .safetensors paths",
    )
    parser.add_argument("--out", required=True, help="output folder (results.json, results.md, psnr_vs_t.png, crops/); "
                        "not inside --data, nor holding it")
    parser.add_argument("--scale", type=int, default=4, help="space scale S (default 4)")
    parser.add_argument("--time-scale", type=int, default=None, help="time scale N (vid4 default 2; clips: L = N + 1)")
    parser.add_argument("--clip-len", type=int, default=None, help="clips protocol: frames per clip L (default 9)")
    parser.add_argument("--space-only", action="store_true", help="space SR only: every frame at t = 0")
    parser.add_argument("--channel", choices=("y", "rgb"), default="y", help="metric channel (default y: BT.601 luma)")
    parser.add_argument("--device", default="auto", help="device for model methods: auto, cpu, cuda, ...")
    parser.add_argument("--max-frames", type=int, default=None, help="use only the first K frames of each sequence")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``videoinr eval`` from parsed arguments; prints the Markdown table."""
    check_out(args.out, args.data)  # before the (long) evaluation, not after it
    start = time.perf_counter()
    results, crops = evaluate(
        args.data, args.methods.split(","), args.protocol, args.scale, args.time_scale, args.clip_len,
        args.space_only, args.channel, args.device, args.max_frames, progress=not args.no_progress,
    )
    results["wall_seconds"] = time.perf_counter() - start
    write_outputs(results, crops, args.out)
    print(format_table(results))
    print(f"wrote {args.out} ({results['wall_seconds']:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``videoinr eval PROTOCOL --data DIR --methods a,b --out DIR [...]`` (argv excludes 'eval')."""
    parser = ArgumentParser(
        prog="videoinr eval",
        description="Evaluate models and classical baselines with the paper's protocols (PSNR/SSIM on Y); "
        "writes results.json, results.md, psnr_vs_t.png and crops/ into --out.",
        epilog="example: videoinr eval vid4 --data ../shared/data/vid4 --methods lite,flow-bicubic --out runs/eval",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
