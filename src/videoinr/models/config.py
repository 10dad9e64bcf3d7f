"""Model configurations as data. `CONFIGS` holds the named ones (`paper`, `lite`)."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from videoinr.errors import VideoINRError
from videoinr.models.conventions import CONVENTIONS
from videoinr.validate import from_mapping, require


# Sane bounds: far above any model this package trains, far below what would exhaust memory when built.
MAX_WIDTH = 4096  # nf, hr_dim and every SIREN hidden width
MAX_BLOCKS = 256  # front_blocks, back_blocks
MAX_LAYERS = 64  # hidden layers of one SIREN
MAX_NAME = 200


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_in(lo: int, hi: int) -> Callable[[object, str], int]:
    def check(v: object, path: str) -> int:
        require(_is_int(v) and lo <= v <= hi, path, v, f"must be an integer in {lo}..{hi}")
        return v
    return check


def _widths(v: object, path: str) -> tuple[int, ...]:
    require(isinstance(v, (list, tuple)) and 1 <= len(v) <= MAX_LAYERS
            and all(_is_int(x) and 1 <= x <= MAX_WIDTH for x in v), path, v,
            f"must be a list of 1 to {MAX_LAYERS} integers in 1..{MAX_WIDTH}")
    return tuple(v)


def _name(v: object, path: str) -> str:
    require(isinstance(v, str) and bool(v) and len(v) <= MAX_NAME and v.isprintable(), path, v,
            f"must be a non-empty printable string of at most {MAX_NAME} characters")
    return v


def _switch(v: object, path: str) -> bool:
    require(isinstance(v, bool), path, v, "must be true or false")
    return v


def _omega(v: object, path: str) -> float:
    require(not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0, path, v,
            "must be a positive finite number")
    return float(v)


def _conventions(v: object, path: str) -> str:
    require(v in CONVENTIONS, path, v, f"must be one of {', '.join(CONVENTIONS)}")
    return v


_SWITCH = {"check": _switch}


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

    name: str = field(default="paper", metadata={"check": _name})
    nf: int = field(default=64, metadata={"check": _int_in(1, MAX_WIDTH)})
    groups: int = field(default=8, metadata={"check": _int_in(1, MAX_WIDTH)})
    front_blocks: int = field(default=5, metadata={"check": _int_in(0, MAX_BLOCKS)})
    back_blocks: int = field(default=40, metadata={"check": _int_in(0, MAX_BLOCKS)})
    convlstm: bool = field(default=True, metadata=_SWITCH)
    hr_dim: int = field(default=64, metadata={"check": _int_in(1, MAX_WIDTH)})
    spatial_hidden: tuple[int, ...] = field(default=(64, 64, 256), metadata={"check": _widths})
    temporal_hidden: tuple[int, ...] = field(default=(64, 64, 256), metadata={"check": _widths})
    decoder_hidden: tuple[int, ...] = field(default=(64, 64, 256, 256), metadata={"check": _widths})
    omega0: float = field(default=30.0, metadata={"check": _omega})
    spatial_uses_t: bool = field(default=True, metadata=_SWITCH)
    rgb_skip: bool = field(default=False, metadata=_SWITCH)
    flow_prior: bool = field(default=False, metadata=_SWITCH)
    conventions: str = field(default="videoinr", metadata={"check": _conventions})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """A config from untrusted data (a weights file's metadata, training overrides): every key known,
        every value of its type and in range (`videoinr.validate.from_mapping`; bools are not ints, ints
        are not bools, JSON lists become tuples), else one-line VideoINRError naming the key."""
        return from_mapping(cls, d, what="model config", whole=_check_whole)


def _check_whole(out: dict) -> None:
    """The rules across keys: nf a multiple of groups; no non-paper extras under the official conventions."""
    nf = out.get("nf", ModelConfig.nf)
    groups = out.get("groups", ModelConfig.groups)
    if nf % groups:
        raise VideoINRError(f"model config: nf ({nf}) must be a positive multiple of groups ({groups})")
    if out.get("conventions") == "official":
        extras = [k for k in ("rgb_skip", "flow_prior") if out.get(k, getattr(ModelConfig, k))]
        if extras:
            raise VideoINRError(f"model config: conventions 'official' (the released code) has no "
                                f"{' or '.join(extras)}; turn {'them' if len(extras) > 1 else 'it'} off")


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
