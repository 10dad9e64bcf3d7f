"""Classical optical flow, the motion prior of `flow_prior` configs and the flow baseline's motion.

`dis_flow` is OpenCV's DIS (Kroeger et al. 2016) on the luma of two uint8 frames; `pair_flows` runs it in
both directions on a batch of LR frame pairs, once per pair in `VideoINR.encode` (and once per training
window, on the whole LR frames, in the data pipeline). `prior_at_t` turns the two flows sampled at query
points into the flows from time t to each input under locally linear motion, the same rule the
`flow-bicubic` baseline uses: F_t0 = t F_10, F_t1 = (1 - t) F_01. Flows are in LR pixels, (dx, dy).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor

from videoinr.data.convert import to_uint8

__all__ = ["dis_flow", "pair_flows", "prior_at_t"]

MIN_SIDE = 16  # frames are padded to at least this many pixels per side for DIS


def dis_flow(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Dense optical flow (h, w, 2) float32 in pixels, (dx, dy), with src(p) ~ dst(p + flow(p)).

    OpenCV DIS, preset MEDIUM refined down to full resolution (finest scale 0), on the luma of uint8 RGB
    frames (h, w, 3). Deterministic for a given input.
    """
    g0 = cv2.cvtColor(np.ascontiguousarray(src), cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(np.ascontiguousarray(dst), cv2.COLOR_RGB2GRAY)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)
    return dis.calc(g0, g1, None)


def pair_flows(frame0: Tensor, frame1: Tensor) -> Tensor:
    """Both DIS flows of each pair: (B, 4, h, w) float32 on the frames' device, channels [F_01 | F_10] in LR
    pixels (frame0(p) ~ frame1(p + F_01(p)), frame1(p) ~ frame0(p + F_10(p))), from frames (B, 3, h, w)
    in [0, 1] (quantized to 8 bits first, as video frames are). Frames under MIN_SIDE pixels on a side (DIS
    needs 12) are edge-padded to it for the flow, which is then cropped back."""
    b, _, h, w = frame0.shape
    a, c = to_uint8(frame0.detach().float()), to_uint8(frame1.detach().float())
    if h < MIN_SIDE or w < MIN_SIDE:
        pad = ((0, 0), (0, max(0, MIN_SIDE - h)), (0, max(0, MIN_SIDE - w)), (0, 0))
        a, c = np.pad(a, pad, mode="edge"), np.pad(c, pad, mode="edge")
    out = np.stack([np.concatenate([dis_flow(a[i], c[i]), dis_flow(c[i], a[i])], -1) for i in range(b)])
    return torch.from_numpy(out[:, :h, :w]).permute(0, 3, 1, 2).to(frame0.device).contiguous()


def prior_at_t(flows: Tensor, t: Tensor) -> Tensor:
    """The prior's flows from time t to frame 0 and to frame 1, (..., 4) = [F_t0 | F_t1] in LR pixels, from
    [F_01 | F_10] sampled at the query points (..., 4) and times t (...)."""
    t = t.unsqueeze(-1)
    return torch.cat([t * flows[..., 2:], (1 - t) * flows[..., :2]], -1)
