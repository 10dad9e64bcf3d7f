"""The README example's interpolated frame, side by side: python scripts/motion_crop.py [MODEL] [OUT.png]

On the bundled clip (`videoinr upscale example`, 192x108 at 30 fps) this picks the input pair and the
crop-sized window with the largest mean optical-flow motion (the running dog), renders t = 0.5 at x4 with
MODEL (default: the shipped `lite`) and writes a sheet of that HR crop: input 0 and input 1 (bicubic), linear blend + bicubic,
DIS flow + bicubic, and the model. No ground truth exists at t = 0.5 (the clip is the real 30 fps video).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch

import videoinr
from videoinr.baselines import BicubicBlend, FlowBicubic, bicubic_upscale
from videoinr.data.video import iter_video
from videoinr.models.prior import dis_flow

EXAMPLE = Path(videoinr.__file__).parent / "assets" / "example.mp4"
SCALE, CROP = 4, 160


def main(model_name: str = "lite", out: str = "docs/model_card/example_t05.png") -> None:
    frames = [f.image for f in iter_video(EXAMPLE)]
    # mean flow magnitude over every crop-sized LR window: the pair and window with the most motion
    win = CROP // SCALE
    motion = [cv2.blur(np.linalg.norm(dis_flow(a, b), axis=-1), (win, win)) for a, b in zip(frames, frames[1:])]
    k = int(np.argmax([m.max() for m in motion]))
    a, b = frames[k], frames[k + 1]
    size = (a.shape[0] * SCALE, a.shape[1] * SCALE)
    model = videoinr.create_model(model_name).eval()
    with torch.inference_mode():
        x = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in (a, b)]
        pred = model.encode(*x).render(size, [0.5])[0, 0]
    pred = (pred.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    cy, cx = np.unravel_index(np.argmax(motion[k]), motion[k].shape)
    y0 = int(np.clip(cy * SCALE - CROP // 2, 0, size[0] - CROP))
    x0 = int(np.clip(cx * SCALE - CROP // 2, 0, size[1] - CROP))
    panels = {
        f"input t=0 (frame {k})": bicubic_upscale(a, size),
        f"input t=1 (frame {k + 1})": bicubic_upscale(b, size),
        "blend + bicubic": BicubicBlend().predict(a, b, [0.5], size)[0],
        "DIS flow + bicubic": FlowBicubic().predict(a, b, [0.5], size)[0],
        f"VideoINR-{model.cfg.name} t=0.5": pred,
    }
    tiles = []
    for label, img in panels.items():
        tile = np.ascontiguousarray(img[y0 : y0 + CROP, x0 : x0 + CROP])
        tile = cv2.resize(tile, (2 * CROP, 2 * CROP), interpolation=cv2.INTER_NEAREST)
        bar = np.full((22, 2 * CROP, 3), 255, np.uint8)
        cv2.putText(bar, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.concatenate([bar, tile], 0))
    sheet = np.concatenate(tiles, 1)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"pair ({k}, {k + 1}), crop x={x0} y={y0} {CROP}x{CROP} of {size[1]}x{size[0]} -> {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
