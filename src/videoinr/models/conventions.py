"""The two decoding conventions of a model (`ModelConfig.conventions`): where points lie, how flows move them.

Both the reference model (`models/videoinr.py`) and the fast renderer (`models/render.py`) read the geometry
of an encoded pair from here, so the two cannot disagree on a convention.

- `videoinr` (every model this package trains): the decoder reads the input frames' own grid (h, w); the
  encoder's padding to a multiple of 4 is replicate and cropped away. Query points are normalized with
  align_corners=False over the input frames, the nearest LR cell is the one holding the point (floor),
  flows are in LR pixels and move points from where they are, samples outside the frame repeat the border.
- `official` (checkpoints of the released code, imported by `videoinr import-official`; the rules are the
  released `decoding_test` path, listed in `../shared/reference/official_videoinr/README.md`): the frames are
  zero-padded to a multiple of 4 and the decoder reads the padded grid (h', w'); query points are clamped to
  +-(1 - 1e-6), the nearest LR cell is grid_sample's (round half to even); the output pixel grid covers the
  padded frame, (H', W') = (H h'/h, W w'/w) for an (H, W) output of the real content; flows are in output
  pixels of that grid and move a pixel from its align_corners=True position (`linspace(-1, 1, W')`), the
  result clamped again; samples outside the frame are zero; TemporalINR and the decoder read the frames
  from a fixed x4 bilinear upsample of the padded LR frames; outputs are not clamped to [0, 1].

Points handed between functions here are "grid" coordinates: normalized (x, y) over the decoding grid (the
padded frame for `official`; the input frame for `videoinr`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import gcd

import torch
from torch import Tensor

from videoinr.errors import VideoINRError
from videoinr.models.sampling import make_grid

VIDEOINR, OFFICIAL = "videoinr", "official"
CONVENTIONS = (VIDEOINR, OFFICIAL)
PAD_MULTIPLE = 4  # the encoder's two stride-2 pyramid levels
CLAMP = 1 - 1e-6  # official: query and warped points are clamped to +-CLAMP
HR_FRAMES_SCALE = 4  # official: TemporalINR and the decoder read the LR frames upsampled x4 (bilinear)


@dataclass(frozen=True)
class Geometry:
    """The decoding geometry of one encoded pair.

    official: the convention. content: (h, w) of the input frames. grid: (h', w') of the LR grid the decoder
    reads (the zero-padded frame for `official`, = content for `videoinr`)."""

    official: bool
    content: tuple[int, int]
    grid: tuple[int, int]

    @property
    def padding(self) -> str:
        """grid_sample padding mode of every bilinear sample."""
        return "zeros" if self.official else "border"

    def to_grid(self, x: Tensor) -> Tensor:
        """Points (..., 2) normalized over the input frames -> grid coordinates (official: clamped)."""
        if not self.official:
            return x
        (h, w), (hp, wp) = self.content, self.grid
        if (h, w) != (hp, wp):
            x = (x + 1) * x.new_tensor([w / wp, h / hp]) - 1
        return x.clamp(-CLAMP, CLAMP)

    def output_grid(self, size: tuple[int, int]) -> tuple[int, int]:
        """The (H', W') pixel grid an (H, W) output of the input frames decodes on (see the module docstring)."""
        if not self.official:
            return size
        out = []
        for n, c, p, axis in ((size[0], self.content[0], self.grid[0], "height"),
                              (size[1], self.content[1], self.grid[1], "width")):
            m = Fraction(n * p, c)
            if m.denominator != 1:
                raise VideoINRError(
                    f"conventions 'official': output {axis} {n} of a {c}-pixel input does not map onto the "
                    f"padded {p}-pixel grid the official code decodes on ({n} x {p}/{c} is not an integer); "
                    f"use a multiple of {c // gcd(c, p)} pixels (e.g. an integer --scale)")
            if m < 2:
                raise VideoINRError(f"conventions 'official': output {axis} must be at least 2 pixels on the "
                                    f"padded grid, got {int(m)}")
            out.append(int(m))
        return out[0], out[1]

    def query_grid(self, size: tuple[int, int] | None) -> tuple[int, int] | None:
        """The output grid the points of a `query` decode on: None for `videoinr` (points stand alone);
        `official`: `output_grid(size)`, and `size` is required."""
        if not self.official:
            return None
        if size is None:
            raise VideoINRError("conventions 'official': query needs size=(H, W), the output its points belong to")
        return self.output_grid(size)

    def pixel_points(self, out_grid: tuple[int, int], region: tuple[int, int, int, int] | None = None,
                     device=None) -> Tensor:
        """Grid coordinates (1, n, 2) of the pixel centres of `region` = (x, y, w, h) (None: all) of the
        output pixel grid out_grid = (H', W') (`output_grid`), row-major (official: clamped)."""
        x = make_grid(out_grid, region, device).unsqueeze(0)
        return x.clamp(-CLAMP, CLAMP) if self.official else x

    def nearest(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """`nearest` on this pair's decoding grid."""
        return nearest(x, self.grid[0], self.grid[1], self.official)

    def warp(self, x: Tensor, flow: Tensor, out_grid: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """`warp` on this pair's decoding grid and an output pixel grid out_grid = (H', W')."""
        return warp(x, flow, self.official, self.grid, x.new_tensor([out_grid[1], out_grid[0]]))


# The two rules as functions of explicit sizes: the fast renderer passes sizes read from tensors (dynamic
# under torch.compile) where `Geometry` holds ints.

def nearest(x: Tensor, h, w, official: bool) -> tuple[Tensor, Tensor, Tensor]:
    """(ix, iy, rel) of grid points x (..., 2) on an (h, w) LR grid: the cell each point reads (long (...)
    each) and the point's offset from that cell's centre in half-cells (..., 2), (x, y), in [-1, 1] inside
    the cell. videoinr: the cell holding the point (floor); official: grid_sample 'nearest' (round half to
    even of the unnormalized coordinate)."""
    if official:
        ix = torch.round(((x[..., 0] + 1) * w - 1) / 2)
        iy = torch.round(((x[..., 1] + 1) * h - 1) / 2)
    else:
        ix = torch.floor((x[..., 0] + 1) * (w / 2))
        iy = torch.floor((x[..., 1] + 1) * (h / 2))
    ix, iy = ix.long().clamp_(0, w - 1), iy.long().clamp_(0, h - 1)
    cx = (2 * ix + 1).to(x.dtype) / w - 1
    cy = (2 * iy + 1).to(x.dtype) / h - 1
    return ix, iy, torch.stack(((x[..., 0] - cx) * w, (x[..., 1] - cy) * h), -1)


def warp(x: Tensor, flow: Tensor, official: bool, lr: tuple, out_wh: Tensor) -> tuple[Tensor, Tensor]:
    """The two warped points (..., 2) of grid points x (..., 2) under flows (..., 4) = [to frame 0 | to
    frame 1], (x, y) each. videoinr: flows in pixels of the (h, w) = lr grid, added to the point. official:
    flows in pixels of the output grid out_wh = (W', H') (a tensor), added to the pixel's align_corners=True
    position, clamped to +-CLAMP."""
    if not official:
        scale = torch.stack([2 / lr[1] * x.new_ones(()), 2 / lr[0] * x.new_ones(())])  # LR pixels -> normalized
        return x + flow[..., :2] * scale, x + flow[..., 2:] * scale
    n = out_wh.to(x.dtype)
    base = ((x + 1) * n - 1) / (n - 1) - 1  # the pixel's linspace(-1, 1, n) position
    step = 2 / (n - 1)  # output pixels -> normalized (align_corners=True)
    return ((base + flow[..., :2] * step).clamp(-CLAMP, CLAMP),
            (base + flow[..., 2:] * step).clamp(-CLAMP, CLAMP))


def check_output_size(conventions: str, content: tuple[int, int], size: tuple[int, int]) -> None:
    """Raise the one-line VideoINRError of `Geometry.output_grid` before any work when a model of these
    conventions cannot decode an (H, W) = size output of (h, w) = content input frames."""
    Geometry(conventions == OFFICIAL, content, padded_size(*content)).output_grid(size)


def padded_size(h: int, w: int) -> tuple[int, int]:
    """(h, w) rounded up to the encoder's PAD_MULTIPLE."""
    return h + (-h) % PAD_MULTIPLE, w + (-w) % PAD_MULTIPLE
