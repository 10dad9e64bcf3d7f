"""`State`: what `VideoINR.encode` computed for one frame pair, and the decoding of points and frames from it.

`State.query` evaluates the per-coordinate form (see `models/videoinr.py`) at any points and times; it is
differentiable and what training uses. Whole frames (`State.render`) use the paper's frame form (Sec. 3.5)
when SpatialINR does not take t: h is computed once per output pixel (pass 1, with the flows of every t),
and the decoder's first-layer terms of h(x_k) and of the LR feature at x_k are read from HR maps of those
terms by bilinear sampling at the warped points (pass 2) instead of running SpatialINR at each of them
(as accurate as the exact form and faster: docs/MEASUREMENTS.md). The maps cover the box of pixels the warped points read, so regions
and chunks still agree exactly with the full frame. `render(..., exact=True)` evaluates the per-point form.

The model only obeys its numeric switches (`compile_render`, `encode_bf16`, `render_bf16`; all off by
default: float32, eager); the commands decide them once per job (`videoinr.runtime.inference_policy`).
`compile_render` sends the render chunks through torch.compile (`models/compile.py`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from videoinr.errors import VideoINRError
from videoinr.models.compile import _COMPILED, _compiled
from videoinr.models.prior import prior_at_t
from videoinr.models.sampling import _bicubic, _Grid, _hr_bilinear, _warp_box, make_grid

if TYPE_CHECKING:
    from videoinr.models.videoinr import VideoINR


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
        sampled bilinearly at the warped points; the rgb_skip frames stay bicubic-sampled there (sharper than
        interpolating a bicubic-upsampled frame: docs/MEASUREMENTS.md)."""
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


def _fp32(ref: Tensor):
    """Context that turns autocast off: the INR part runs in float32 (sin of omega0-scaled bf16
    pre-activations loses too much precision); the encoder's convolutions may still use bf16."""
    return torch.autocast(ref.device.type, enabled=False)
