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
layer of each SIREN is linear in its LR-grid inputs, so that product is computed once per pair at LR resolution and sampled (`_LRMaps`): per output point only the
small MLP layers remain.

Whole frames (`State.render`) use the paper's frame form (Sec. 3.5) when SpatialINR does not take t:
h is computed once per output pixel (pass 1, with the flows of every t), and the decoder's first-layer
terms of h(x_k) and of the LR feature at x_k are read from HR maps of those terms by bilinear sampling at
the warped points (pass 2) instead of running SpatialINR at each of them (measured on the first 5 frames of
each Vid4 sequence with the previous lite weights: 23.7309 dB vs 23.7308 exact; speed: benchmarks/RESULTS.md).
The maps cover the box of pixels the warped points read, so regions and chunks still agree exactly with
the full frame. `render(..., exact=True)` and `query` evaluate the per-point form.

Speed (see benchmarks/RESULTS.md): per point the work is small GEMMs plus elementwise sin/add/gathers, which
eager PyTorch runs one op at a time through memory. Large inference renders on CPU therefore go through a
`torch.compile`d copy of the per-chunk function (inductor fuses the sin/bias/gather/blend ops into a few
vectorised loops; grid_sample is written as explicit gathers there so it fuses too) when the model's
`compile_render` switch is on. The model only obeys its switches (`compile_render`, `encode_bf16`,
`render_bf16`; all off by default: float32, eager); the commands decide them once per job
(`videoinr.runtime.inference_policy`). Compiled and eager outputs agree to float rounding (~1e-6). Any
compile failure (e.g. no C++ compiler) warns once and falls back to eager.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import warnings
from dataclasses import dataclass

import torch
import torch._dynamo
import torch.fx.experimental._config  # noqa: F401 - for _size_oblivious
import torch.nn.functional as F
from torch import Tensor, nn

from videoinr.errors import VideoINRError
from videoinr.models.config import ModelConfig
from videoinr.models.encoder import ZoomingSlowMoEncoder
from videoinr.models.prior import pair_flows, prior_at_t
from videoinr.models.siren import Siren

PAD_MULTIPLE = 4  # two stride-2 pyramid levels
def pixel_centers(n: int, device=None, dtype=torch.float32) -> Tensor:
    """Normalized centres of n pixels along one axis: (2i + 1)/n - 1, shape (n,)."""
    return (2 * torch.arange(n, device=device, dtype=dtype) + 1) / n - 1


def make_grid(size: tuple[int, int], region: tuple[int, int, int, int] | None = None, device=None) -> Tensor:
    """Coordinates (h*w, 2) as (x, y) of the pixels of `region` = (x, y, w, h) of an (H, W) frame."""
    height, width = size
    x0, y0, rw, rh = region if region is not None else (0, 0, width, height)
    xs = pixel_centers(width, device)[x0 : x0 + rw]
    ys = pixel_centers(height, device)[y0 : y0 + rh]
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx, gy), -1).reshape(-1, 2)


class _Grid:
    """Samples LR-grid maps at normalized points (B, N, 2)."""

    def __init__(self, batch: int, h: int, w: int) -> None:
        self.b, self.h, self.w = batch, h, w

    def _flat(self, iy: Tensor, ix: Tensor) -> Tensor:
        base = torch.arange(self.b, device=ix.device).view(-1, 1) * (self.h * self.w)
        return (base + iy * self.w + ix).reshape(-1)

    def nearest(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Flat indices (B*N,) of the LR cell holding each point and the offset to its centre in
        half-cells (B, N, 2), in [-1, 1] inside the cell."""
        ix = torch.floor((x[..., 0] + 1) * (self.w / 2)).long().clamp_(0, self.w - 1)
        iy = torch.floor((x[..., 1] + 1) * (self.h / 2)).long().clamp_(0, self.h - 1)
        cx = (2 * ix + 1).to(x.dtype) / self.w - 1
        cy = (2 * iy + 1).to(x.dtype) / self.h - 1
        rel = torch.stack(((x[..., 0] - cx) * self.w, (x[..., 1] - cy) * self.h), -1)
        return self._flat(iy, ix), rel

    @staticmethod
    def bilinear(maps: Tensor, x: Tensor) -> Tensor:
        """Bilinear samples (B, N, C) of `maps` (B, C, h, w) at points x (B, N, 2), border padding."""
        if torch.compiler.is_compiling():
            return _bilinear_gather(maps, x)
        out = F.grid_sample(maps, x.unsqueeze(1), mode="bilinear", padding_mode="border", align_corners=False)
        return out[:, :, 0].transpose(1, 2)


class VideoINR(nn.Module):
    """Encoder + SpatialINR + TemporalINR + decoder. See the module docstring for the data flow."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        # (pixel, t) points per chunk when rendering; bounds peak memory. On 2 CPU cores 2^16 renders 720p
        # x8 25% faster than 2^14 eagerly (fewer, longer kernels), as fast compiled.
        self.max_query_points = 1 << 16
        # numeric switches, set by the caller's policy (videoinr.runtime); off: float32, eager
        self.compile_render = False  # render through torch.compile (inference only; eager under autograd)
        self.encode_bf16 = False  # the encoder under bf16 autocast
        self.render_bf16 = False  # the renderer's per-point GEMMs in bf16
        lr_dim = 3 * cfg.nf + 6  # LR feature (3 time steps) + both LR frames' pixels
        self.lr_dim = lr_dim
        self.encoder = ZoomingSlowMoEncoder(cfg.nf, cfg.groups, cfg.front_blocks, cfg.back_blocks, cfg.convlstm)
        # Input layouts (first-layer columns):
        #   spatial:  [lr | rel(2) | t(1) if spatial_uses_t]
        #   temporal: [hr | lr | rel(2) | t(1)]
        #   decoder:  [hr1 | lr1 | hr2 | lr2 | t(1)]
        self.spatial = Siren(lr_dim + 2 + int(cfg.spatial_uses_t), cfg.spatial_hidden, cfg.hr_dim, cfg.omega0)
        self.temporal = Siren(cfg.hr_dim + lr_dim + 3, cfg.temporal_hidden, 4, cfg.omega0)
        out_dim = 4 if cfg.rgb_skip else 3
        self.decoder = Siren(2 * (cfg.hr_dim + lr_dim) + 1, cfg.decoder_hidden, out_dim, cfg.omega0)
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
        cl = torch.channels_last  # the encoder's weights are channels-last too: 1.3x faster convs on CPU
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


@dataclass
class State:
    """What `VideoINR.encode` computed for one frame pair; answers queries at any (x, y, t)."""

    model: VideoINR
    maps: dict[str, Tensor]  # see VideoINR._project
    frames: Tensor  # (B, 6, h, w): both LR frames, channels-last memory
    prior: Tensor | None = None  # flow_prior configs: (B, 4, h, w) [F_01 | F_10] in LR pixels, channels-last
    gemm_dtype: torch.dtype | None = None  # per-point GEMMs in bf16 while rendering under bf16 autocast

    @property
    def grid(self) -> _Grid:
        # sizes read from a tensor (not stored ints) so a compiled renderer treats them as dynamic
        b, _, h, w = self.frames.shape
        return _Grid(b, h, w)

    @property
    def lr_size(self) -> tuple[int, int]:
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    # --------------------------------------------------------------- per point
    def _spatial(self, x: Tensor, t: Tensor | None) -> Tensor:
        """HR feature (B, N, hr_dim) at points x (B, N, 2); t (B, N) used only if the config says so."""
        m = self.model
        d, w0 = m.lr_dim, m.cfg.omega0
        idx, rel = self.grid.nearest(x)
        z = F.embedding(idx, self.maps["spatial"]).view(*x.shape[:2], -1)
        parts = [rel, t.unsqueeze(-1)] if m.cfg.spatial_uses_t else [rel]
        z = z + _linear_parts(parts, m.spatial.first.weight[:, d:] * w0)
        return m.spatial.from_first(z, self.gemm_dtype)

    def _temporal_base(self, x: Tensor, hr_x: Tensor) -> Tensor:
        """The t-independent part (B, N, C) of TemporalINR's first-layer pre-activation at points x with HR
        feature hr_x there: bilinear LR map + [hr_x, offset] terms (computed once per pixel for every t when
        hr_x does not depend on t)."""
        m, cfg = self.model, self.model.cfg
        d, hr = m.lr_dim, cfg.hr_dim
        tw = m.temporal.first.weight * cfg.omega0
        _, rel = self.grid.nearest(x)
        z = self.grid.bilinear(self.maps["temporal"], x)
        return z + _linear_parts([hr_x, rel], torch.cat([tw[:, :hr], tw[:, hr + d : hr + d + 2]], 1), self.gemm_dtype)

    def _prior_at(self, x: Tensor) -> Tensor | None:
        """flow_prior configs: [F_01 | F_10] (B, N, 4) bilinearly sampled at points x (B, N, 2); else None."""
        return None if self.prior is None else self.grid.bilinear(self.prior, x)

    def _flow(self, t: Tensor, z_base: Tensor, prior: Tensor | None) -> Tensor:
        """The flows (B, N, 4) at times t (B, N) from the query points to frame 0 and to frame 1, (x, y) in LR
        pixels: TemporalINR's output, plus the prior's linear-motion flows when `prior` (`_prior_at` at the
        points, (B, N, 4)) is given; z_base = `_temporal_base` at the points (B, N, C)."""
        m = self.model
        z_t = z_base + t.unsqueeze(-1) * (m.temporal.first.weight[:, -1] * m.cfg.omega0)
        flow = m.temporal.from_first(z_t, self.gemm_dtype)
        return flow if prior is None else flow + prior_at_t(prior, t)

    def flows(self, coords: Tensor, t: Tensor | float) -> Tensor:
        """The flows (B, N, 4) = [F_t0 | F_t1] in LR pixels that warp the query points coords (B, N, 2) at
        times t (B, N) or a float to the two inputs (what `query` and `render` use). For inspection."""
        if not torch.is_tensor(t):
            t = coords.new_full(coords.shape[:2], float(t))
        t = t.to(coords.dtype).expand(coords.shape[:2])
        with _fp32(coords):
            x, tt = coords.float(), t.float()
            h = self._spatial(x, tt)
            return self._flow(tt, self._temporal_base(x, h), self._prior_at(x))

    def _warp(self, x: Tensor, flow: Tensor) -> tuple[Tensor, Tensor]:
        """The two warped points x + f1, x + f2 (B, N, 2) (normalized) of points x (B, N, 2)."""
        h, w = self.frames.shape[2:]
        scale = torch.stack([2 / w * x.new_ones(()), 2 / h * x.new_ones(())])  # LR pixels -> normalized
        return x + flow[..., :2] * scale, x + flow[..., 2:] * scale

    def _rgb(self, x: Tensor, t: Tensor, z_base: Tensor) -> Tensor:
        """RGB (B, N, 3) at points x and times t (B, N); z_base = `_temporal_base` at x (t-dependent part).
        Exact per-point form: SpatialINR and the bicubic skip are evaluated at both warped points."""
        x1, x2 = self._warp(x, self._flow(t, z_base, self._prior_at(x)))
        n = x.shape[1]
        h12 = self._spatial(torch.cat([x1, x2], 1), torch.cat([t, t], 1))  # both warped points in one pass
        z = self._decoder_terms(x1, h12[:, :n], 1) + self._decoder_terms(x2, h12[:, n:], 2)
        return self._decode(z, self._skip(x1, x2), t)

    def _skip(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor] | None:
        """rgb_skip configs: frame 0 at warped points x1 and frame 1 at x2 (B, N, 2), bicubic, (B, N, 3) each."""
        if not self.model.cfg.rgb_skip:
            return None
        return _bicubic(self.frames[:, :3], x1), _bicubic(self.frames[:, 3:], x2)

    def _decoder_terms(self, x: Tensor, h: Tensor, k: int) -> Tensor:
        """The decoder's first-layer pre-activation terms (B, N, C) of warped point k (1 or 2) at points x
        (B, N, 2) with HR feature h there (B, N, hr_dim): the bilinear LR map plus the h product."""
        m, cfg = self.model, self.model.cfg
        d, hr = m.lr_dim, cfg.hr_dim
        lo = 0 if k == 1 else hr + d
        w = m.decoder.first.weight[:, lo : lo + hr] * cfg.omega0
        return self.grid.bilinear(self.maps[f"decoder{k}"], x) + _linear_parts([h], w, self.gemm_dtype)

    def _decode(self, z: Tensor, skip: tuple[Tensor, Tensor] | None, t: Tensor) -> Tensor:
        """RGB (B, N, 3) from the decoder's first-layer terms of both warped points z (B, N, C) (see
        `_decoder_terms`), the LR frames sampled there (rgb_skip configs: two (B, N, 3)) and t (B, N)."""
        m = self.model
        t1 = t.unsqueeze(-1)
        out = m.decoder.from_first(z + t1 * (m.decoder.first.weight[:, -1] * m.cfg.omega0), self.gemm_dtype)
        if skip is None:
            return out
        a, b = skip
        tc = t1.clamp(1e-3, 1 - 1e-3)
        alpha = torch.sigmoid(torch.log(tc / (1 - tc)) + out[..., 3:])
        return out[..., :3] + a + (b - a) * alpha

    def query(self, coords: Tensor, t: Tensor | float) -> Tensor:
        """RGB (B, N, 3) (not clamped) at points coords (B, N, 2) and times t (B, N) or a float.

        Chunked along N by `model.max_query_points`; differentiable (used for training); float32.
        """
        if not torch.is_tensor(t):
            t = coords.new_full(coords.shape[:2], float(t))
        t = t.to(coords.dtype).expand(coords.shape[:2])
        step = max(1, self.model.max_query_points)
        outs = []
        with _fp32(coords):
            for i in range(0, coords.shape[1], step):
                x, tt = coords[:, i : i + step].float(), t[:, i : i + step].float()
                outs.append(self._rgb(x, tt, self._temporal_base(x, self._spatial(x, tt))))
        return torch.cat(outs, 1)

    # --------------------------------------------------------------- frames
    def render(
        self,
        size: tuple[int, int],
        t: list[float] | tuple[float, ...] | Tensor,
        region: tuple[int, int, int, int] | None = None,
        exact: bool = False,
    ) -> Tensor:
        """Frames (B, T, 3, h, w) in [0, 1] of an (H, W) = `size` video at times t (each in [0, 1]).

        region = (x, y, w, h) in output pixels renders only that window of the frame (h = H, w = W
        when None). With a t-independent SpatialINR (`spatial_uses_t=False`) and exact=False, frames are
        rendered as the paper does for whole frames (Sec. 3.5): HR feature maps are computed once per output
        pixel and call and warped by bilinear sampling at the flowed points for every t (see the module
        docstring). exact=True (and t-dependent configs) evaluates SpatialINR at every warped point
        instead, as `query` and training do.
        Both are chunked with bounded memory, and a region equals the crop of the full frame. Under
        torch.autocast(cpu/cuda, bfloat16) or with the model's `render_bf16` switch, the per-point GEMMs
        run in bf16 (sines, gathers and first layers stay float32); `compile_render` compiles the chunks.
        """
        height, width = int(size[0]), int(size[1])
        if height < 1 or width < 1:
            raise VideoINRError(f"output size must be positive, got {height}x{width}")
        times = torch.as_tensor(t, dtype=torch.float32).flatten().tolist()
        if not times:
            raise VideoINRError("render needs at least one time t")
        rx, ry, rw, rh = region if region is not None else (0, 0, width, height)
        if rw < 1 or rh < 1 or rx < 0 or ry < 0 or rx + rw > width or ry + rh > height:
            raise VideoINRError(f"region {region} is not inside the {width}x{height} output frame")
        b = self.frames.shape[0]
        dev, dtype = self.frames.device, self.frames.dtype
        coords = make_grid((height, width), (rx, ry, rw, rh), dev).to(dtype)
        n_t = len(times)
        tvec = torch.tensor(times, device=dev, dtype=dtype)
        limit = self.model.max_query_points
        step = max(1, limit // n_t)
        compiled = self._use_compiled()
        state = dataclasses.replace(self, gemm_dtype=torch.bfloat16 if self._render_bf16() else None)
        fn = _compiled if compiled else (lambda f: f)  # noqa: E731
        with _fp32(coords):
            chunks = lambda: range(0, coords.shape[0], step)  # noqa: E731
            if exact or self.model.cfg.spatial_uses_t:
                out = [fn(State._render_chunk)(state, coords[i : i + step], tvec) for i in chunks()]
            else:
                # pass 1, per pixel: HR feature, the flows at every t and how far the warped points reach
                frame = torch.tensor([width, height], device=dev, dtype=dtype)
                q1s, q2s, flows, reach = zip(*(fn(State._pixel_pass)(state, coords[i : i + step], tvec, frame)
                                               for i in chunks()))
                # the HR maps over the output pixels the warped points read (a box around the region)
                box = _warp_box(torch.stack(reach), (height, width))
                if box == (rx, ry, rw, rh):
                    q1, q2 = torch.cat(q1s, 1).view(b, rh, rw, -1), torch.cat(q2s, 1).view(b, rh, rw, -1)
                else:
                    q1, q2 = self._hr_maps((height, width), box, max(1, limit), fn)
                del q1s, q2s
                origin = torch.tensor([box[0], box[1], width, height], device=dev, dtype=dtype)
                out = [fn(State._decode_pass)(state, coords[i : i + step], tvec, f, q1, q2, origin)
                       for i, f in zip(chunks(), flows)]
        rgb = torch.cat(out, 2).clamp_(0, 1)
        return rgb.view(b, n_t, rh, rw, 3).permute(0, 1, 4, 2, 3)

    def _render_bf16(self) -> bool:
        """Whether the per-point GEMMs run in bf16: under the caller's bf16 autocast, or as the model's
        `render_bf16` switch says."""
        dev = self.frames.device
        if torch.is_autocast_enabled(dev.type) and torch.get_autocast_dtype(dev.type) == torch.bfloat16:
            return True
        return bool(self.model.render_bf16)

    def _use_compiled(self) -> bool:
        """Whether this render goes through torch.compile: the model's switch, never under autograd or
        after a compile failure."""
        return bool(self.model.compile_render) and not torch.is_grad_enabled() and not _COMPILED["broken"]

    def _render_chunk(self, coords: Tensor, tvec: Tensor) -> Tensor:
        """Exact form: RGB (B, T, n, 3) at the n points coords (n, 2) for every time in tvec (T,)."""
        b, n_t, n = self.frames.shape[0], tvec.shape[0], coords.shape[0]
        x = coords.unsqueeze(0).expand(b, -1, -1)
        # t-major (all pixels at t0, then t1, ...); repeat, not expand + reshape: no size-1 special case
        # for the compiler (one graph for any number of times)
        tt = tvec.repeat_interleave(n).unsqueeze(0).expand(b, -1)
        xt = x.repeat(1, n_t, 1)
        if self.model.cfg.spatial_uses_t:
            base = self._temporal_base(xt, self._spatial(xt, tt))
        else:  # t-independent HR feature and temporal first-layer terms: once per pixel, reused for every t
            base = self._temporal_base(x, self._spatial(x, None)).repeat(1, n_t, 1)
        return self._rgb(xt, tt, base).view(b, n_t, n, 3)

    def _pixel_pass(self, coords: Tensor, tvec: Tensor, frame: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Warp form, pass 1, at the n pixels coords (n, 2) of an output frame of frame = (W, H) pixels: the
        decoder's first-layer terms of a point that lands on each pixel as warped point 1 and as warped
        point 2, (B, n, C) each (see `_decoder_terms`: they hold the HR feature h, so pass 2 warps them
        instead of h), the flows (B, T, n, 4) at every time in tvec (T,), and the reach of the warped points
        (4,): min x, max x, min y, max y in output pixel units (for `_warp_box`)."""
        b, n_t, n = self.frames.shape[0], tvec.shape[0], coords.shape[0]
        x = coords.unsqueeze(0).expand(b, -1, -1)
        feat = self._spatial(x, None)
        base = self._temporal_base(x, feat).repeat(1, n_t, 1)
        prior = self._prior_at(x)
        prior = None if prior is None else prior.repeat(1, n_t, 1)
        tt = tvec.repeat_interleave(n).unsqueeze(0).expand(b, -1)
        flow = self._flow(tt, base, prior).view(b, n_t, n, 4)
        h, w = self.lr_size
        reach = []
        for axis, n_lr in ((0, w), (1, h)):
            px = ((coords[:, axis] + 1) * frame[axis] - 1) / 2  # output pixel units
            to = px.view(1, 1, -1, 1) + flow[..., axis::2].nan_to_num(0.0) * (frame[axis] / n_lr)
            reach += [to.amin(), to.amax()]
        return self._decoder_terms(x, feat, 1), self._decoder_terms(x, feat, 2), flow, torch.stack(reach)

    def _decode_pass(self, coords: Tensor, tvec: Tensor, flow: Tensor, q1: Tensor, q2: Tensor,
                     origin: Tensor) -> Tensor:
        """Warp form, pass 2: RGB (B, T, n, 3) at pixels coords (n, 2), times tvec (T,), flows (B, T, n, 4):
        the HR maps q1, q2 (B, bh, bw, C) of pass 1 over the box at `origin` (see `_hr_bilinear`) are
        sampled bilinearly at the warped points; the rgb_skip frames stay bicubic-sampled there
        (interpolating a bicubic-upsampled frame instead cost 0.03 dB on Vid4)."""
        b, n_t, n = self.frames.shape[0], tvec.shape[0], coords.shape[0]
        xt = coords.unsqueeze(0).expand(b, -1, -1).repeat(1, n_t, 1)
        tt = tvec.repeat_interleave(n).unsqueeze(0).expand(b, -1)
        x1, x2 = self._warp(xt, flow.reshape(b, n_t * n, 4))
        z = _hr_bilinear(q1, x1, origin) + _hr_bilinear(q2, x2, origin)
        return self._decode(z, self._skip(x1, x2), tt).view(b, n_t, n, 3)

    def _hr_maps(self, size: tuple[int, int], box: tuple[int, int, int, int], step: int, fn) -> tuple[Tensor, Tensor]:
        """Pass 1's two HR maps (B, bh, bw, C) at the output pixels of box = (x, y, w, h)."""
        b = self.frames.shape[0]
        coords = make_grid(size, box, self.frames.device).to(self.frames.dtype)
        tvec = coords.new_zeros(1)
        frame = torch.tensor([size[1], size[0]], device=coords.device, dtype=coords.dtype)
        parts = [fn(State._pixel_pass)(self, coords[i : i + step], tvec, frame)[:2]
                 for i in range(0, coords.shape[0], step)]
        return tuple(torch.cat(p, 1).view(b, box[3], box[2], -1) for p in zip(*parts))


def _warp_box(reach: Tensor, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box (x, y, w, h) of output pixels that bilinear sampling at the warped points reads, from the
    chunks' reaches (K, 4) of `_pixel_pass` (min x, max x, min y, max y in output pixels), clamped to the
    (H, W) = size frame, with one pixel of margin against rounding."""
    lo, hi = reach.amin(0).tolist(), reach.amax(0).tolist()
    out = []
    for axis, n_out in ((0, size[1]), (1, size[0])):
        a = min(max(math.floor(lo[2 * axis]) - 1, 0), n_out - 1)
        b = min(max(math.floor(hi[2 * axis + 1]) + 2, 0), n_out - 1)
        out.append((a, b - a + 1))
    (x0, bw), (y0, bh) = out
    return x0, y0, bw, bh


def _hr_bilinear(maps: Tensor, x: Tensor, origin: Tensor) -> Tensor:
    """Bilinear samples (B, N, C) at normalized points x (B, N, 2) of an HR map (B, bh, bw, C) whose pixel
    (0, 0) is output pixel (origin[0], origin[1]) of a frame of origin[2] x origin[3] (width x height)
    pixels; border padding at the frame's edges (the map covers every pixel the points read)."""
    b, bh, bw, c = maps.shape
    ix = (_unnormalize(x[..., 0], origin[2]).clamp(min=0) - origin[0]).clamp(0, bw - 1)
    iy = (_unnormalize(x[..., 1], origin[3]).clamp(min=0) - origin[1]).clamp(0, bh - 1)
    x0, y0 = ix.floor(), iy.floor()
    fx, fy = (ix - x0).unsqueeze(-1), (iy - y0).unsqueeze(-1)
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=bw - 1), (y0 + 1).clamp(max=bh - 1)
    base = torch.arange(b, device=x.device).view(-1, 1) * (bh * bw)
    y0, y1 = y0 * bw + base, y1 * bw + base
    rows = maps.reshape(b * bh * bw, c)
    top = rows[y0 + x0] * (1 - fx) + rows[y0 + x1] * fx
    bottom = rows[y1 + x0] * (1 - fx) + rows[y1 + x1] * fx
    return top * (1 - fy) + bottom * fy


def _linear_parts(parts: list[Tensor], weight: Tensor, gemm_dtype: torch.dtype | None = None) -> Tensor:
    """F.linear(cat(parts, -1), weight) without a bias. When compiling, narrow parts (K <= 3: offsets, t)
    become broadcast multiply-adds that fuse into the surrounding loop and wide ones separate GEMMs (no
    concatenated copy); eagerly, one GEMM on the concatenation (fewer passes over memory)."""
    if not torch.compiler.is_compiling():
        x = torch.cat(parts, -1) if len(parts) > 1 else parts[0]
        if gemm_dtype is not None and x.shape[-1] > 3:
            return torch.matmul(x.to(gemm_dtype), weight.t().to(gemm_dtype)).float()
        return F.linear(x, weight)
    out, k = None, 0
    for p in parts:
        w = weight[:, k : k + p.shape[-1]]
        k += p.shape[-1]
        if p.shape[-1] <= 3:
            y = sum(p[..., i : i + 1] * w[:, i] for i in range(p.shape[-1]))
        elif gemm_dtype is not None:
            y = torch.matmul(p.to(gemm_dtype), w.t().to(gemm_dtype)).float()
        else:
            y = torch.matmul(p, w.t())
        out = y if out is None else out + y
    return out


_COMPILED: dict = {"fns": {}, "broken": False}


@functools.lru_cache(maxsize=None)
def _compiled(fn):
    """`fn` (a State method taking tensors) through torch.compile (inductor; dynamic shapes: one graph for
    any chunk size, number of times and frame size); falls back to eager for good after any failure to
    compile or run."""
    def run(state: "State", *args: Tensor):
        if _COMPILED["broken"]:
            return fn(state, *args)
        if fn not in _COMPILED["fns"]:
            _COMPILED["fns"][fn] = torch.compile(fn, dynamic=True)
        for a in args:
            if a.dim():
                torch._dynamo.maybe_mark_dynamic(a, 0)
        try:
            with _size_oblivious():
                return _COMPILED["fns"][fn](state, *args)
        except Exception as e:  # noqa: BLE001 - e.g. no C++ compiler: eager gives the same result
            _COMPILED["broken"] = True
            warnings.warn(f"compiled rendering failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                          "rendering eagerly", RuntimeWarning, stacklevel=2)
            return fn(state, *args)
    return run


def _size_oblivious():
    """Compile without specialising sizes of 1 (a render with one time or one pixel), where supported."""
    from contextlib import nullcontext

    cfg = getattr(torch.fx.experimental, "_config", None)
    if cfg is None or not hasattr(cfg, "backed_size_oblivious"):
        return nullcontext()
    return cfg.patch(backed_size_oblivious=True)


def _fp32(ref: Tensor):
    """Context that turns autocast off: the INR part runs in float32 (sin of omega0-scaled bf16
    pre-activations loses too much precision); the encoder's convolutions may still use bf16."""
    return torch.autocast(ref.device.type, enabled=False)


def _bicubic(img: Tensor, x: Tensor) -> Tensor:
    """Bicubic samples (B, N, C) of img (B, C, h, w) at normalized points (B, N, 2), border padding."""
    if torch.compiler.is_compiling():
        return _bicubic_gather(img, x)
    out = F.grid_sample(img, x.unsqueeze(1), mode="bicubic", padding_mode="border", align_corners=False)
    return out[:, :, 0].transpose(1, 2)


# ---------------------------------------------------------------------------------------------------------
# grid_sample as explicit gathers of pixel rows: the same numbers (to float rounding), but inductor fuses
# them into the surrounding loops (its own grid_sample lowering is much slower on CPU). Used when compiling.

def _rows(maps: Tensor) -> Tensor:
    """(B, C, h, w) -> (B*h*w, C) pixel rows (a view for channels-last memory)."""
    b, c, h, w = maps.shape
    return maps.permute(0, 2, 3, 1).reshape(b * h * w, c)


def _unnormalize(x: Tensor, size: int) -> Tensor:
    """Normalized coordinate -> pixel units, align_corners=False (pixel centre i at i)."""
    return ((x + 1) * size - 1) / 2


def _bilinear_gather(maps: Tensor, x: Tensor) -> Tensor:
    """`F.grid_sample(maps, x, 'bilinear', 'border', align_corners=False)` as (B, N, C) by gathers."""
    b, _, h, w = maps.shape
    ix = _unnormalize(x[..., 0], w).clamp(0, w - 1)
    iy = _unnormalize(x[..., 1], h).clamp(0, h - 1)
    x0, y0 = ix.floor(), iy.floor()
    fx, fy = (ix - x0).unsqueeze(-1), (iy - y0).unsqueeze(-1)
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    y0 = y0 * w + torch.arange(b, device=x.device).view(-1, 1) * (h * w)
    y1 = y1 * w + torch.arange(b, device=x.device).view(-1, 1) * (h * w)
    rows = _rows(maps)
    top = rows[y0 + x0] * (1 - fx) + rows[y0 + x1] * fx
    bottom = rows[y1 + x0] * (1 - fx) + rows[y1 + x1] * fx
    return top * (1 - fy) + bottom * fy


def _cubic_weights(t: Tensor) -> list[Tensor]:
    """grid_sample's bicubic (A = -0.75) weights of taps -1, 0, 1, 2 at fractional offset t."""
    a = -0.75
    near = lambda v: ((a + 2) * v - (a + 3)) * v * v + 1  # noqa: E731 - |v| <= 1
    far = lambda v: ((a * v - 5 * a) * v + 8 * a) * v - 4 * a  # noqa: E731 - 1 < |v| < 2
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _bicubic_gather(img: Tensor, x: Tensor) -> Tensor:
    """`F.grid_sample(img, x, 'bicubic', 'border', align_corners=False)` as (B, N, C) by gathers."""
    b, _, h, w = img.shape
    ix, iy = _unnormalize(x[..., 0], w), _unnormalize(x[..., 1], h)
    x0, y0 = ix.floor(), iy.floor()
    wx, wy = _cubic_weights((ix - x0).unsqueeze(-1)), _cubic_weights((iy - y0).unsqueeze(-1))
    x0, y0 = x0.long(), y0.long()
    base = torch.arange(b, device=x.device).view(-1, 1) * (h * w)
    rows = _rows(img)
    xs = [(x0 + (j - 1)).clamp(0, w - 1) for j in range(4)]
    out = None
    for i in range(4):
        y = (y0 + (i - 1)).clamp(0, h - 1) * w + base
        row = sum(rows[y + xs[j]] * wx[j] for j in range(4))
        out = row * wy[i] if out is None else out + row * wy[i]
    return out
