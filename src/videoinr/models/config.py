"""Model configurations as data. `CONFIGS` holds the named ones (`paper`, `lite`)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from videoinr.errors import VideoINRError


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of a VideoINR network.

    nf: encoder width; the LR feature fed to the INRs has 3 * nf channels (t = 0, 0.5, 1 features).
    groups: deformable groups of every DCN. front_blocks / back_blocks: residual blocks before the
    pyramid and in the reconstruction trunk. convlstm: run the bidirectional deformable ConvLSTM
    (Zooming SlowMo; most of a small encoder's cost) or feed [F0, Fmid, F1] straight to the trunk.
    hr_dim: width of SpatialINR's output (the HR feature).
    *_hidden: hidden widths of the three SIRENs; omega0: SIREN frequency.
    spatial_uses_t: feed t to SpatialINR (released code) or not (paper Eq. 2; the HR feature is then
    computed once per pair and pixel and reused for every t).
    rgb_skip: add a flow-warped, bicubic-sampled blend of the two LR frames to the decoder output (the
    decoder then also predicts the blend weight). Not in the paper; it gives small models a strong start.
    flow_prior: compute classical optical flow (OpenCV DIS, both directions) between the two LR frames in
    `encode`; the flows to time t start from it (F_t0 = t F_10, F_t1 = (1 - t) F_01) and TemporalINR
    predicts the correction. Not in the paper (off in `paper`): without it the temporal path learns no
    motion on our data (see docs/MODEL_CARD.md).
    """

    name: str = "paper"
    nf: int = 64
    groups: int = 8
    front_blocks: int = 5
    back_blocks: int = 40
    convlstm: bool = True
    hr_dim: int = 64
    spatial_hidden: tuple[int, ...] = (64, 64, 256)
    temporal_hidden: tuple[int, ...] = (64, 64, 256)
    decoder_hidden: tuple[int, ...] = (64, 64, 256, 256)
    omega0: float = 30.0
    spatial_uses_t: bool = True
    rgb_skip: bool = False
    flow_prior: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise VideoINRError(f"unknown model config key(s): {', '.join(unknown)}")
        vals = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        cfg = cls(**vals)
        if cfg.nf <= 0 or cfg.nf % cfg.groups:
            raise VideoINRError(f"model config: nf ({cfg.nf}) must be a positive multiple of groups ({cfg.groups})")
        return cfg


CONFIGS: dict[str, ModelConfig] = {
    "paper": ModelConfig(),
    "lite": ModelConfig(
        name="lite",
        nf=24,
        groups=2,
        front_blocks=2,
        back_blocks=10,
        convlstm=False,  # the deformable ConvLSTM was 80% of lite's encoder FLOPs (and 4x its training time)
        hr_dim=16,
        spatial_hidden=(16, 16, 32),
        temporal_hidden=(16, 16, 32),
        decoder_hidden=(32, 32, 32),
        spatial_uses_t=False,
        rgb_skip=True,
        flow_prior=True,  # without it the temporal path learned no motion (a blend): docs/MODEL_CARD.md
    ),
}
