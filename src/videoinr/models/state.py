"""`State`: what `VideoINR.encode` computed for one frame pair, and the calls that decode it.

`render` and `query` run the fast renderer (`models/render.py`); the reference model's `reference_render` /
`reference_query` (`models/videoinr.py`) compute the same functions plainly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from videoinr.models import render as _render
from videoinr.models.conventions import Geometry

if TYPE_CHECKING:
    from videoinr.models.videoinr import VideoINR


@dataclass
class State:
    """One encoded frame pair. Tensors are float32, channels-last, on the decoding grid (h', w') of
    `geometry` (the input frames' own size, or the zero-padded one for `official` models)."""

    model: VideoINR
    feat: Tensor  # (B, 3 nf, h', w'): the encoder's LR features at t = 0, 1/2, 1
    frames: Tensor  # (B, 6, h', w'): both LR frames
    geometry: Geometry
    prior: Tensor | None = None  # flow_prior configs: (B, 4, h, w) [F_01 | F_10] in LR pixels
    hr_frames: Tensor | None = None  # official: (B, 6, 4h', 4w'), the frames TemporalINR and the decoder read
    cache: dict = field(default_factory=dict, repr=False)  # the renderer's LR-grid projections of this pair
    gemm_dtype: torch.dtype | None = None  # set by the renderer: per-point GEMMs in bf16

    @property
    def lr_size(self) -> tuple[int, int]:
        """(h, w) of the input frames."""
        return self.geometry.content

    def render(self, size: tuple[int, int], t, region: tuple[int, int, int, int] | None = None,
               exact: bool = False) -> Tensor:
        """Frames (B, T, 3, h, w) of an (H, W) = `size` output at times t (each in [0, 1]); `videoinr`
        models clamp to [0, 1], `official` ones do not (as the released code).

        region = (x, y, w, h) in output pixels renders only that window (equal to the crop of the full
        frame). Frames use the paper's frame form (Sec. 3.5: the HR feature map is warped); exact=True
        (`videoinr` models only) evaluates SpatialINR at every warped point instead, as `query` does.
        Chunked with bounded memory (`model.max_query_points`); the model's `compile_render` and
        `render_bf16` switches (or a bf16 autocast) select torch.compile and bf16 GEMMs."""
        return _render.render(self, size, t, region, exact)

    def query(self, coords: Tensor, t: Tensor | float, size: tuple[int, int] | None = None) -> Tensor:
        """RGB (B, N, 3) (not clamped) at points coords (B, N, 2) ((x, y) normalized over the input frames,
        align_corners=False) and times t (B, N) or a float. Differentiable (training uses it), float32,
        chunked. `official` models need `size`, the (H, W) output the points belong to."""
        return _render.query(self, coords, t, size)

    def flows(self, coords: Tensor, t: Tensor | float) -> Tensor:
        """The flows (B, N, 4) = [to frame 0 | to frame 1], (x, y) each, at points coords (B, N, 2) and
        times t (LR pixels for `videoinr` models, output pixels for `official` ones). For inspection."""
        return _render.flows(self, coords, t)
