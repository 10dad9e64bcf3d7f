"""Zooming SlowMo encoder (Xiang et al., CVPR 2020) as VideoINR uses it.

Two LR frames -> three LR feature maps (frame 0, a synthesised middle-time feature, frame 1), each
(B, nf, h, w). Pipeline: shared feature extractor (conv + residual blocks) and 3-level pyramid; PCD
alignment (deformable, both directions) fused by a 1x1 conv into the middle feature; a bidirectional
deformable ConvLSTM over [F0, Fmid, F1] (optional: `convlstm`); a residual reconstruction trunk applied
per time step.
Input height and width must be multiples of 4 (the caller pads; see `VideoINR.encode`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videoinr.models.dcn import DeformConvPack
from videoinr.models.fused import LRELU_SLOPE, conv, conv_add


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, LRELU_SLOPE)


class ResidualBlock(nn.Module):
    """conv-ReLU-conv with identity skip, no batch norm."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, padding=1)
        self.conv2 = nn.Conv2d(nf, nf, 3, padding=1)
        for conv in (self.conv1, self.conv2):  # scaled init, as EDVR's `initialize_weights(..., 0.1)`
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return conv_add(self.conv2, conv(self.conv1, x, "relu"), x)


class Pyramid(nn.Module):
    """L1 feature -> [L1, L2 (1/2), L3 (1/4)] with two stride-2 stages."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.l2_conv1 = nn.Conv2d(nf, nf, 3, 2, 1)
        self.l2_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.l3_conv1 = nn.Conv2d(nf, nf, 3, 2, 1)
        self.l3_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, l1: Tensor) -> list[Tensor]:
        l2 = conv(self.l2_conv2, conv(self.l2_conv1, l1, "lrelu"), "lrelu")
        l3 = conv(self.l3_conv2, conv(self.l3_conv1, l2, "lrelu"), "lrelu")
        return [l1, l2, l3]


def _up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class PCDLevelAlign(nn.Module):
    """Pyramid + deformable alignment of `src` towards `ref`, one direction (EDVR PCD, no cascade)."""

    def __init__(self, nf: int, groups: int) -> None:
        super().__init__()
        self.l3_offset_conv1 = nn.Conv2d(2 * nf, nf, 3, 1, 1)
        self.l3_offset_conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.l3_dcn = DeformConvPack(nf, 3, groups)
        self.l2_offset_conv1 = nn.Conv2d(2 * nf, nf, 3, 1, 1)
        self.l2_offset_conv2 = nn.Conv2d(2 * nf, nf, 3, 1, 1)
        self.l2_offset_conv3 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.l2_dcn = DeformConvPack(nf, 3, groups)
        self.l2_fea_conv = nn.Conv2d(2 * nf, nf, 3, 1, 1)
        self.l1_offset_conv1 = nn.Conv2d(2 * nf, nf, 3, 1, 1)
        self.l1_offset_conv2 = nn.Conv2d(2 * nf, nf, 3, 1, 1)
        self.l1_offset_conv3 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.l1_dcn = DeformConvPack(nf, 3, groups)
        self.l1_fea_conv = nn.Conv2d(2 * nf, nf, 3, 1, 1)

    def forward(self, src: list[Tensor], ref: list[Tensor]) -> Tensor:
        off3 = conv(self.l3_offset_conv1, torch.cat([src[2], ref[2]], 1), "lrelu")
        off3 = conv(self.l3_offset_conv2, off3, "lrelu")
        fea3 = _lrelu(self.l3_dcn(src[2], off3))

        off2 = conv(self.l2_offset_conv1, torch.cat([src[1], ref[1]], 1), "lrelu")
        off2 = conv(self.l2_offset_conv2, torch.cat([off2, _up2(off3) * 2], 1), "lrelu")
        off2 = conv(self.l2_offset_conv3, off2, "lrelu")
        fea2 = self.l2_dcn(src[1], off2)
        fea2 = conv(self.l2_fea_conv, torch.cat([fea2, _up2(fea3)], 1), "lrelu")

        off1 = conv(self.l1_offset_conv1, torch.cat([src[0], ref[0]], 1), "lrelu")
        off1 = conv(self.l1_offset_conv2, torch.cat([off1, _up2(off2) * 2], 1), "lrelu")
        off1 = conv(self.l1_offset_conv3, off1, "lrelu")
        fea1 = self.l1_dcn(src[0], off1)
        return self.l1_fea_conv(torch.cat([fea1, _up2(fea2)], 1))


class PCDAlign(nn.Module):
    """Bidirectional PCD alignment of two pyramids, fused by a 1x1 conv: (B, nf, h, w)."""

    def __init__(self, nf: int, groups: int) -> None:
        super().__init__()
        self.align_fwd = PCDLevelAlign(nf, groups)
        self.align_bwd = PCDLevelAlign(nf, groups)
        self.fusion = nn.Conv2d(2 * nf, nf, 1)

    def forward(self, a: list[Tensor], b: list[Tensor]) -> Tensor:
        return self.fusion(torch.cat([self.align_fwd(a, b), self.align_bwd(b, a)], 1))


class PyramidPCD(nn.Module):
    """PCD alignment of two single-level features (builds their pyramids first), ZSM's `Easy_PCD`."""

    def __init__(self, nf: int, groups: int) -> None:
        super().__init__()
        self.pyramid = Pyramid(nf)
        self.pcd = PCDAlign(nf, groups)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        n = a.shape[0]
        levels = self.pyramid(torch.cat([a, b], 0))
        return self.pcd([lv[:n] for lv in levels], [lv[n:] for lv in levels])


class DeformableConvLSTM(nn.Module):
    """ConvLSTM whose hidden and cell states are aligned to each input by PCD before the update.

    Run forward and on the reversed sequence with shared weights; outputs fused by a 1x1 conv.
    """

    def __init__(self, nf: int, groups: int) -> None:
        super().__init__()
        self.nf = nf
        self.pcd_h = PyramidPCD(nf, groups)
        self.pcd_c = PyramidPCD(nf, groups)
        self.gates = nn.Conv2d(2 * nf, 4 * nf, 3, 1, 1)
        self.fuse = nn.Conv2d(2 * nf, nf, 1)

    def _run(self, seq: list[Tensor]) -> list[Tensor]:
        h = torch.zeros_like(seq[0])
        c = torch.zeros_like(seq[0])
        outs = []
        for x in seq:
            h_al = self.pcd_h(x, h)
            c_al = self.pcd_c(x, c)
            i, f, o, g = torch.split(self.gates(torch.cat([x, h_al], 1)), self.nf, dim=1)
            c = torch.sigmoid(f) * c_al + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return outs

    def forward(self, seq: list[Tensor]) -> list[Tensor]:
        fwd = self._run(seq)
        bwd = self._run(seq[::-1])[::-1]
        return [self.fuse(torch.cat([f, b], 1)) for f, b in zip(fwd, bwd)]


class ZoomingSlowMoEncoder(nn.Module):
    """(B, 3, h, w) x 2 in [0, 1] -> (B, 3*nf, h, w): features at t = 0, 0.5, 1 concatenated.

    In two parts: `frame_part` depends on one frame only (feature extractor, pyramid and, without the
    ConvLSTM, the trunk of that frame's own time step), so a video's sliding pairs compute it once per
    frame; `pair_part` joins two frames' parts (PCD alignment into the middle feature, the ConvLSTM, the
    trunk of the remaining time steps). forward = both, on one pair."""

    def __init__(self, nf: int = 64, groups: int = 8, front_blocks: int = 5, back_blocks: int = 40,
                 convlstm: bool = True) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.feature_extraction = nn.Sequential(*[ResidualBlock(nf) for _ in range(front_blocks)])
        self.pyramid = Pyramid(nf)
        self.pcd = PCDAlign(nf, groups)
        self.lstm = DeformableConvLSTM(nf, groups) if convlstm else None
        self.recon_trunk = nn.Sequential(*[ResidualBlock(nf) for _ in range(back_blocks)])

    def frame_part(self, frames: Tensor) -> tuple[list[Tensor], Tensor | None]:
        """The per-frame part of frames (B, 3, h, w): the pyramid [L1 (B, nf, h, w), L2, L3] and, without
        the ConvLSTM, the trunk's output at the frame's own time step (B, nf, h, w) (else None)."""
        levels = self.pyramid(self.feature_extraction(conv(self.conv_first, frames, "lrelu")))
        return levels, (self.recon_trunk(levels[0]) if self.lstm is None else None)

    def pair_part(self, part0: tuple[list[Tensor], Tensor | None],
                  part1: tuple[list[Tensor], Tensor | None]) -> Tensor:
        """(B, 3*nf, h, w) from the `frame_part`s of frame 0 and frame 1."""
        (levels0, out0), (levels1, out1) = part0, part1
        mid = self.pcd(levels0, levels1)
        if self.lstm is None:
            return torch.cat([out0, self.recon_trunk(mid), out1], 1)
        n = mid.shape[0]
        out = self.recon_trunk(torch.cat(self.lstm([levels0[0], mid, levels1[0]]), 0))  # one batched pass
        return torch.cat(torch.split(out, n, 0), 1)

    def forward(self, frame0: Tensor, frame1: Tensor) -> Tensor:
        n = frame0.shape[0]
        levels, out = self.frame_part(torch.cat([frame0, frame1], 0))  # both frames in one batch
        levels0, levels1 = zip(*(lv.split(n) for lv in levels))
        out0, out1 = (None, None) if out is None else out.split(n)
        return self.pair_part((list(levels0), out0), (list(levels1), out1))
