"""Video file I/O through PyAV (FFmpeg): streaming decode with real timestamps, probing, and encoding.

Frames cross this boundary as uint8 numpy arrays of shape (H, W, 3), RGB order, in the video's stored
(coded) orientation; rotation is reported by `probe` and carried to outputs as metadata, never applied to
pixels. Timestamps are presentation times in seconds on the input's own timeline, so variable-frame-rate
sources keep their real timing.

This module is the public entry point: reading lives in `data/video_read.py`, writing and joining in
`data/video_write.py`, and callers import the names from here. A name patched here reaches callers that look
it up here when they run (as `upscale` does), not the internals of those two files.
"""
from __future__ import annotations

from videoinr.data.video_read import TimedFrame, VideoInfo, iter_video, pix_fmt_bits, probe, read_video
from videoinr.data.video_write import (VideoWriter, check_encoder, check_preset, choose_pix_fmt, concat_videos,
                                      deep_pix_fmt, default_codec)

__all__ = [
    "VideoInfo", "TimedFrame", "probe", "iter_video", "read_video", "VideoWriter", "concat_videos",
    "check_encoder", "check_preset", "choose_pix_fmt", "deep_pix_fmt", "default_codec", "pix_fmt_bits",
]
