"""VideoINR: encode a frame pair once, then decode any space-time coordinate to RGB.

Coordinates are normalized with align_corners=False (pixel centre i of a length-N axis is at
(2i + 1)/N - 1), last dim (x, y). The continuous representation is the paper's per-coordinate form
(Eq. 5-6): for a query (x, t)
    h(x)      = SpatialINR(nearest LR feature and pixels, offset to that cell [, t])
    f1, f2    = TemporalINR(h(x), bilinear LR feature and pixels at x, offset, t)      (LR pixels)
    x_k       = x + f_k
    rgb       = Decoder([h(x_k), bilinear LR feature and pixels at x_k] for k = 1, 2, t)
so every point is independent: chunked, region and full renders agree, and training on random points or on
whole patches runs the same code. `flow_prior` configs add classical optical flow (OpenCV DIS between the two
LR frames, both directions, computed once in `encode` and kept in the State) to f1, f2: f1 = t F_10(x) + c1,
f2 = (1 - t) F_01(x) + c2 with TemporalINR predicting the corrections c1, c2 (`models/prior.py`). The first
layer of each SIREN is linear in its LR-grid inputs, so that product is computed once per pair at LR
resolution and sampled (`VideoINR._project`): per output point only the small MLP layers remain.

This file holds the network and `encode`; what it returns, the `State` that answers `query` and renders
frames (and the paper's whole-frame form), is in `models/state.py`; point sampling and coordinate grids are
in `models/sampling.py`; the torch.compile path of large renders is in `models/compile.py`.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videoinr.errors import VideoINRError
from videoinr.models.config import ModelConfig
from videoinr.models.encoder import ZoomingSlowMoEncoder
from videoinr.models.prior import pair_flows
from videoinr.models.siren import Siren
from videoinr.models.state import State, _fp32

PAD_MULTIPLE = 4  # two stride-2 pyramid levels


def siren_inputs(cfg: ModelConfig) -> dict[str, list[int]]:
    """Widths of the column blocks of each SIREN's first-layer input (lr = LR feature of 3 time steps + both
    LR frames' pixels = 3 nf + 6, hr = hr_dim):
      spatial:  [lr | rel(2) (+ t(1) if spatial_uses_t)]
      temporal: [hr | lr + rel(2) + t(1)]
      decoder:  [hr1 | lr1 | hr2 | lr2 + t(1)]"""
    lr, hr = 3 * cfg.nf + 6, cfg.hr_dim
    return {"spatial": [lr, 2 + int(cfg.spatial_uses_t)], "temporal": [hr, lr + 3], "decoder": [hr, lr, hr, lr + 1]}


class VideoINR(nn.Module):
    """Encoder + SpatialINR + TemporalINR + decoder. See the module docstring for the data flow."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # (pixel, t) points per chunk when rendering: bounds peak memory; large enough for long kernels
        # (docs/MEASUREMENTS.md)
        self.max_query_points = 1 << 16
        # numeric switches, set by the caller's policy (videoinr.runtime); off: float32, eager
        self.compile_render = False  # render through torch.compile (inference only; eager under autograd)
        self.encode_bf16 = False  # the encoder under bf16 autocast
        self.render_bf16 = False  # the renderer's per-point GEMMs in bf16
        self.lr_dim = 3 * cfg.nf + 6  # LR feature (3 time steps) + both LR frames' pixels
        self.encoder = ZoomingSlowMoEncoder(cfg.nf, cfg.groups, cfg.front_blocks, cfg.back_blocks, cfg.convlstm)
        inputs = {name: sum(blocks) for name, blocks in siren_inputs(cfg).items()}  # first-layer columns
        self.spatial = Siren(inputs["spatial"], cfg.spatial_hidden, cfg.hr_dim, cfg.omega0)
        self.temporal = Siren(inputs["temporal"], cfg.temporal_hidden, 4, cfg.omega0)
        out_dim = 4 if cfg.rgb_skip else 3
        self.decoder = Siren(inputs["decoder"], cfg.decoder_hidden, out_dim, cfg.omega0)
        self.encoder.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ encode
    def encode(self, frame0: Tensor, frame1: Tensor, flows: Tensor | None = None) -> "State":
        """Encode a pair of frames (B, 3, h, w) in [0, 1] (any h, w >= 1) into a renderable State.

        flow_prior configs: `flows` (B, 4, h, w) = [F_01 | F_10] in LR pixels (`prior.pair_flows`) when
        already known (training computes them on whole frames, then crops); None computes them here (DIS on
        these frames, on the CPU). Ignored without flow_prior."""
        if frame0.shape != frame1.shape or frame0.dim() != 4 or frame0.shape[1] != 3:
            raise VideoINRError(f"encode expects two (B, 3, h, w) frames of one shape, got "
                                f"{tuple(frame0.shape)} and {tuple(frame1.shape)}")
        b, _, h, w = frame0.shape
        prior = None
        if self.cfg.flow_prior:
            if flows is None:
                flows = pair_flows(frame0, frame1)
            if flows.shape != (b, 4, h, w):
                raise VideoINRError(f"encode: flows must be (B, 4, h, w) = {(b, 4, h, w)}, got {tuple(flows.shape)}")
            prior = flows.detach().float().to(frame0.device).contiguous(memory_format=torch.channels_last)
        ph, pw = (-h) % PAD_MULTIPLE, (-w) % PAD_MULTIPLE
        pad = lambda f: F.pad(f, (0, pw, 0, ph), mode="replicate") if ph or pw else f  # noqa: E731
        cl = torch.channels_last  # the encoder's weights are channels-last too (faster CPU convs)
        bf16 = torch.autocast(frame0.device.type, dtype=torch.bfloat16) if self.encode_bf16 else contextlib.nullcontext()
        with bf16:  # the only part that may run in bf16
            feat = self.encoder(pad(frame0).contiguous(memory_format=cl), pad(frame1).contiguous(memory_format=cl))
        feat = feat[:, :, :h, :w]
        with _fp32(feat):
            frames = torch.cat([frame0, frame1], 1).float()
            lr = torch.cat([feat.float(), frames], 1).permute(0, 2, 3, 1).reshape(b * h * w, self.lr_dim)
            # channels-last: pixel rows for the gathers of the compiled renderer, a view for grid_sample
            frames = frames.contiguous(memory_format=torch.channels_last)
            return State(self, self._project(lr, b, h, w), frames, prior)

    def _project(self, lr: Tensor, b: int, h: int, w: int) -> dict[str, Tensor]:
        """First-layer pre-activations (times omega0, biases folded in) of the LR-grid inputs: the
        nearest-sampled `spatial` map as (B*h*w, C) rows, the bilinear-sampled ones as (B, C, h, w)."""
        d, hr = self.lr_dim, self.cfg.hr_dim
        s, t, dec = self.spatial.first, self.temporal.first, self.decoder.first
        weight = torch.cat([s.weight[:, :d], t.weight[:, hr : hr + d],
                            dec.weight[:, hr : hr + d], dec.weight[:, 2 * hr + d : 2 * hr + 2 * d]])
        bias = torch.cat([s.bias, t.bias, dec.bias, torch.zeros_like(dec.bias)])
        maps = torch.addmm(bias, lr, weight.t()).mul_(self.cfg.omega0)
        names = ("spatial", "temporal", "decoder1", "decoder2")
        widths = (s.out_features, t.out_features, dec.out_features, dec.out_features)
        out = dict(zip(names, torch.split(maps, widths, dim=1)))
        out["spatial"] = out["spatial"].contiguous()
        for name in names[1:]:  # bilinear-sampled maps: (B, C, h, w), channels-last memory (rows of C)
            out[name] = out[name].reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
        return out

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
