"""Regenerate the bundled example clip src/videoinr/assets/example.mp4 (reproducible provenance).

Source: ../shared/data/train/sam2_clips/01_dog.mp4 (facebookresearch/sam2 demo gallery, Apache-2.0,
commit 2b90b9f5), 1280x720 at 30000/1001 fps with AAC audio. This cuts START..START+SECONDS, shrinks the
frames to 192x108 with the project's MATLAB-style bicubic `imresize` (antialiased, as training degrades
frames), encodes H.264 (libx264, CRF 20, yuv420p) and stream-copies the audio of the same span.

    python scripts/make_example.py [--source PATH] [--output PATH]
"""
from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from videoinr.data.imresize import imresize
from videoinr.data.video import iter_video, probe

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / ".." / "shared" / "data" / "train" / "sam2_clips" / "01_dog.mp4"
OUTPUT = ROOT / "src" / "videoinr" / "assets" / "example.mp4"
START, SECONDS = 1.0, 2.0
SIZE = (108, 192)  # (H, W)
CRF = 20


def shrink(img: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(img).permute(2, 0, 1).float().div(255)
    y = imresize(x, size=SIZE).clamp(0, 1).mul(255).round().to(torch.uint8)
    return y.permute(1, 2, 0).contiguous().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--output", type=Path, default=OUTPUT)
    args = ap.parse_args()
    info = probe(args.source)
    t0, t1 = START, START + SECONDS
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_name(".example.tmp.mp4")
    with av.open(str(tmp), "w") as out, av.open(str(args.source)) as src:
        out.metadata["comment"] = f"cut {t0:g}-{t1:g} s of sam2 demo video 01_dog.mp4 (Apache-2.0), 192x108"
        vs = out.add_stream("libx264", rate=info.fps)
        vs.width, vs.height, vs.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        vs.codec_context.time_base = 1 / info.fps
        vs.options = {"crf": str(CRF), "preset": "veryslow"}
        a_in = src.streams.audio[0] if src.streams.audio else None
        a_out = out.add_stream_from_template(a_in) if a_in is not None else None
        n = 0
        for f in iter_video(args.source):
            if f.time < t0 - 1e-6:
                continue
            if f.time >= t1 - 1e-6:
                break
            frame = av.VideoFrame.from_ndarray(shrink(f.image), format="rgb24")
            frame.pts, frame.time_base = n, 1 / info.fps
            out.mux(vs.encode(frame))
            n += 1
        out.mux(vs.encode(None))
        if a_in is not None:  # copy the audio packets of [t0, t1), shifted to start at 0
            shift = int(round(t0 / a_in.time_base))
            for pkt in src.demux(a_in):
                if pkt.pts is None:
                    continue
                t = float(pkt.pts * a_in.time_base)
                if t < t0 or t >= t1:
                    continue
                pkt.pts -= shift
                pkt.dts -= shift
                pkt.stream = a_out
                out.mux(pkt)
    tmp.replace(args.output)
    print(f"wrote {args.output}: {n} frames {SIZE[1]}x{SIZE[0]} at {Fraction(info.fps)} fps, "
          f"{args.output.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
