"""VideoINR: encode a frame pair once, then decode any space-time coordinate to RGB.

Coordinates are normalized with align_corners=False (pixel centre i of a length-N axis is at
(2i + 1)/N - 1), last dim (x, y). The continuous representation is the paper's per-coordinate form
(Eq. 5-6): for a query (x, t)
    h(x)      = SpatialINR(nearest LR feature and pixels, offset to that cell [, t])
    f1, f2    = TemporalINR(h(x), bilinear LR feature and pixels at x, offset, t)      (LR pixels)
    x_k       = x + f_k
    rgb       = Decoder([h(x_k), bilinear LR feature and pixels at x_k] for k = 1, 2, t)
so every point is independent: chunked, region and full renders agree, and training on random points or on
whole patches runs the same code. The first layer of each SIREN is linear in its LR-grid inputs, so that
product is computed once per pair at LR resolution and sampled (`_LRMaps`): per output point only the
small MLP layers remain.

Speed (see benchmarks/RESULTS.md): per point the work is small GEMMs plus elementwise sin/add/gathers, which
eager PyTorch runs one op at a time through memory. Large inference renders on CPU therefore go through a
`torch.compile`d copy of the per-chunk function (inductor fuses the sin/bias/gather/blend ops into a few
vectorised loops; grid_sample is written as explicit gathers there so it fuses too). See `COMPILE_*` below:
compiling costs ~1 minute once per process (seconds when inductor's on-disk cache is warm), so it starts only
after a model has spent `COMPILE_AFTER_SECONDS` rendering eagerly (then at most about twice the best choice's
time whatever the job's length); set VIDEOINR_COMPILE=0 to never compile or =1 to compile from the first
render. Compiled and eager outputs agree to float rounding (~1e-6). Any compile failure (e.g. no C++
compiler) warns once and falls back to eager.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
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
from videoinr.models.siren import Siren

PAD_MULTIPLE = 4  # two stride-2 pyramid levels
# Compiled rendering (CPU, no autograd) starts after a model has rendered eagerly for this long: about the
# cold compile time, so short jobs (tests, previews, a short clip) never pay it and long ones pay it once.
COMPILE_AFTER_SECONDS = 60.0
# Render chunks on CPU: at most this many (pixel, t) points (and `max_query_points`), so a chunk's
# activations stay in cache (measured: 2^13-2^14 best; 2^15 5-15% and 2^16 30% slower).
CPU_RENDER_CHUNK = 1 << 14


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
        self.max_query_points = 1 << 16  # points per chunk when rendering; bounds peak memory
        self.compile_render: bool | None = None  # None: auto (see COMPILE_AFTER_SECONDS); True/False: force
        self.eager_render_seconds = 0.0  # time spent in eager renders, for the auto compile decision
        lr_dim = 3 * cfg.nf + 6  # LR feature (3 time steps) + both LR frames' pixels
        self.lr_dim = lr_dim
        self.encoder = ZoomingSlowMoEncoder(cfg.nf, cfg.groups, cfg.front_blocks, cfg.back_blocks)
        # Input layouts (first-layer columns):
        #   spatial:  [lr | rel(2) | t(1) if spatial_uses_t]
        #   temporal: [hr | lr | rel(2) | t(1)]
        #   decoder:  [hr1 | lr1 | hr2 | lr2 | t(1)]
        self.spatial = Siren(lr_dim + 2 + int(cfg.spatial_uses_t), cfg.spatial_hidden, cfg.hr_dim, cfg.omega0)
        self.temporal = Siren(cfg.hr_dim + lr_dim + 3, cfg.temporal_hidden, 4, cfg.omega0)
        out_dim = 4 if cfg.rgb_skip else 3
        self.decoder = Siren(2 * (cfg.hr_dim + lr_dim) + 1, cfg.decoder_hidden, out_dim, cfg.omega0)

    # ------------------------------------------------------------------ encode
    def encode(self, frame0: Tensor, frame1: Tensor) -> "State":
        """Encode a pair of frames (B, 3, h, w) in [0, 1] (any h, w >= 1) into a renderable State."""
        if frame0.shape != frame1.shape or frame0.dim() != 4 or frame0.shape[1] != 3:
            raise VideoINRError(f"encode expects two (B, 3, h, w) frames of one shape, got "
                                f"{tuple(frame0.shape)} and {tuple(frame1.shape)}")
        b, _, h, w = frame0.shape
        ph, pw = (-h) % PAD_MULTIPLE, (-w) % PAD_MULTIPLE
        pad = lambda f: F.pad(f, (0, pw, 0, ph), mode="replicate") if ph or pw else f  # noqa: E731
        feat = self.encoder(pad(frame0), pad(frame1))[:, :, :h, :w]  # the only part autocast may run in bf16
        with _fp32(feat):
            frames = torch.cat([frame0, frame1], 1).float()
            lr = torch.cat([feat.float(), frames], 1).permute(0, 2, 3, 1).reshape(b * h * w, self.lr_dim)
            # channels-last: pixel rows for the gathers of the compiled renderer, a view for grid_sample
            frames = frames.contiguous(memory_format=torch.channels_last)
            return State(self, self._project(lr, b, h, w), frames)

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

    def _rgb(self, x: Tensor, t: Tensor, z_base: Tensor) -> Tensor:
        """RGB (B, N, 3) at points x and times t (B, N); z_base = `_temporal_base` at x (t-dependent part)."""
        m, cfg = self.model, self.model.cfg
        d, hr, w0 = m.lr_dim, cfg.hr_dim, cfg.omega0
        dw = m.decoder.first.weight * w0
        t1 = t.unsqueeze(-1)
        z_t = z_base + t1 * (m.temporal.first.weight[:, -1] * w0)
        flow = m.temporal.from_first(z_t, self.gemm_dtype)  # (B, N, 4): two displacements in LR pixels
        h, w = self.frames.shape[2:]
        n = x.shape[1]
        scale = torch.stack([2 / w * x.new_ones(()), 2 / h * x.new_ones(())])  # LR pixels -> normalized
        x12 = torch.cat([x + flow[..., :2] * scale, x + flow[..., 2:] * scale], 1)  # (B, 2N, 2)
        h12 = self._spatial(x12, torch.cat([t, t], 1))  # both warped points in one pass
        x1, x2, h1, h2 = x12[:, :n], x12[:, n:], h12[:, :n], h12[:, n:]
        z_d = self.grid.bilinear(self.maps["decoder1"], x1) + self.grid.bilinear(self.maps["decoder2"], x2)
        z_d = z_d + _linear_parts([h1, h2, t1], torch.cat([dw[:, :hr], dw[:, hr + d : 2 * hr + d], dw[:, -1:]], 1),
                                  self.gemm_dtype)
        out = m.decoder.from_first(z_d, self.gemm_dtype)
        if not cfg.rgb_skip:
            return out
        a = _bicubic(self.frames[:, :3], x1)
        b = _bicubic(self.frames[:, 3:], x2)
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
    ) -> Tensor:
        """Frames (B, T, 3, h, w) in [0, 1] of an (H, W) = `size` video at times t (each in [0, 1]).

        region = (x, y, w, h) in output pixels renders only that window of the frame (h = H, w = W
        when None). Each chunk of pixels is rendered for all t at once; the HR spatial feature is reused
        across t when the config has no t in SpatialINR. Under torch.autocast(cpu/cuda, bfloat16) the
        per-point GEMMs run in bf16 (sines, gathers and first layers stay float32).
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
        if dev.type == "cpu":
            limit = min(limit, CPU_RENDER_CHUNK)
        step = max(1, limit // n_t)
        bf16 = torch.is_autocast_enabled(dev.type) and torch.get_autocast_dtype(dev.type) == torch.bfloat16
        state = dataclasses.replace(self, gemm_dtype=torch.bfloat16 if bf16 else None)
        chunk = self._chunk_fn()
        t0 = time.perf_counter()
        with _fp32(coords):
            out = [chunk(state, coords[i : i + step], tvec) for i in range(0, coords.shape[0], step)]
        if chunk is State._render_chunk:
            self.model.eager_render_seconds += time.perf_counter() - t0
        rgb = torch.cat(out, 2).clamp_(0, 1)
        return rgb.view(b, n_t, rh, rw, 3).permute(0, 1, 4, 2, 3)

    def _chunk_fn(self):
        """The per-chunk render function to use now: compiled or eager (see the module docstring)."""
        m = self.model
        want = m.compile_render
        if want is None:
            env = os.environ.get("VIDEOINR_COMPILE", "").strip()
            if env in ("0", "1"):
                want = env == "1"
            else:
                want = self.frames.device.type == "cpu" and m.eager_render_seconds >= COMPILE_AFTER_SECONDS
        if not want or torch.is_grad_enabled() or _COMPILED["broken"]:
            return State._render_chunk
        return _compiled_chunk

    def _render_chunk(self, coords: Tensor, tvec: Tensor) -> Tensor:
        """RGB (B, T, n, 3) at the n points coords (n, 2) for every time in tvec (T,)."""
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


_COMPILED: dict = {"fn": None, "broken": False}


def _compiled_chunk(state: "State", coords: Tensor, tvec: Tensor) -> Tensor:
    """`State._render_chunk` through torch.compile (inductor; dynamic shapes: one graph for any chunk size,
    number of times and LR size); falls back to eager for good after any failure to compile or run."""
    if _COMPILED["fn"] is None:
        _COMPILED["fn"] = torch.compile(State._render_chunk, dynamic=True)
    torch._dynamo.maybe_mark_dynamic(coords, 0)
    torch._dynamo.maybe_mark_dynamic(tvec, 0)
    try:
        with _size_oblivious():
            return _COMPILED["fn"](state, coords, tvec)
    except Exception as e:  # noqa: BLE001 - e.g. no C++ compiler: eager gives the same result
        _COMPILED["broken"] = True
        warnings.warn(f"compiled rendering failed ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                      "rendering eagerly", RuntimeWarning, stacklevel=2)
        return State._render_chunk(state, coords, tvec)


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
