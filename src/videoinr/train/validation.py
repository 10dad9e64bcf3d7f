"""Validation during training: PSNR of the model on a held-out clip (never a training source), plus a PNG
panel (bicubic | model | ground truth) of one frame."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from videoinr.data.convert import to_float, to_uint8
from videoinr.errors import VideoINRError
from videoinr.models import VideoINR
from videoinr.runtime import Policy, inference_policy
from videoinr.train.checkpoint import atomic_write
from videoinr.train.config import TrainConfig

__all__ = ["Validator"]


class Validator:
    """A held-out clip: `windows` N-frame windows, centre crop, degraded by `scale`; PSNR (Y, 8-bit) of
    all N frames (the inputs' times too), of the interior (interpolated) frames and of the centre frame
    k = (N - 1) // 2 (the `clips` protocol's -Center); a PNG of the middle frame. Flow-prior models get
    their flows from the whole LR frames (as `upscale` and `eval` do), cropped to the window."""

    def __init__(self, cfg: TrainConfig, progress: bool = False) -> None:
        from videoinr.data.windows import load_clips

        self.cfg = cfg
        path = Path(cfg.val_source)
        clips = load_clips({"path": path, "window": max(3, cfg.val_window)}, progress=progress)
        clip = clips[0]
        shot = max(clip.shots, key=len)
        n = cfg.val_window
        if len(shot) < n:
            raise VideoINRError(f"{path}: validation window of {n} frames is longer than its longest shot ({len(shot)})")
        h, w = clip.frames.shape[1:3]
        s = cfg.val_scale
        c = min(cfg.val_crop, h, w)
        c = max(int(c // s * s) if float(s).is_integer() else c, 4)
        y0, x0 = (h - c) // 2, (w - c) // 2
        last = shot.stop - n
        starts = sorted({int(round(v)) for v in np.linspace(shot.start, last, cfg.val_windows)})
        if float(s).is_integer():  # crop on the LR grid, so flows of the whole LR frames can be cropped to it
            y0, x0 = y0 // int(s) * int(s), x0 // int(s) * int(s)
        self.windows = [clip.frames[a : a + n, y0 : y0 + c, x0 : x0 + c] for a in starts]
        self.inputs = [clip.frames[[a, a + n - 1]] for a in starts]  # whole input frames, for flow priors
        self.box = (y0, x0)
        self._flow_cache: dict[int, Tensor | None] = {}  # the prior's flows per window: they never change
        self.size = (c, c)
        self.name = clip.name

    @torch.no_grad()
    def __call__(self, model: VideoINR, device: torch.device, png: Path | None = None) -> dict[str, float]:
        """PSNRs in dB: {val_psnr, val_psnr_interior, val_psnr_center} (the last two when the window has
        interior frames); writes the panel of window 0's middle frame to `png` if given. Restores the
        model's train/eval mode."""
        from videoinr.data.imresize import degrade, imresize
        from videoinr.metrics import psnr

        was_training = model.training
        model.eval()
        # inference numerics as `videoinr eval` uses them for a small job: eager, encoder in bf16 where native
        inference_policy(device, 0, compile=False, render_bf16=False).apply(model)
        n = self.cfg.val_window
        times = [k / (n - 1) for k in range(n)]
        all_p, inner_p, center_p = [], [], []
        panel = None
        for wi, frames in enumerate(self.windows):
            hr = to_float(frames).to(device)
            lr = degrade(hr[[0, n - 1]], self.cfg.val_scale)
            pred = model.encode(lr[:1], lr[1:], self._flows(wi, lr.shape[-2:], model, device)).render(self.size, times)[0]
            pred8 = to_uint8(pred)  # render output is already clamped to [0, 1]: the clamp changes nothing
            for k in range(n):
                v = psnr(pred8[k], frames[k])
                all_p.append(v)
                if 0 < k < n - 1:
                    inner_p.append(v)
                if k == (n - 1) // 2 and n > 2:
                    center_p.append(v)
            if wi == 0 and png is not None:
                mid = n // 2
                near = lr[:1] if mid <= (n - 1) / 2 else lr[1:]
                bic = to_uint8(imresize(near, size=self.size)[0])
                panel = np.concatenate([bic, pred8[mid], frames[mid]], axis=1)
        Policy().apply(model)  # training runs with every switch off (its precision is the config's autocast)
        if was_training:
            model.train()
        if panel is not None:
            _write_png(png, panel)
        out = {"val_psnr": float(np.mean(all_p))}
        if inner_p:
            out["val_psnr_interior"] = float(np.mean(inner_p))
            out["val_psnr_center"] = float(np.mean(center_p))
        return out

    def _flows(self, wi: int, lr_hw: tuple[int, int], model: VideoINR, device: torch.device) -> Tensor | None:
        """Window wi's prior flows (1, 4, h, w) cropped from the flows of the whole LR input frames; None for
        models without a prior, or a non-integer scale (the model then computes them on the crop)."""
        from videoinr.data.imresize import degrade
        from videoinr.models.prior import pair_flows

        s = self.cfg.val_scale
        if not model.cfg.flow_prior or not float(s).is_integer():
            return None
        if wi not in self._flow_cache:
            whole = to_float(self.inputs[wi])
            lr = degrade(whole, s)
            y, x = self.box[0] // int(s), self.box[1] // int(s)
            flows = pair_flows(lr[:1], lr[1:])[..., y : y + lr_hw[0], x : x + lr_hw[1]]
            self._flow_cache[wi] = flows if flows.shape[-2:] == tuple(lr_hw) else None
        flows = self._flow_cache[wi]
        return None if flows is None else flows.to(device)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 RGB image as PNG, atomically, creating the folder."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if ok:
        atomic_write(path, buf.tobytes())
