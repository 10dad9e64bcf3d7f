"""`videoinr upscale`: a video file or frame folder in, any resolution and frame rate out.

Pipeline (streaming, flat memory in video length), one module per stage:
- `job`: the options of a run, built and validated once (`upscale_options` -> `UpscaleOptions`), and their
  parsers;
- `scan`: decode the input once to validate every frame (size, colour; 10/12-bit video as 16-bit RGB), read
  the real timestamps, find scene cuts with `videoinr.data.scenes.CutDetector` and, with --dedup, repeated
  frames (`ScannedInput`);
- `plan`: each output frame gets a position u in input-frame units (2.5 = halfway between frames 2 and 3)
  and a presentation time; u maps to an input pair (k, k+1) and t in [0, 1]; no pair crosses a cut
  (frames near a cut come from the nearer side, rendered within their own shot) (`OutputPlan`);
- `budget`: the memory model, render chunking, and the run-time estimate checked against --max-time;
- `render`: each pair is encoded once (`model.encode`) and all its output frames are rendered from that
  state (`state.render(size=(H, W), t=[...], region=...)`) in memory-bounded chunks;
- `sinks`: numbered PNGs (folder output) or video segments (video output), in a hidden work folder beside
  the output; at the end the segments are joined with the input's audio/subtitles stream-copied;
- `workdir`: output checks, --force rules, the work folder's lock and resume record, the final rename.
  `--resume` reuses finished frames/segments of an interrupted run, so the final output is identical to
  an uninterrupted run's;
- `run`: one input end to end; `cluster`: the same as Ray tasks (`--ray`); `api`: `upscale()` and `estimate()`;
  `cli`: `videoinr upscale`.
"""
from videoinr.pipeline.api import Estimate, estimate, upscale
from videoinr.pipeline.cli import build_parser, main
from videoinr.pipeline.job import EXAMPLE_VIDEO, VIDEO_EXTENSIONS, UpscaleOptions, output_size, upscale_options

__all__ = ["upscale", "estimate", "Estimate", "main", "build_parser", "EXAMPLE_VIDEO", "VIDEO_EXTENSIONS",
           "output_size", "UpscaleOptions", "upscale_options"]
