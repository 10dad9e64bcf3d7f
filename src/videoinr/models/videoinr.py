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
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videoinr.errors import VideoINRError
from videoinr.models.config import ModelConfig
from videoinr.models.encoder import ZoomingSlowMoEncoder
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
        out = F.grid_sample(maps, x.unsqueeze(1), mode="bilinear", padding_mode="border", align_corners=False)
        return out[:, :, 0].transpose(1, 2)


class VideoINR(nn.Module):
    """Encoder + SpatialINR + TemporalINR + decoder. See the module docstring for the data flow."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.max_query_points = 1 << 16  # points per chunk when rendering; bounds peak memory
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
            return State(self, _Grid(b, h, w), self._project(lr, b, h, w), frames)

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
        for name in names[1:]:  # bilinear-sampled maps: (B, C, h, w), channels-last memory for grid_sample
            out[name] = out[name].reshape(b, h, w, -1).permute(0, 3, 1, 2)
        return out

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


@dataclass
class State:
    """What `VideoINR.encode` computed for one frame pair; answers queries at any (x, y, t)."""

    model: VideoINR
    grid: _Grid
    maps: dict[str, Tensor]
    frames: Tensor  # (B, 6, h, w): both LR frames

    @property
    def lr_size(self) -> tuple[int, int]:
        return self.grid.h, self.grid.w

    # --------------------------------------------------------------- per point
    def _spatial(self, x: Tensor, t: Tensor | None) -> Tensor:
        """HR feature (B, N, hr_dim) at points x (B, N, 2); t (B, N) used only if the config says so."""
        m = self.model
        d, w0 = m.lr_dim, m.cfg.omega0
        idx, rel = self.grid.nearest(x)
        w = m.spatial.first.weight
        z = F.embedding(idx, self.maps["spatial"]).view(*x.shape[:2], -1)
        if m.cfg.spatial_uses_t:
            rel = torch.cat([rel, t.unsqueeze(-1)], -1)
        z = z + F.linear(rel, w[:, d:] * w0)
        return m.spatial.from_first(z)

    def _rgb(self, x: Tensor, t: Tensor, hr_x: Tensor) -> Tensor:
        """RGB (B, N, 3) at points x with HR feature hr_x there (t-dependent part of a query)."""
        m, cfg = self.model, self.model.cfg
        d, hr, w0 = m.lr_dim, cfg.hr_dim, cfg.omega0
        tw, dw = m.temporal.first.weight * w0, m.decoder.first.weight * w0
        _, rel = self.grid.nearest(x)
        t1 = t.unsqueeze(-1)
        z_t = self.grid.bilinear(self.maps["temporal"], x)
        z_t = z_t + F.linear(torch.cat([hr_x, rel, t1], -1), torch.cat([tw[:, :hr], tw[:, hr + d :]], 1))
        flow = m.temporal.from_first(z_t)  # (B, N, 4): two displacements in LR pixels
        h, w = self.lr_size
        to_norm = flow.new_tensor([2 / w, 2 / h])
        x1 = x + flow[..., :2] * to_norm
        x2 = x + flow[..., 2:] * to_norm
        h1, h2 = self._spatial(x1, t), self._spatial(x2, t)
        z_d = self.grid.bilinear(self.maps["decoder1"], x1) + self.grid.bilinear(self.maps["decoder2"], x2)
        z_d = z_d + F.linear(torch.cat([h1, h2, t1], -1),
                             torch.cat([dw[:, :hr], dw[:, hr + d : 2 * hr + d], dw[:, -1:]], 1))
        out = m.decoder.from_first(z_d)
        if not cfg.rgb_skip:
            return out
        a = _bicubic(self.frames[:, :3], x1)
        b = _bicubic(self.frames[:, 3:], x2)
        tc = t1.clamp(1e-3, 1 - 1e-3)
        alpha = torch.sigmoid(torch.log(tc / (1 - tc)) + out[..., 3:])
        return out[..., :3] + a + (b - a) * alpha

    def query(self, coords: Tensor, t: Tensor | float) -> Tensor:
        """RGB (B, N, 3) (not clamped) at points coords (B, N, 2) and times t (B, N) or a float.

        Chunked along N by `model.max_query_points`; differentiable (used for training).
        """
        if not torch.is_tensor(t):
            t = coords.new_full(coords.shape[:2], float(t))
        t = t.to(coords.dtype).expand(coords.shape[:2])
        step = max(1, self.model.max_query_points)
        outs = []
        with _fp32(coords):
            for i in range(0, coords.shape[1], step):
                x, tt = coords[:, i : i + step].float(), t[:, i : i + step].float()
                outs.append(self._rgb(x, tt, self._spatial(x, tt)))
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
        across t when the config has no t in SpatialINR.
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
        step = max(1, self.model.max_query_points // n_t)
        with _fp32(coords):
            out = [self._render_chunk(coords[i : i + step], tvec) for i in range(0, coords.shape[0], step)]
        rgb = torch.cat(out, 2).clamp_(0, 1)
        return rgb.view(b, n_t, rh, rw, 3).permute(0, 1, 4, 2, 3)

    def _render_chunk(self, coords: Tensor, tvec: Tensor) -> Tensor:
        """RGB (B, T, n, 3) at the n points coords (n, 2) for every time in tvec (T,)."""
        b, n_t, n = self.frames.shape[0], tvec.shape[0], coords.shape[0]
        x = coords.unsqueeze(0).expand(b, -1, -1)
        tt = tvec.repeat_interleave(n).unsqueeze(0).expand(b, -1)
        xt = x.repeat(1, n_t, 1)
        if self.model.cfg.spatial_uses_t:
            hr_x = self._spatial(xt, tt)
        else:  # t-independent HR feature: once per pixel, reused for every t
            hr_x = self._spatial(x, None).repeat(1, n_t, 1)
        return self._rgb(xt, tt, hr_x).view(b, n_t, n, 3)


def _fp32(ref: Tensor):
    """Context that turns autocast off: the INR part runs in float32 (sin of omega0-scaled bf16
    pre-activations loses too much precision); the encoder's convolutions may still use bf16."""
    return torch.autocast(ref.device.type, enabled=False)


def _bicubic(img: Tensor, x: Tensor) -> Tensor:
    """Bicubic samples (B, N, C) of img (B, C, h, w) at normalized points (B, N, 2), border padding."""
    out = F.grid_sample(img, x.unsqueeze(1), mode="bicubic", padding_mode="border", align_corners=False)
    return out[:, :, 0].transpose(1, 2)
