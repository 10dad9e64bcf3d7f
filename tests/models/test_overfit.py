"""150 steps of `lite` on one real clip drive the Charbonnier loss well below its start."""
import cv2
import numpy as np
import torch

import videoinr
from videoinr.data.imresize import imresize
from videoinr.models import make_grid


def test_lite_overfits_one_real_clip(shared_data):
    seq = shared_data / "train" / "vimeo90k_septuplets" / "sequences"
    clip = sorted(p for p in seq.glob("*/*") if p.is_dir())[0]
    frames = [cv2.cvtColor(cv2.imread(str(clip / f"im{i}.png")), cv2.COLOR_BGR2RGB) for i in (1, 4, 7)]
    hr = torch.from_numpy(np.stack(frames)[:, 96:144, 160:208]).permute(0, 3, 1, 2).float() / 255  # 3 x 48x48
    lr = imresize(hr, size=(12, 12)).clamp(0, 1)
    coords = make_grid((48, 48)).unsqueeze(0)
    targets = hr.permute(0, 2, 3, 1).reshape(3, -1, 3)  # t = 0, 0.5, 1

    torch.manual_seed(0)
    model = videoinr.create_model("lite", pretrained=False).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = torch.tensor([0.0, 0.5, 1.0])
    losses = []
    for step in range(150):
        idx = torch.randint(0, coords.shape[1], (3, 512))
        pts = torch.cat([coords[0, i] for i in idx]).unsqueeze(0)
        gt = torch.cat([targets[k, idx[k]] for k in range(3)]).unsqueeze(0)
        t = times.repeat_interleave(512).unsqueeze(0)
        pred = model.encode(lr[0:1], lr[2:3]).query(pts, t)
        loss = torch.sqrt((pred - gt) ** 2 + 1e-6).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    start, end = np.mean(losses[:10]), np.mean(losses[-10:])
    print(f"Charbonnier loss {start:.4f} -> {end:.4f}")
    assert end < 0.6 * start
