"""`State`, one encoded frame pair, and the fast renderer behind `State.render` / `State.query`: the
reference model's function (`VideoINR.reference_render` / `reference_query`, models/videoinr.py), computed fast.

It uses only the model's public parts (`model.inr`: the three SIRENs and their `InputLayout`; `model.cfg`)
and the pair's `Geometry`, and is tested equal to `VideoINR.reference_render` / `reference_query`.
Where the speed comes from:
- LR-grid projections (`project`): each SIREN's first layer is linear in its LR-grid inputs, so that
  product is computed once per pair at LR resolution and sampled (a linear map commutes with nearest and
  bilinear sampling); per output point only the small MLP layers remain. With zeros padding (`official`)
  biases and the x4 frames stay out of the sampled maps and are added per point.
- The frame form (Sec. 3.5), in two passes: pass 1 per output pixel computes h, the flows and the
  decoder's first-layer terms of h (the "HR maps"; `videoinr`: also of the LR feature at the pixel), pass 2
  samples those maps bilinearly at the warped points. The maps cover the box of pixels the warped points
  read (`_warp_box`), so regions and chunks agree exactly with the full frame. When SpatialINR takes t the
  maps are made per t; otherwise once for every t.
- Chunks of at most `model.max_query_points` (pixel, t) points (bounded memory), `torch.compile` of the
  chunk functions (`compile.py`; grid_sample as gathers there, `sampling.py`), bf16 GEMMs.
The model only obeys its numeric switches (`compile_render`, `render_bf16`; off by default: float32, eager);
the commands decide them once per job (`videoinr.runtime.inference_policy`).
"""
from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videoinr.errors import VideoINRError
from videoinr.models.compile import _COMPILED, _compiled
from videoinr.models.conventions import Geometry, nearest, warp
from videoinr.models.prior import prior_at_t
from videoinr.models.sampling import _bicubic, _bilinear, _flat, _hr_bilinear, _unnormalize, _warp_box


@dataclass
class State:
    """One encoded frame pair. Tensors are float32, channels-last, on the decoding grid (h', w') of
    `geometry` (the input frames' own size, or the zero-padded one for `official` models)."""

    model: nn.Module  # the VideoINR that encoded the pair (its `inr`, `cfg` and switches are read)
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
        return render(self, size, t, region, exact)

    def query(self, coords: Tensor, t: Tensor | float, size: tuple[int, int] | None = None) -> Tensor:
        """RGB (B, N, 3) (not clamped) at points coords (B, N, 2) ((x, y) normalized over the input frames,
        align_corners=False) and times t (B, N) or a float. Differentiable (training uses it), float32,
        chunked. `official` models need `size`, the (H, W) output the points belong to."""
        return query(self, coords, t, size)

    def flows(self, coords: Tensor, t: Tensor | float) -> Tensor:
        """The flows (B, N, 4) = [to frame 0 | to frame 1], (x, y) each, at points coords (B, N, 2) and
        times t (LR pixels for `videoinr` models, output pixels for `official` ones). For inspection."""
        return flows(self, coords, t)


# ------------------------------------------------------------------ LR-grid projections
def project(st: State) -> dict[str, Tensor]:
    """First-layer pre-activations (times omega0) of the LR-grid inputs, cached in the State: `spatial`
    (nearest-sampled, biases folded in) as (B*h*w, C) rows; `temporal`, `decoder0`, `decoder1` (bilinear-
    sampled) as (B, C, h, w), channels-last. `videoinr`: of [feat | rgb], biases folded into `temporal` and
    `decoder0`; `official` (zeros padding): of feat only, biases added per point (`_bias`)."""
    if "maps" in st.cache:
        return st.cache["maps"]
    inr, official = st.model.inr, st.geometry.official
    lay = inr.layout
    b, _, h, w = st.feat.shape
    lr = torch.cat([st.feat, st.frames], 1).permute(0, 2, 3, 1).reshape(b * h * w, -1)
    s, t, d = inr.spatial.first, inr.temporal.first, inr.decoder.first

    def cols(weight: Tensor, siren: str, feat: str, rgb: str) -> Tensor:
        wf = weight[:, lay.columns(siren, feat)]
        wr = weight[:, lay.columns(siren, rgb)]
        return torch.cat([wf, torch.zeros_like(wr) if official else wr], 1)

    weight = torch.cat([s.weight[:, lay.columns("spatial", "feat", "rgb")], cols(t.weight, "temporal", "feat", "rgb"),
                        cols(d.weight, "decoder", "feat0", "rgb0"), cols(d.weight, "decoder", "feat1", "rgb1")])
    zero = torch.zeros_like
    bias = torch.cat([s.bias, zero(t.bias) if official else t.bias, zero(d.bias) if official else d.bias,
                      zero(d.bias)])
    maps = torch.addmm(bias, lr, weight.t()).mul_(st.model.cfg.omega0)
    names = ("spatial", "temporal", "decoder0", "decoder1")
    out = dict(zip(names, torch.split(maps, (s.out_features, t.out_features, d.out_features, d.out_features), 1)))
    out["spatial"] = out["spatial"].contiguous()
    for name in names[1:]:  # bilinear-sampled maps: (B, C, h, w), channels-last memory (rows of C)
        out[name] = out[name].reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    st.cache["maps"] = out
    return out


def _w(st: State, siren: str, first: str, last: str | None = None) -> Tensor:
    """omega0 * the first-layer weight columns of blocks first..last of a SIREN."""
    mlp = getattr(st.model.inr, siren)
    return mlp.first.weight[:, st.model.inr.layout.columns(siren, first, last)] * st.model.cfg.omega0


def _bias(st: State, siren: str) -> Tensor | float:
    """omega0 * the first-layer bias of a SIREN where the maps leave it out (`official`), else 0."""
    return getattr(st.model.inr, siren).first.bias * st.model.cfg.omega0 if st.geometry.official else 0.0


# ------------------------------------------------------------------ per point
def _spatial(st: State, x: Tensor, t: Tensor | None) -> Tensor:
    """HR feature (B, N, hr_dim) at grid points x (B, N, 2); t (B, N) used only if the config says so."""
    maps, inr = project(st), st.model.inr
    _, _, h, w = st.frames.shape
    ix, iy, rel = nearest(x, h, w, st.geometry.official)
    z = F.embedding(_flat(ix, iy, h, w), maps["spatial"]).view(*x.shape[:2], -1)
    if st.model.cfg.spatial_uses_t:
        z = z + _linear_parts([rel, t.unsqueeze(-1)], _w(st, "spatial", "rel", "t"))
    else:
        z = z + _linear_parts([rel], _w(st, "spatial", "rel"))
    return inr.spatial.from_first(z, st.gemm_dtype)


def _rgb_terms(st: State, x: Tensor, siren: str, block: str) -> Tensor | float:
    """official: the first-layer terms of the x4 frames sampled at grid points x; videoinr: 0 (in the maps)."""
    if st.hr_frames is None:
        return 0.0
    return _linear_parts([_bilinear(st.hr_frames, x, "zeros")], _w(st, siren, block), st.gemm_dtype)


def _temporal_base(st: State, x: Tensor, hr_x: Tensor) -> Tensor:
    """The t-independent part (B, N, C) of TemporalINR's first-layer pre-activation at grid points x with HR
    feature hr_x there (computed once per pixel for every t when hr_x does not depend on t)."""
    _, _, h, w = st.frames.shape
    rel = nearest(x, h, w, st.geometry.official)[2]
    z = _bilinear(project(st)["temporal"], x, st.geometry.padding)
    wz = torch.cat([_w(st, "temporal", "hr"), _w(st, "temporal", "rel")], 1)
    z = z + _linear_parts([hr_x, rel], wz, st.gemm_dtype) + _rgb_terms(st, x, "temporal", "rgb")
    return z + _bias(st, "temporal")


def _prior_at(st: State, x: Tensor) -> Tensor | None:
    """flow_prior configs: [F_01 | F_10] (B, N, 4) bilinearly sampled at points x (B, N, 2); else None."""
    return None if st.prior is None else _bilinear(st.prior, x, "border")


def _flow(st: State, t: Tensor, z_base: Tensor, prior: Tensor | None) -> Tensor:
    """The flows (B, N, 4) at times t (B, N): TemporalINR's output (+ the prior's linear motion when `prior`,
    `_prior_at` the points, is given); z_base = `_temporal_base` at the points (B, N, C)."""
    z_t = z_base + t.unsqueeze(-1) * _w(st, "temporal", "t")[:, 0]
    flow = st.model.inr.temporal.from_first(z_t, st.gemm_dtype)
    return flow if prior is None else flow + prior_at_t(prior, t)


def _warp(st: State, x: Tensor, flow: Tensor, out_wh: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The two warped points (B, N, 2) of grid points x; out_wh (W', H'): the output grid (official)."""
    _, _, h, w = st.frames.shape
    return warp(x, flow, st.geometry.official, (h, w), out_wh)


def _hr_terms(st: State, h: Tensor, k: int) -> Tensor:
    """The decoder's first-layer terms (B, N, C) of HR feature h (B, N, hr_dim) read at warped point k."""
    return _linear_parts([h], _w(st, "decoder", f"hr{k}"), st.gemm_dtype)


def _lr_terms(st: State, x: Tensor, k: int) -> Tensor:
    """The decoder's first-layer terms (B, N, C) of the LR feature and frames read at warped point k, grid
    points x (B, N, 2)."""
    return _bilinear(project(st)[f"decoder{k}"], x, st.geometry.padding) + _rgb_terms(st, x, "decoder", f"rgb{k}")


def _skip(st: State, x0: Tensor, x1: Tensor) -> tuple[Tensor, Tensor] | None:
    """rgb_skip configs: frame 0 at warped points x0 and frame 1 at x1 (B, N, 2), bicubic, (B, N, 3) each."""
    if not st.model.cfg.rgb_skip:
        return None
    return _bicubic(st.frames[:, :3], x0), _bicubic(st.frames[:, 3:], x1)


def _decode(st: State, z: Tensor, skip: tuple[Tensor, Tensor] | None, t: Tensor) -> Tensor:
    """RGB (B, N, 3) from the decoder's first-layer terms of both warped points z (B, N, C), the LR frames
    sampled there (rgb_skip configs: two (B, N, 3)) and t (B, N)."""
    t1 = t.unsqueeze(-1)
    z = z + t1 * _w(st, "decoder", "t")[:, 0] + _bias(st, "decoder")
    out = st.model.inr.decoder.from_first(z, st.gemm_dtype)
    if skip is None:
        return out
    a, b = skip
    tc = t1.clamp(1e-3, 1 - 1e-3)
    alpha = torch.sigmoid(torch.log(tc / (1 - tc)) + out[..., 3:])
    return out[..., :3] + a + (b - a) * alpha


def _rgb_exact(st: State, x: Tensor, t: Tensor, z_base: Tensor) -> Tensor:
    """videoinr, per-point form: RGB (B, N, 3) at grid points x and times t (B, N), SpatialINR and the
    bicubic skip evaluated at both warped points; z_base = `_temporal_base` at x."""
    x0, x1 = _warp(st, x, _flow(st, t, z_base, _prior_at(st, x)))
    n = x.shape[1]
    h01 = _spatial(st, torch.cat([x0, x1], 1), torch.cat([t, t], 1))  # both warped points in one pass
    z = (_lr_terms(st, x0, 0) + _hr_terms(st, h01[:, :n], 0)) + (_lr_terms(st, x1, 1) + _hr_terms(st, h01[:, n:], 1))
    return _decode(st, z, _skip(st, x0, x1), t)


def _hr_terms_on_grid(st: State, xk: Tensor, t: Tensor, k: int, out_wh: Tensor) -> Tensor:
    """official, per point: the decoder's terms of the HR map of the output grid out_wh = (W', H') read at
    warped points xk (B, N, 2): SpatialINR at the 4 pixel centres around each point, bilinear, zeros outside."""
    ix, iy = _unnormalize(xk[..., 0], out_wh[0]), _unnormalize(xk[..., 1], out_wh[1])
    x0, y0 = ix.floor(), iy.floor()
    out = 0.0
    for dy in (0, 1):
        for dx in (0, 1):
            px, py = x0 + dx, y0 + dy
            wgt = (1 - (ix - px).abs()) * (1 - (iy - py).abs())
            inside = (px >= 0) & (px < out_wh[0]) & (py >= 0) & (py < out_wh[1])
            centre = torch.stack([(2 * px + 1) / out_wh[0] - 1, (2 * py + 1) / out_wh[1] - 1], -1)
            hk = _hr_terms(st, _spatial(st, centre, t), k)
            out = out + hk * (wgt * inside).unsqueeze(-1)
    return out


def _rgb_official(st: State, x: Tensor, t: Tensor, out_wh: Tensor) -> Tensor:
    """official, per point: RGB (B, N, 3) at grid points x and times t (B, N) of an output grid out_wh."""
    base = _temporal_base(st, x, _spatial(st, x, t))
    x0, x1 = _warp(st, x, _flow(st, t, base, None), out_wh)
    z = _hr_terms_on_grid(st, x0, t, 0, out_wh) + _hr_terms_on_grid(st, x1, t, 1, out_wh)
    return _decode(st, z + _lr_terms(st, x0, 0) + _lr_terms(st, x1, 1), None, t)


def _times(coords: Tensor, t: Tensor | float) -> Tensor:
    """t as (B, N) float32 for points coords (B, N, 2)."""
    if not torch.is_tensor(t):
        t = coords.new_full(coords.shape[:2], float(t))
    return t.to(torch.float32).expand(coords.shape[:2])


def query(st: State, coords: Tensor, t: Tensor | float, size: tuple[int, int] | None = None) -> Tensor:
    """`State.query`: RGB (B, N, 3) at points coords (B, N, 2) over the input frames, times t."""
    t = _times(coords, t)
    g = st.geometry
    grid = g.query_grid(size)
    out_wh = None if grid is None else coords.new_tensor([grid[1], grid[0]], dtype=torch.float32)
    step = max(1, st.model.max_query_points)
    outs = []
    with _fp32(coords):
        for i in range(0, coords.shape[1], step):
            x, tt = g.to_grid(coords[:, i : i + step].float()), t[:, i : i + step]
            if g.official:
                outs.append(_rgb_official(st, x, tt, out_wh))
            else:
                outs.append(_rgb_exact(st, x, tt, _temporal_base(st, x, _spatial(st, x, tt))))
    return torch.cat(outs, 1)


def flows(st: State, coords: Tensor, t: Tensor | float) -> Tensor:
    """`State.flows`: TemporalINR's flows (+ prior) at points coords (B, N, 2) over the input frames."""
    t = _times(coords, t)
    with _fp32(coords):
        x = st.geometry.to_grid(coords.float())
        return _flow(st, t, _temporal_base(st, x, _spatial(st, x, t)), _prior_at(st, x))


# ------------------------------------------------------------------ frames
def render(st: State, size: tuple[int, int], t, region: tuple[int, int, int, int] | None = None,
           exact: bool = False) -> Tensor:
    """`State.render`: frames (B, T, 3, h, w) (see there)."""
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise VideoINRError(f"output size must be positive, got {height}x{width}")
    times = torch.as_tensor(t, dtype=torch.float32).flatten().tolist()
    if not times:
        raise VideoINRError("render needs at least one time t")
    rx, ry, rw, rh = region if region is not None else (0, 0, width, height)
    if rw < 1 or rh < 1 or rx < 0 or ry < 0 or rx + rw > width or ry + rh > height:
        raise VideoINRError(f"region {region} is not inside the {width}x{height} output frame")
    g = st.geometry
    if exact and g.official:
        raise VideoINRError("render(exact=True) is the per-point form of 'videoinr' models; 'official' ones "
                            "decode whole frames by the released code's rule only")
    grid = g.output_grid((height, width))  # official: the padded frame's pixel grid
    b, dev = st.frames.shape[0], st.frames.device
    coords = g.pixel_points(grid, (rx, ry, rw, rh), dev)[0]
    st = dataclasses.replace(st, gemm_dtype=torch.bfloat16 if _render_bf16(st) else None)  # shares the cache
    fn = _compiled if _use_compiled(st) else _eager
    with _fp32(coords):
        project(st)
        if exact:
            step = max(1, st.model.max_query_points // len(times))
            tvec = torch.tensor(times, device=dev)
            out = torch.cat([fn(_exact_chunk)(st, coords[i : i + step], tvec)
                             for i in range(0, coords.shape[0], step)], 2)
        else:  # per-t HR maps when SpatialINR takes t, else one set for every t
            groups = [[v] for v in times] if st.model.cfg.spatial_uses_t else [times]
            out = torch.cat([_frame_form(st, coords, torch.tensor(ts, device=dev), grid, (rx, ry, rw, rh), fn)
                             for ts in groups], 1)
    out = out.view(b, len(times), rh, rw, 3).permute(0, 1, 4, 2, 3)
    return out if g.official else out.clamp_(0, 1)


def _frame_form(st: State, coords: Tensor, tvec: Tensor, grid: tuple[int, int], region: tuple, fn) -> Tensor:
    """RGB (B, T, n, 3) of the pixels coords (n, 2) of `region` on the output grid (H', W') at times tvec
    (T,): pass 1 (HR maps, flows, reach), the box of pixels the warped points read, pass 2."""
    step = max(1, max(1, st.model.max_query_points) // tvec.shape[0])
    chunks = range(0, coords.shape[0], step)
    frame = torch.tensor([grid[1], grid[0]], device=coords.device, dtype=coords.dtype)
    maps = _map_buffers(st, coords.shape[0], fn)  # pass 1 writes the HR maps there, chunk by chunk
    flows_, reach = zip(*(fn(_pixel_pass)(st, coords[i : i + step], tvec, frame, *_map_rows(maps, i, step))
                          for i in chunks))
    box = _warp_box(torch.stack(reach), grid)
    rx, ry, rw, rh = region
    if box == (rx, ry, rw, rh):
        q0, q1 = _as_maps(maps, rh, rw)
    else:
        del maps
        q0, q1 = _hr_maps(st, grid, box, tvec, fn)
    origin = torch.tensor([box[0], box[1], grid[1], grid[0]], device=coords.device, dtype=coords.dtype)
    return torch.cat([fn(_decode_pass)(st, coords[i : i + step], tvec, f, q0, q1, origin)
                      for i, f in zip(chunks, flows_)], 2)


_BUFFERS = threading.local()  # per thread: {"maps": (q0, q1)}, the last render call's HR map buffers


def _eager(fn):
    """The renderer's functions as they are (the eager counterpart of `compile._compiled`)."""
    return fn


def _map_buffers(st: State, n: int, fn=_eager) -> tuple[Tensor, Tensor]:
    """Two buffers (n, B, C) for pass 1's HR maps of n pixels (C: the decoder's first layer), this thread's
    from the last render call when it had the same size and dtype (at 1080p they are 268 MB each in
    float32: fresh blocks that size are mapped and page-faulted in on every call; reusing them and writing
    them in place instead of joining chunks made a 1080p x2 call ~25% faster, docs/MEASUREMENTS.md). bf16
    in the compiled renderer with bf16 GEMMs (fn: `_compiled`; half the memory traffic of pass 2's
    gathers, ~10% faster, Vid4 unchanged), else float32. They are only read inside the render call that
    fills them, never returned, so reuse is safe within a thread. Under autograd, fresh ones. Pixel-major,
    so a chunk's rows (`_map_rows`) have the same strides whatever its length (the compiled pass 1 is not
    specialised on them)."""
    shape = (n, st.frames.shape[0], st.model.inr.decoder.first.out_features)
    dtype = st.gemm_dtype if st.gemm_dtype is not None and fn is not _eager else torch.float32
    dev = st.frames.device
    if torch.is_grad_enabled():
        return torch.empty(shape, dtype=dtype, device=dev), torch.empty(shape, dtype=dtype, device=dev)
    old = _BUFFERS.__dict__.pop("maps", None)
    if (old is None or tuple(old[0].shape) != shape or old[0].dtype != dtype or old[0].device != dev
            or old[0].is_inference() != torch.is_inference_mode_enabled()):  # (inference tensors: written there only)
        del old  # free the old ones before allocating their replacement
        old = (torch.empty(shape, dtype=dtype, device=dev), torch.empty(shape, dtype=dtype, device=dev))
    _BUFFERS.maps = old
    return old


def _map_rows(maps: tuple[Tensor, Tensor], start: int, step: int) -> tuple[Tensor, Tensor]:
    """The (B, m, C) views of pixels start .. start + step of both map buffers (pass 1 writes them)."""
    return tuple(q[start : start + step].transpose(0, 1) for q in maps)


def _as_maps(maps: tuple[Tensor, Tensor], h: int, w: int) -> tuple[Tensor, Tensor]:
    """Both map buffers of h x w pixels as HR maps (B, h, w, C) (views)."""
    return tuple(q.view(h, w, *q.shape[1:]).permute(2, 0, 1, 3) for q in maps)


def _render_bf16(st: State) -> bool:
    """Whether the per-point GEMMs run in bf16: under the caller's bf16 autocast, or as the model's
    `render_bf16` switch says."""
    dev = st.frames.device
    if torch.is_autocast_enabled(dev.type) and torch.get_autocast_dtype(dev.type) == torch.bfloat16:
        return True
    return bool(st.model.render_bf16)


def _use_compiled(st: State) -> bool:
    """Whether this render goes through torch.compile: the model's switch, never under autograd or after a
    compile failure."""
    return bool(st.model.compile_render) and not torch.is_grad_enabled() and not _COMPILED["broken"]


def _exact_chunk(st: State, coords: Tensor, tvec: Tensor) -> Tensor:
    """videoinr, per-point form: RGB (B, T, n, 3) at the n grid points coords (n, 2) for every time in tvec."""
    b, n_t, n = st.frames.shape[0], tvec.shape[0], coords.shape[0]
    x = coords.unsqueeze(0).expand(b, -1, -1)
    # t-major (all pixels at t0, then t1, ...); repeat, not expand + reshape: no size-1 special case
    # for the compiler (one graph for any number of times)
    tt = tvec.repeat_interleave(n).unsqueeze(0).expand(b, -1)
    xt = x.repeat(1, n_t, 1)
    if st.model.cfg.spatial_uses_t:
        base = _temporal_base(st, xt, _spatial(st, xt, tt))
    else:  # t-independent HR feature and temporal first-layer terms: once per pixel, reused for every t
        base = _temporal_base(st, x, _spatial(st, x, None)).repeat(1, n_t, 1)
    return _rgb_exact(st, xt, tt, base).view(b, n_t, n, 3)


def _pixel_pass(st: State, coords: Tensor, tvec: Tensor, frame: Tensor, q0_out: Tensor,
                q1_out: Tensor) -> tuple[Tensor, Tensor]:
    """Frame form, pass 1, at the n pixels coords (n, 2) of an output grid of frame = (W', H') pixels: the
    HR maps' values there for warped point 0 and 1, written into q0_out and q1_out (B, n, C) (the decoder's
    first-layer terms of h; videoinr: + of the LR feature at the pixel); returns the flows (B, T, n, 4) at
    every time in tvec (T,; a single time when SpatialINR takes t) and the reach of the warped points (4,):
    min x, max x, min y, max y in output pixel units (for `_warp_box`)."""
    b, n_t, n = st.frames.shape[0], tvec.shape[0], coords.shape[0]
    x = coords.unsqueeze(0).expand(b, -1, -1)
    h = _spatial(st, x, tvec[:1].expand(b, n) if st.model.cfg.spatial_uses_t else None)
    base = _temporal_base(st, x, h).repeat(1, n_t, 1)
    prior = _prior_at(st, x)
    prior = None if prior is None else prior.repeat(1, n_t, 1)
    tt = tvec.repeat_interleave(n).unsqueeze(0).expand(b, -1)
    flow = _flow(st, tt, base, prior)
    x0, x1 = _warp(st, x.repeat(1, n_t, 1), flow, frame)
    reach = []
    for axis in (0, 1):
        px = torch.cat([_unnormalize(x0[..., axis], frame[axis]), _unnormalize(x1[..., axis], frame[axis])])
        px = px.nan_to_num(0.0)
        reach += [px.amin(), px.amax()]
    q0, q1 = _hr_terms(st, h, 0), _hr_terms(st, h, 1)
    if not st.geometry.official:
        q0, q1 = q0 + _lr_terms(st, x, 0), q1 + _lr_terms(st, x, 1)
    q0_out.copy_(q0)
    q1_out.copy_(q1)
    return flow.view(b, n_t, n, 4), torch.stack(reach)


def _decode_pass(st: State, coords: Tensor, tvec: Tensor, flow: Tensor, q0: Tensor, q1: Tensor,
                 origin: Tensor) -> Tensor:
    """Frame form, pass 2: RGB (B, T, n, 3) at pixels coords (n, 2), times tvec (T,), flows (B, T, n, 4):
    the HR maps q0, q1 (B, bh, bw, C) of pass 1 over the box at origin = (x, y, W', H') (`_hr_bilinear`)
    are sampled bilinearly at the warped points (official: + the LR feature and x4 frames sampled there);
    the rgb_skip frames are bicubic-sampled there (sharper than interpolating a bicubic-upsampled frame:
    docs/MEASUREMENTS.md)."""
    b, n_t, n = st.frames.shape[0], tvec.shape[0], coords.shape[0]
    xt = coords.unsqueeze(0).expand(b, -1, -1).repeat(1, n_t, 1)
    tt = tvec.repeat_interleave(n).unsqueeze(0).expand(b, -1)
    x0, x1 = _warp(st, xt, flow.reshape(b, n_t * n, 4), origin[2:])
    official = st.geometry.official
    z = _hr_bilinear(q0, x0, origin, official) + _hr_bilinear(q1, x1, origin, official)
    if official:
        z = z + _lr_terms(st, x0, 0) + _lr_terms(st, x1, 1)
    return _decode(st, z, _skip(st, x0, x1), tt).view(b, n_t, n, 3)


def _hr_maps(st: State, grid: tuple[int, int], box: tuple[int, int, int, int], tvec: Tensor, fn) -> tuple[Tensor, Tensor]:
    """Pass 1's two HR maps (B, bh, bw, C) at the output pixels of box = (x, y, w, h) of the grid (H', W')."""
    step = max(1, st.model.max_query_points)
    coords = st.geometry.pixel_points(grid, box, st.frames.device)[0]
    frame = torch.tensor([grid[1], grid[0]], device=coords.device, dtype=coords.dtype)
    maps = _map_buffers(st, coords.shape[0], fn)
    for i in range(0, coords.shape[0], step):
        fn(_pixel_pass)(st, coords[i : i + step], tvec[:1], frame, *_map_rows(maps, i, step))
    return _as_maps(maps, box[3], box[2])


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
    """Context that turns autocast off: the INR part runs in float32."""
    return torch.autocast(ref.device.type, enabled=False)
