"""Validation during training: PSNR of the model on a held-out clip (never a training source), plus a PNG
panel (bicubic | model | ground truth) of one frame."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from videoinr.errors import VideoINRError
from videoinr.models import VideoINR
from videoinr.runtime import Policy, inference_policy
from videoinr.train.checkpoint import atomic_write
from videoinr.train.config import TrainConfig

__all__ = ["Validator"]


class Validator:
    """A held-out clip scored as `videoinr eval` scores clips, through the same function
    (`videoinr.evaluate.score_task`): `val_windows` windows of N = `val_window` frames spread over its
    longest shot; each window's first and last frame degraded by `val_scale` (modcrop, MATLAB bicubic,
    8-bit) and encoded whole; the centre `val_crop` square of every frame (clipped to the frame) rendered
    and scored (Y PSNR, 8-bit). Reports all N frames (the inputs' times too), the interior (interpolated)
    frames and the centre frame k = (N - 1) // 2 (the `clips` protocol's -Center)."""

    def __init__(self, cfg: TrainConfig, progress: bool = False) -> None:
        from videoinr.data.windows import load_clips
        from videoinr.evaluate import build_tasks

        self.cfg = cfg
        path = Path(cfg.val_source)
        clips = load_clips({"path": path, "window": max(3, cfg.val_window)}, progress=progress)
        clip = clips[0]
        shot = max(clip.shots, key=len)
        n = cfg.val_window
        if len(shot) < n:
            raise VideoINRError(f"{path}: validation window of {n} frames is longer than its longest shot ({len(shot)})")
        s = cfg.val_scale
        h, w = clip.frames.shape[1:3]
        if float(s).is_integer():  # modcrop, as `eval` does
            h, w = h - h % int(s), w - w % int(s)
        self.frames = clip.frames[:, :h, :w]  # uint8 (T, H, W, 3)
        ch, cw = min(cfg.val_crop, h), min(cfg.val_crop, w)
        self.region = ((w - cw) // 2, (h - ch) // 2, cw, ch)  # (x, y, w, h) in HR pixels
        self.starts = sorted({int(round(v)) for v in np.linspace(shot.start, shot.stop - n, cfg.val_windows)})
        self.task = build_tasks([(clip.name, n)], "clips", clip_len=n)[0]  # frame k at t = k / (n - 1)
        self.name = clip.name

    @torch.no_grad()
    def __call__(self, model: VideoINR, device: torch.device, png: Path | None = None) -> dict[str, float]:
        """PSNRs in dB: {val_psnr, val_psnr_interior, val_psnr_center} (the last two when the window has
        interior frames); writes the panel (bicubic | model | ground truth) of window 0's middle frame to
        `png` if given. Restores the model's train/eval mode."""
        from videoinr.baselines import ModelMethod, bicubic_upscale, crop_region
        from videoinr.data.convert import lr_uint8
        from videoinr.evaluate import score_task

        was_training = model.training
        model.eval()
        # inference numerics as `videoinr eval` uses them for a small job: eager, encoder in bf16 where native
        inference_policy(device, 0, compile=False, render_bf16=False).apply(model)
        method = ModelMethod.of(model, device)
        n, s = self.cfg.val_window, self.cfg.val_scale
        rows: list[dict] = []
        panel = None
        for wi, a in enumerate(self.starts):
            window = self.frames[a : a + n]
            lr0, lr1 = lr_uint8(window[0], s), lr_uint8(window[-1], s)
            got, preds, _ = score_task(method, self.task, lr0, lr1, list(window), "y", self.region)
            rows += got
            if wi == 0 and png is not None:
                mid = n // 2
                near = lr0 if mid <= (n - 1) / 2 else lr1
                bic = crop_region([bicubic_upscale(near, window.shape[1:3])], self.region)[0]
                truth = crop_region([window[mid]], self.region)[0]
                panel = np.concatenate([bic, preds[mid], truth], axis=1)
        Policy().apply(model)  # training runs with every switch off (its precision is the config's autocast)
        if was_training:
            model.train()
        if panel is not None:
            _write_png(png, panel)
        out = {"val_psnr": float(np.mean([r["psnr"] for r in rows]))}
        if n > 2:
            out["val_psnr_interior"] = float(np.mean([r["psnr"] for r in rows if 0 < r["k"] < n - 1]))
            out["val_psnr_center"] = float(np.mean([r["psnr"] for r in rows if r["center"]]))
        return out


def _write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 RGB image as PNG, atomically, creating the folder."""
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if ok:
        atomic_write(path, buf.tobytes())
