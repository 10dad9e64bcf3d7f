"""Methods compared by ``videoinr eval``: classical two-stage baselines and VideoINR models, one interface.

Every method maps two low-resolution frames to high-resolution frames at times t in [0, 1]:
``predict(lr0, lr1, times, size, region=None) -> list of uint8 (H, W, 3) RGB`` with ``lr0``, ``lr1`` uint8
(h, w, 3) RGB and ``size = (H, W)``; ``region = (x, y, w, h)`` in output pixels returns only that window of
each frame (the model renders only it; the baselines crop their full frames). Classical baselines work in
two stages, time then space: frame interpolation on the LR frames (frame repeat, linear blend, or OpenCV DIS
optical flow with bidirectional backward warping and occlusion-aware blending), then MATLAB-style bicubic
upsampling (``videoinr.data.imresize``).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch

from videoinr.data.convert import to_float, to_uint8
from videoinr.data.imresize import imresize
from videoinr.errors import VideoINRError
from videoinr.models.config import CONFIGS
from videoinr.models.prior import dis_flow

__all__ = [
    "Method",
    "BASELINES",
    "MODEL_NAMES",
    "BicubicRepeat",
    "BicubicBlend",
    "FlowBicubic",
    "ModelMethod",
    "bicubic_upscale",
    "crop_region",
    "dis_flow",
    "backward_warp",
    "flow_interpolate",
    "get_method",
]

MODEL_NAMES = tuple(CONFIGS)  # "lite", "paper"
Region = tuple[int, int, int, int]  # (x, y, w, h) in output pixels


class Method(Protocol):
    """A space-time super-resolution method under evaluation."""

    name: str  # the ``--methods`` spec it was made from
    label: str  # human-readable row label for tables ("DIS flow + Bicubic")

    def predict(
        self, lr0: np.ndarray, lr1: np.ndarray, times: Sequence[float], size: tuple[int, int],
        region: Region | None = None,
    ) -> list[np.ndarray]:
        """HR frames (uint8 (H, W, 3) RGB, H, W = size; (h, w, 3) of region = (x, y, w, h) if given) at each t
        in ``times`` between lr0 (t=0) and lr1 (t=1)."""
        ...


def crop_region(frames: list[np.ndarray], region: Region | None) -> list[np.ndarray]:
    """The (x, y, w, h) window of each (H, W, 3) frame (the frames themselves when region is None)."""
    if region is None:
        return frames
    x, y, w, h = region
    return [np.ascontiguousarray(f[y : y + h, x : x + w]) for f in frames]


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Float image on 0-255 -> uint8, rounded and clipped."""
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def bicubic_upscale(lr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """MATLAB-style bicubic upsampling of an RGB image (h, w, 3) on 0-255 (uint8 or float) to uint8 (H, W, 3)."""
    x = torch.from_numpy(np.ascontiguousarray(lr, dtype=np.float32)).permute(2, 0, 1)
    y = imresize(x, size=tuple(size))
    return _to_uint8(y.permute(1, 2, 0).numpy())


class BicubicRepeat:
    """Frame repeat (the input nearest in time; the earlier one at t = 0.5), then bicubic."""

    label = "Frame repeat + Bicubic"

    def __init__(self, name: str = "bicubic-repeat") -> None:
        self.name = name

    def predict(self, lr0, lr1, times, size, region=None):  # noqa: D102 (see Method)
        up0, up1 = bicubic_upscale(lr0, size), None
        out = []
        for t in times:
            if t <= 0.5:
                out.append(up0.copy())
            else:
                up1 = bicubic_upscale(lr1, size) if up1 is None else up1
                out.append(up1.copy())
        return crop_region(out, region)


class BicubicBlend:
    """Linear blend (1 - t) * lr0 + t * lr1, then bicubic."""

    label = "Linear blend + Bicubic"

    def __init__(self, name: str = "bicubic-blend") -> None:
        self.name = name

    def predict(self, lr0, lr1, times, size, region=None):  # noqa: D102
        a, b = lr0.astype(np.float32), lr1.astype(np.float32)
        return crop_region([bicubic_upscale((1.0 - t) * a + t * b, size) for t in times], region)


def backward_warp(img: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample ``img`` (h, w[, C]) float32 at p + flow(p), edges replicated: out(p) = img(p + flow(p))."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)


def _fb_error(f_ab: np.ndarray, f_ba: np.ndarray) -> np.ndarray:
    """Forward-backward inconsistency |f_ab(p) + f_ba(p + f_ab(p))| in pixels, (h, w) float32."""
    return np.linalg.norm(f_ab + backward_warp(f_ba, f_ab), axis=-1)


def flow_interpolate(
    lr0: np.ndarray,
    lr1: np.ndarray,
    times: Sequence[float],
    flows: tuple[np.ndarray, np.ndarray] | None = None,
    sigma: float = 1.0,
) -> list[np.ndarray]:
    """Optical-flow frame interpolation of RGB frames (h, w, 3); returns float32 frames on 0-255.

    The flow from time t to each input is the bidirectional DIS flow scaled by time (F_t0 = t F_10,
    F_t1 = (1 - t) F_01: locally linear motion); both inputs are backward-warped to t (bicubic sampling,
    which keeps more detail than bilinear on aliased LR frames). Blend weights are (1 - t) and t times a
    visibility term from the forward-backward check: where the frame-0 source point has no consistent
    match in frame 1 (occluded there) the frame-1 warp is down-weighted, and vice versa, with weight
    exp(-e^2 / 2 sigma^2) for an inconsistency of e pixels. ``flows`` = (F_01, F_10) if already known.
    """
    f01, f10 = flows if flows is not None else (dis_flow(lr0, lr1), dis_flow(lr1, lr0))
    e0 = _fb_error(f01, f10)  # frame-0 pixels without a consistent match in frame 1
    e1 = _fb_error(f10, f01)  # frame-1 pixels without a consistent match in frame 0
    a, b = lr0.astype(np.float32), lr1.astype(np.float32)
    out = []
    for t in times:
        if t <= 0.0 or t >= 1.0:
            out.append(a.copy() if t <= 0.0 else b.copy())
            continue
        ft0, ft1 = t * f10, (1.0 - t) * f01
        warped0 = backward_warp(a, ft0, cv2.INTER_CUBIC)
        warped1 = backward_warp(b, ft1, cv2.INTER_CUBIC)
        w0 = (1.0 - t) * np.exp(-backward_warp(e1, ft1) ** 2 / (2 * sigma**2)) + 1e-6
        w1 = t * np.exp(-backward_warp(e0, ft0) ** 2 / (2 * sigma**2)) + 1e-6
        out.append((w0[..., None] * warped0 + w1[..., None] * warped1) / (w0 + w1)[..., None])
    return out


class FlowBicubic:
    """DIS optical-flow interpolation with occlusion-aware blending on the LR frames, then bicubic."""

    label = "DIS flow + Bicubic"

    def __init__(self, name: str = "flow-bicubic") -> None:
        self.name = name

    def predict(self, lr0, lr1, times, size, region=None):  # noqa: D102
        return crop_region([bicubic_upscale(f, size) for f in flow_interpolate(lr0, lr1, times)], region)


class ModelMethod:
    """A VideoINR model (``create_model(name_or_path)``): encode the pair once, render every t, quantise.
    ``ModelMethod.of(model)`` wraps a model in memory (training validation scores it this way)."""

    def __init__(self, name_or_path: str, device: str | torch.device | None = None, pretrained: bool = True) -> None:
        from videoinr.models import create_model

        self.name = name_or_path
        self.device = torch.device(device or "cpu")
        self.model = create_model(name_or_path, pretrained=pretrained, device=self.device).eval()
        cfg_name = getattr(getattr(self.model, "cfg", None), "name", name_or_path)
        self.label = f"VideoINR-{cfg_name}"
        if name_or_path not in MODEL_NAMES:
            self.label += f" ({Path(name_or_path).name})"

    @classmethod
    def of(cls, model: torch.nn.Module, device: torch.device) -> ModelMethod:
        """The method of a model already built (its mode and switches are the caller's)."""
        method = cls.__new__(cls)
        method.name, method.label = model.cfg.name, f"VideoINR-{model.cfg.name}"
        method.device, method.model = torch.device(device), model
        return method

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return to_float(x, self.device).unsqueeze(0)

    @torch.inference_mode()
    def predict(self, lr0, lr1, times, size, region=None):  # noqa: D102
        state = self.model.encode(self._tensor(lr0), self._tensor(lr1))
        out = state.render(size=tuple(size), t=[float(t) for t in times], region=region)  # (1, T, 3, h, w) in [0, 1]
        frames = to_uint8(out[0])
        return list(frames)


BASELINES = {"bicubic-repeat": BicubicRepeat, "bicubic-blend": BicubicBlend, "flow-bicubic": FlowBicubic}


def get_method(spec: str, device: str | torch.device | None = None, pretrained: bool = True) -> Method:
    """Method for a ``--methods`` entry: a baseline name, a model name (lite, paper) or a .safetensors path."""
    spec = spec.strip()
    if spec in BASELINES:
        return BASELINES[spec]()
    if spec in MODEL_NAMES:
        return ModelMethod(spec, device, pretrained)
    if spec.endswith(".safetensors") or Path(spec).is_file():
        path = Path(spec)
        if not path.is_file():
            raise VideoINRError(f"{spec}: no such weights file")
        try:
            return ModelMethod(spec, device)
        except VideoINRError:
            raise
        except Exception as e:  # a user's file that is not valid weights: one line, no traceback
            first = (str(e).splitlines() or [""])[0]
            raise VideoINRError(f"{spec}: unreadable weights ({type(e).__name__}: {first})") from None
    choices = ", ".join([*BASELINES, *MODEL_NAMES])
    raise VideoINRError(f"unknown method '{spec}': expected one of {choices} or a .safetensors weights file")
