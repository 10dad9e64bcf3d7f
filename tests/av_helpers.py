"""Small PyAV helpers shared by the video I/O and upscale tests."""
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_with_audio(path: Path, frames: list[np.ndarray], fps: int = 10, seconds: float | None = None) -> None:
    """A small H.264 + AAC video made with PyAV (a 440 Hz tone, as long as the video unless `seconds`)."""
    seconds = len(frames) / fps if seconds is None else seconds
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        aus = c.add_stream("aac", rate=44100, layout="mono")
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts, fr.time_base = i, Fraction(1, fps)
            c.mux(vs.encode(fr))
        n = int(44100 * seconds)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(n) / 44100)).astype(np.float32)
        for s in range(0, n, 1024):
            af = av.AudioFrame.from_ndarray(tone[None, s : s + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 44100, s, Fraction(1, 44100)
            c.mux(aus.encode(af))
        c.mux(vs.encode(None))
        c.mux(aus.encode(None))


def audio_packets(path: Path) -> list[bytes]:
    """The raw packets of the first audio stream (to check a bit-exact stream copy)."""
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def example_frames(n: int, resize: tuple[int, int] | None = None, crop: tuple[int, int] | None = None) -> list[np.ndarray]:
    """The first n RGB frames of the bundled example clip, resized to `resize` = (W, H) (area filter) or
    cropped to its top-left `crop` = (H, W)."""
    import cv2

    from videoinr.pipeline import EXAMPLE_VIDEO

    out = []
    with av.open(str(EXAMPLE_VIDEO)) as c:
        for f in c.decode(video=0):
            img = f.to_ndarray(format="rgb24")
            if resize is not None:
                img = cv2.resize(img, resize, interpolation=cv2.INTER_AREA)
            if crop is not None:
                img = img[: crop[0], : crop[1]]
            out.append(np.ascontiguousarray(img))
            if len(out) == n:
                return out
    return out


def encode(path: Path, frames: list[np.ndarray], codec: str = "libx264", fps: int = 10,
           faststart: bool = False) -> Path:
    """A video-only clip made with PyAV (yuv420p); `faststart` puts an mp4's index (moov) first."""
    opts = {"movflags": "faststart"} if faststart and path.suffix == ".mp4" else {}
    with av.open(str(path), "w", options=opts) as c:
        vs = c.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for i, img in enumerate(frames):
            fr = av.VideoFrame.from_ndarray(img, format="rgb24")
            fr.pts, fr.time_base = i, Fraction(1, fps)
            c.mux(vs.encode(fr))
        c.mux(vs.encode(None))
    return path


def cut(src: Path, dst: Path, keep: float = 0.9) -> Path:
    """The first `keep` share of `src`'s bytes written to `dst` (a truncated copy)."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst
