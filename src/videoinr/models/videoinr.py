"""VideoINR (Chen et al., CVPR 2022), the reference model: the paper's equations, written to be read.

    encode(I0, I1), once per frame pair:
        F       = Encoder(I0, I1)     LR features at t = 0, 1/2, 1: (B, 3 nf, h, w) (Zooming SlowMo, `encoder.py`)
    reference_query(x, t), any point x and time t in [0, 1]:
        h(x)    = SpatialINR(F, I at the LR cell of x, offset of x in that cell [, t])       Sec. 3.1, Eq. 2
        f0, f1  = TemporalINR(h(x), F, I at x, offset, t)                                   Sec. 3.2, Eq. 4
        x_k     = x + f_k                    (k = 0, 1: towards frame 0 and frame 1)         Sec. 3.3, Eq. 5
        rgb     = Decoder(h(x_0), F, I at x_0, h(x_1), F, I at x_1, t)                     Sec. 3.4, Eq. 6
    reference_render(size, t), whole frames (Sec. 3.5): h is computed once on the output pixel grid, and the
        decoder reads it at x_k by bilinear sampling of that HR map instead of running SpatialINR again.

"F, I at x" is the LR feature and both LR frames' pixels there: the nearest cell's for SpatialINR, bilinear
samples elsewhere (the multi-scale aggregation of Sec. 3.4). The three INRs are SIRENs (`siren.py`) owned by
`ImplicitDecoder`; `InputLayout` names the column blocks of their inputs, the one definition of that order.
Where the conventions (`conventions.py`: `videoinr`, ours, or `official`, the released code's) differ, the
difference is a property of the pair's `Geometry` or a marked branch here. `flow_prior` configs add classical
optical flow to f_k (`prior.py`); `rgb_skip` configs add a warped blend of the LR frames (`ModelConfig`).

This file is the reference: plain, float32, differentiable, slow. What the commands run is the fast renderer
(`render.py`: LR-grid projections, chunks, regions, compile, bf16) behind `State.render` / `State.query`,
tested equal to `reference_render` / `reference_query` (tests/models/test_reference.py).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videoinr.errors import VideoINRError
from videoinr.models.config import ModelConfig
from videoinr.models.conventions import HR_FRAMES_SCALE, Geometry, padded_size
from videoinr.models.encoder import ZoomingSlowMoEncoder
from videoinr.models.prior import pair_flows, prior_at_t
from videoinr.models.siren import Siren
from videoinr.models.render import State, _fp32, _times


class InputLayout:
    """The named column blocks of each SIREN's first-layer input, in order (widths from the config):
        spatial:  feat | rgb | rel (| t, if spatial_uses_t)
        temporal: hr | feat | rgb | rel | t
        decoder:  hr0 | feat0 | rgb0 | hr1 | feat1 | rgb1 | t
    feat: LR feature (3 nf), rgb: both frames' pixels (6), rel: offset in the LR cell (x, y) in half-cells,
    hr: HR feature (hr_dim), t: time; 0 / 1: read at the warped point towards frame 0 / frame 1."""

    def __init__(self, cfg: ModelConfig) -> None:
        f, hr, t = 3 * cfg.nf, cfg.hr_dim, (("t", 1),)
        self.blocks: dict[str, tuple[tuple[str, int], ...]] = {
            "spatial": (("feat", f), ("rgb", 6), ("rel", 2)) + (t if cfg.spatial_uses_t else ()),
            "temporal": (("hr", hr), ("feat", f), ("rgb", 6), ("rel", 2)) + t,
            "decoder": (("hr0", hr), ("feat0", f), ("rgb0", 6), ("hr1", hr), ("feat1", f), ("rgb1", 6)) + t,
        }

    def widths(self, siren: str) -> list[int]:
        return [w for _, w in self.blocks[siren]]

    def names(self, siren: str) -> list[str]:
        return [n for n, _ in self.blocks[siren]]

    def columns(self, siren: str, first: str, last: str | None = None) -> slice:
        """The columns of blocks first..last (consecutive, in layout order) of a SIREN's input."""
        names, start = self.names(siren), [0]
        for w in self.widths(siren):
            start.append(start[-1] + w)
        i, j = names.index(first), names.index(last or first)
        return slice(start[i], start[j + 1])

    def cat(self, siren: str, **parts: Tensor) -> Tensor:
        """The SIREN's input (..., width) from its blocks given by name, each (..., block width)."""
        if sorted(parts) != sorted(self.names(siren)):
            raise ValueError(f"{siren} input needs blocks {self.names(siren)}, got {sorted(parts)}")
        return torch.cat([parts[name] for name in self.names(siren)], -1)


class ImplicitDecoder(nn.Module):
    """The three implicit functions: SpatialINR (-> HR feature), TemporalINR (-> two flows, (x, y) each, to
    frame 0 and frame 1), Decoder (-> RGB, + a blend logit for rgb_skip configs)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.layout = InputLayout(cfg)
        width = lambda s: sum(self.layout.widths(s))  # noqa: E731
        self.spatial = Siren(width("spatial"), cfg.spatial_hidden, cfg.hr_dim, cfg.omega0)
        self.temporal = Siren(width("temporal"), cfg.temporal_hidden, 4, cfg.omega0)
        self.decoder = Siren(width("decoder"), cfg.decoder_hidden, 4 if cfg.rgb_skip else 3, cfg.omega0)
        if cfg.conventions == "official":  # the released TemporalINR has no cell-offset input
            with torch.no_grad():
                self.temporal.first.weight[:, self.layout.columns("temporal", "rel")] = 0.0


@dataclass
class FrameCode:
    """One input frame's share of a pair's encoding (`VideoINR.encode_frame`): the frame itself (B, 3, h, w)
    and the encoder's `frame_part` of it (pyramid; trunk output without the ConvLSTM), on the padded grid."""

    frame: Tensor
    part: tuple


class VideoINR(nn.Module):
    """Encoder + ImplicitDecoder (see the module docstring)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # render chunk: (pixel, t) points per call, bounds peak memory (docs/MEASUREMENTS.md)
        self.max_query_points = 1 << 16
        # numeric switches of the fast renderer, set by the caller's policy (videoinr.runtime); off: float32, eager
        self.compile_render = False  # render through torch.compile (inference only; eager under autograd)
        self.encode_bf16 = False  # the encoder under bf16 autocast
        self.render_bf16 = False  # the renderer's per-point GEMMs in bf16
        self.encoder = ZoomingSlowMoEncoder(cfg.nf, cfg.groups, cfg.front_blocks, cfg.back_blocks, cfg.convlstm)
        self.encoder.to(memory_format=torch.channels_last)  # faster CPU convolutions
        self.inr = ImplicitDecoder(cfg)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ encode
    def encode_frame(self, frame: Tensor) -> FrameCode:
        """One frame's share of the encoding, (B, 3, h, w) in [0, 1]: pass it to `encode` in place of the
        frame, so the sliding pairs of a video (0, 1), (1, 2), ... encode each frame's part once (the same
        values as encoding the frame itself; under bf16, to its rounding)."""
        self._check_frames(frame, frame)
        with self._encoder_numerics(frame):
            return FrameCode(frame, self.encoder.frame_part(self._pad(frame).contiguous(memory_format=torch.channels_last)))

    def encode(self, frame0: Tensor | FrameCode, frame1: Tensor | FrameCode, flows: Tensor | None = None) -> State:
        """Encode frames (B, 3, h, w) in [0, 1] (any h, w >= 1; either may be given as its `encode_frame`)
        into a `State` that answers queries.

        flow_prior configs: `flows` (B, 4, h, w) = [F_01 | F_10] in LR pixels (`prior.pair_flows`) when
        already known (training computes them on whole frames, then crops); None computes them here (DIS on
        these frames, on the CPU). Ignored without flow_prior."""
        codes = [f if isinstance(f, FrameCode) else None for f in (frame0, frame1)]
        frame0, frame1 = (f.frame if isinstance(f, FrameCode) else f for f in (frame0, frame1))
        self._check_frames(frame0, frame1)
        b, _, h, w = frame0.shape
        prior = None
        if self.cfg.flow_prior:
            if flows is None:
                flows = pair_flows(frame0, frame1)
            if flows.shape != (b, 4, h, w):
                raise VideoINRError(f"encode: flows must be (B, 4, h, w) = {(b, 4, h, w)}, got {tuple(flows.shape)}")
            prior = flows.detach().float().to(frame0.device).contiguous(memory_format=torch.channels_last)
        official = self.cfg.conventions == "official"
        cl = torch.channels_last
        with self._encoder_numerics(frame0):  # the only part that may run in bf16
            if codes == [None, None]:  # both frames in one batch
                feat = self.encoder(self._pad(frame0).contiguous(memory_format=cl), self._pad(frame1).contiguous(memory_format=cl))
            else:
                parts = [c.part if c is not None else self.encode_frame(f).part for c, f in zip(codes, (frame0, frame1))]
                feat = self.encoder.pair_part(*parts)
        with _fp32(feat):
            frames = torch.cat([frame0, frame1], 1).float()
            hr_frames = None
            if official:
                frames = self._pad(frames)
                hr_frames = F.interpolate(frames, scale_factor=HR_FRAMES_SCALE, mode="bilinear", align_corners=False)
            else:
                feat = feat[:, :, :h, :w]
            geometry = Geometry(official, (h, w), (int(frames.shape[2]), int(frames.shape[3])))
            return State(self, feat.float().contiguous(memory_format=cl), frames.contiguous(memory_format=cl),
                         geometry, prior, hr_frames)

    @staticmethod
    def _check_frames(frame0: Tensor, frame1: Tensor) -> None:
        if frame0.shape != frame1.shape or frame0.dim() != 4 or frame0.shape[1] != 3:
            raise VideoINRError(f"encode expects two (B, 3, h, w) frames of one shape, got "
                                f"{tuple(frame0.shape)} and {tuple(frame1.shape)}")

    def _pad(self, x: Tensor) -> Tensor:
        """x (B, C, h, w) padded at the bottom and right to the encoder's multiple of 4 (`official`: zeros,
        which the decoder reads; else replicated edges)."""
        h, w = x.shape[-2:]
        hp, wp = padded_size(h, w)
        if (hp, wp) == (h, w):
            return x
        return F.pad(x, (0, wp - w, 0, hp - h), mode="constant" if self.cfg.conventions == "official" else "replicate")

    def _encoder_numerics(self, ref: Tensor):
        """The encoder's autocast: bf16 where the model's `encode_bf16` switch says, else none."""
        if self.encode_bf16:
            return torch.autocast(ref.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ the reference decoding
    def reference_query(self, state: State, coords: Tensor, t: Tensor | float,
                        size: tuple[int, int] | None = None) -> Tensor:
        """RGB (B, N, 3), not clamped, at points coords (B, N, 2) ((x, y), normalized over the input frames)
        and times t (B, N) or a float, by the per-point form (Eq. 2-6).

        `official` models read h(x_k) from the HR map of an output pixel grid, as the released code does:
        pass the (H, W) of the output the points belong to."""
        t = _times(coords, t)
        g = state.geometry
        x = g.to_grid(coords.float())
        h = self._spatial(state, x, t)
        flow = self._flows(state, x, h, t)
        if not g.official:
            x0, x1 = g.warp(x, flow, g.grid)
            reads = [self._lr_reads(state, xk, self._spatial(state, xk, t)) for xk in (x0, x1)]
            return self._decode(state, reads, x0, x1, t)
        grid = g.query_grid(size)
        x0, x1 = g.warp(x, flow, grid)
        h0 = h1 = torch.zeros_like(h)
        for tv in torch.unique(t).tolist():  # one HR map per time
            hr = self._hr_map(state, grid, tv)
            now = (t == tv).unsqueeze(-1)
            h0 = torch.where(now, _sample(hr, x0, "zeros"), h0)
            h1 = torch.where(now, _sample(hr, x1, "zeros"), h1)
        return self._decode(state, [self._lr_reads(state, x0, h0), self._lr_reads(state, x1, h1)], x0, x1, t)

    def reference_render(self, state: State, size: tuple[int, int], t: list[float]) -> Tensor:
        """Frames (B, T, 3, H, W) of an (H, W) = size output at times t, by the frame form (Sec. 3.5): h on
        the output pixel grid, read at the warped points by bilinear sampling; in [0, 1] (`videoinr`) or not
        clamped (`official`)."""
        g = state.geometry
        grid = g.output_grid(size)  # official: the padded frame's pixel grid
        b = state.frames.shape[0]
        x = g.pixel_points(grid, device=state.frames.device).expand(b, -1, -1)
        frames = []
        for tv in [float(v) for v in t]:
            tt = x.new_full(x.shape[:2], tv)
            hr = self._hr_map(state, grid, tv)  # (B, hr_dim, H', W')
            h = hr.flatten(2).transpose(1, 2)
            x0, x1 = g.warp(x, self._flows(state, x, h, tt), grid)
            if g.official:  # the HR feature from the map; F and I sampled at x_k themselves
                reads = [self._lr_reads(state, xk, _sample(hr, xk, "zeros")) for xk in (x0, x1)]
            else:  # one HR map of all the decoder reads (h, F and I at each pixel), warped as a whole
                full = torch.cat([h, *self._lr_reads(state, x, h)[1:]], -1)
                full = full.transpose(1, 2).reshape(b, -1, *grid)
                widths = (self.cfg.hr_dim, 3 * self.cfg.nf, 6)
                reads = [torch.split(_sample(full, xk, "border"), widths, -1) for xk in (x0, x1)]
            frames.append(self._decode(state, reads, x0, x1, tt).transpose(1, 2).reshape(b, 3, *grid))
        out = torch.stack(frames, 1)[..., : size[0], : size[1]]  # official: the real content of the padded grid
        return out if g.official else out.clamp(0, 1)

    def _spatial(self, state: State, x: Tensor, t: Tensor) -> Tensor:
        """h (B, N, hr_dim) at grid points x (B, N, 2), times t (B, N) (Eq. 2)."""
        ix, iy, rel = state.geometry.nearest(x)
        parts = {"feat": _cell(state.feat, ix, iy), "rgb": _cell(state.frames, ix, iy), "rel": rel}
        if self.cfg.spatial_uses_t:
            parts["t"] = t.unsqueeze(-1)
        return self.inr.spatial(self.inr.layout.cat("spatial", **parts))

    def _hr_map(self, state: State, grid: tuple[int, int], t: float) -> Tensor:
        """h on the pixel centres of an output grid (H', W') at time t: (B, hr_dim, H', W') (Sec. 3.5)."""
        b = state.frames.shape[0]
        x = state.geometry.pixel_points(grid, device=state.frames.device).expand(b, -1, -1)
        h = self._spatial(state, x, x.new_full(x.shape[:2], t))
        return h.transpose(1, 2).reshape(b, -1, *grid)

    def _lr_reads(self, state: State, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(h, F, I) at grid points x: the HR feature given, the LR feature and the frames sampled bilinearly
        (`official`: I from the x4 upsampled frames)."""
        pad = state.geometry.padding
        rgb = state.frames if state.hr_frames is None else state.hr_frames
        return h, _sample(state.feat, x, pad), _sample(rgb, x, pad)

    def _flows(self, state: State, x: Tensor, h: Tensor, t: Tensor) -> Tensor:
        """The flows (B, N, 4) = [to frame 0 | to frame 1], (x, y) each, at grid points x with HR feature h
        there, times t (Eq. 4; + the classical prior's linear motion for flow_prior configs)."""
        _, feat, rgb = self._lr_reads(state, x, h)
        rel = state.geometry.nearest(x)[2]
        flow = self.inr.temporal(self.inr.layout.cat("temporal", hr=h, feat=feat, rgb=rgb, rel=rel, t=t.unsqueeze(-1)))
        if state.prior is not None:
            flow = flow + prior_at_t(_sample(state.prior, x, "border"), t)
        return flow

    def _decode(self, state: State, reads: list, x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
        """RGB (B, N, 3) from the (h, F, I) read at both warped points x0, x1 and t (Eq. 6). rgb_skip configs
        add the LR frames sampled there (bicubic), blended by t and the decoder's logit."""
        (h0, f0, i0), (h1, f1, i1) = reads
        z = self.inr.layout.cat("decoder", hr0=h0, feat0=f0, rgb0=i0, hr1=h1, feat1=f1, rgb1=i1, t=t.unsqueeze(-1))
        out = self.inr.decoder(z)
        if not self.cfg.rgb_skip:
            return out
        a, b = _sample(state.frames[:, :3], x0, "border", "bicubic"), _sample(state.frames[:, 3:], x1, "border", "bicubic")
        tc = t.unsqueeze(-1).clamp(1e-3, 1 - 1e-3)
        alpha = torch.sigmoid(torch.log(tc / (1 - tc)) + out[..., 3:])
        return out[..., :3] + a + (b - a) * alpha


def _cell(maps: Tensor, ix: Tensor, iy: Tensor) -> Tensor:
    """The values (B, N, C) of maps (B, C, h, w) at LR cells (ix, iy) (B, N) each."""
    batch = torch.arange(maps.shape[0], device=maps.device).unsqueeze(1)
    return maps.permute(0, 2, 3, 1)[batch, iy, ix]


def _sample(maps: Tensor, x: Tensor, padding: str, mode: str = "bilinear") -> Tensor:
    """Samples (B, N, C) of maps (B, C, h, w) at normalized points x (B, N, 2), align_corners=False."""
    out = F.grid_sample(maps, x.unsqueeze(1), mode=mode, padding_mode=padding, align_corners=False)
    return out[:, :, 0].transpose(1, 2)
