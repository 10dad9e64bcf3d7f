"""Model configurations as data. `CONFIGS` holds the named ones (`paper`, `lite`)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from videoinr.errors import VideoINRError
from videoinr.models.conventions import CONVENTIONS


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
    conventions: str = "videoinr"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """A config from untrusted data (a weights file's metadata, training overrides): every key known,
        every value of its type and in range (`check_config_dict`), else one-line VideoINRError."""
        return cls(**check_config_dict(d))


# Sane bounds: far above any model this package trains, far below what would exhaust memory when built.
MAX_WIDTH = 4096  # nf, hr_dim and every SIREN hidden width
MAX_BLOCKS = 256  # front_blocks, back_blocks
MAX_LAYERS = 64  # hidden layers of one SIREN
MAX_NAME = 200


def _show(v: object) -> str:
    """A short, one-line repr of a (possibly huge or hostile) value for an error message."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_config_dict(d: object) -> dict:
    """Validated constructor arguments of a ModelConfig from a mapping (JSON lists become tuples).

    Keys may be missing (the field's default is used); unknown keys, wrong types (bools are not ints,
    ints are not bools) and out-of-range values raise VideoINRError naming the key."""
    if not isinstance(d, dict):
        raise VideoINRError(f"model config must be a JSON object (a mapping of keys to values), "
                            f"got {type(d).__name__} {_show(d)}")
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    bad_keys = [k for k in d if not isinstance(k, str)]
    if bad_keys:
        raise VideoINRError(f"model config keys must be strings, got {_show(bad_keys[0])}")
    unknown = sorted(set(d) - known)
    if unknown:
        raise VideoINRError(f"unknown model config key(s): {', '.join(_show(k)[1:-1] for k in unknown[:10])}")
    out: dict = {}
    for k, v in d.items():
        where = f"model config key '{k}'"
        if k == "name":
            if not isinstance(v, str) or not v or len(v) > MAX_NAME or not v.isprintable():
                raise VideoINRError(f"{where} must be a non-empty printable string of at most {MAX_NAME} "
                                    f"characters, got {_show(v)}")
        elif k in ("nf", "groups", "hr_dim"):
            if not _is_int(v) or not 1 <= v <= MAX_WIDTH:
                raise VideoINRError(f"{where} must be an integer in 1..{MAX_WIDTH}, got {_show(v)}")
        elif k in ("front_blocks", "back_blocks"):
            if not _is_int(v) or not 0 <= v <= MAX_BLOCKS:
                raise VideoINRError(f"{where} must be an integer in 0..{MAX_BLOCKS}, got {_show(v)}")
        elif k in ("spatial_hidden", "temporal_hidden", "decoder_hidden"):
            if (not isinstance(v, (list, tuple)) or not 1 <= len(v) <= MAX_LAYERS
                    or not all(_is_int(x) and 1 <= x <= MAX_WIDTH for x in v)):
                raise VideoINRError(f"{where} must be a list of 1 to {MAX_LAYERS} integers in 1..{MAX_WIDTH}, "
                                    f"got {_show(v)}")
            v = tuple(v)
        elif k == "conventions":
            if v not in CONVENTIONS:
                raise VideoINRError(f"{where} must be one of {', '.join(CONVENTIONS)}, got {_show(v)}")
        elif k == "omega0":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise VideoINRError(f"{where} must be a positive finite number, got {_show(v)}")
            v = float(v)
        else:  # the boolean switches
            if not isinstance(v, bool):
                raise VideoINRError(f"{where} must be true or false, got {_show(v)}")
        out[k] = v
    nf = out.get("nf", ModelConfig.nf)
    groups = out.get("groups", ModelConfig.groups)
    if nf % groups:
        raise VideoINRError(f"model config: nf ({nf}) must be a positive multiple of groups ({groups})")
    if out.get("conventions") == "official":
        extras = [k for k in ("rgb_skip", "flow_prior") if out.get(k, getattr(ModelConfig, k))]
        if extras:
            raise VideoINRError(f"model config: conventions 'official' (the released code) has no "
                                f"{' or '.join(extras)}; turn {'them' if len(extras) > 1 else 'it'} off")
    return out


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
