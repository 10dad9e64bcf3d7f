"""Checkpoints of the released VideoINR code (`LunaTokis`, a pickled `.pth`) -> our `VideoINR` with
`conventions: official`: `read_official` (safe loading), `from_official` (keys, column layouts, config).

The released network is ours key for key (Zooming SlowMo encoder + three SIRENs) under other names, plus an
upsampler it never uses (`upconv1`, `upconv2`, `HRconv`, `conv_last`: dropped). Three first layers order
their input columns differently (see `InputLayout`):
    feat_imnet  (SpatialINR)   [feat | rgb | rel (y, x) | t]                  ours: rel as (x, y)
    flow_imnet  (TemporalINR)  [hr | feat | rgb | t]                          ours: + rel (x, y), zero here
    encode_imnet (decoder)     [hr0 | hr1 | feat0 | feat1 | rgb0 | rgb1 | t]   ours: [hr0 | feat0 | rgb0 | hr1 | ...]
"""
from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path

import torch
from torch import Tensor

from videoinr.errors import VideoINRError
from videoinr.models.config import ModelConfig
from videoinr.models.videoinr import InputLayout

UNUSED_PREFIXES = ("upconv1.", "upconv2.", "HRconv.", "conv_last.")
NESTING_KEYS = ("state_dict", "params", "params_ema", "model", "net", "network", "generator")
SIRENS = {"spatial": "feat_imnet", "temporal": "flow_imnet", "decoder": "encode_imnet"}
# official column blocks of each first layer, in their order (names as in InputLayout; rel_yx: rel as (y, x))
OFFICIAL_BLOCKS = {
    "spatial": ("feat", "rgb", "rel_yx", "t"),
    "temporal": ("hr", "feat", "rgb", "t"),
    "decoder": ("hr0", "hr1", "feat0", "feat1", "rgb0", "rgb1", "t"),
}


def read_official(path: str | os.PathLike) -> dict[str, Tensor]:
    """The state dict of an official checkpoint, read with `torch.load(weights_only=True)` only (nothing is
    executed; a pickle that needs other objects is refused). Accepts a bare state dict or one nested under a
    usual key (`state_dict`, `params`, ...), with or without `module.` prefixes. One-line VideoINRError."""
    p = Path(path)
    if not p.exists():
        raise VideoINRError(f"checkpoint not found: {path}")
    if not p.is_file():
        raise VideoINRError(f"checkpoint {path} is not a regular file")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the outcome is what matters
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise VideoINRError(f"{path}: refused, the pickle holds objects other than tensors and plain containers "
                            "(only weights-only checkpoints are read; nothing in it was executed)") from None
    except Exception as e:  # noqa: BLE001 - RuntimeError (zip), EOFError, ...: all "not loadable"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise VideoINRError(f"cannot read {path} as a PyTorch checkpoint ({type(e).__name__}: {first})") from None
    sd = _find_state_dict(obj)
    if sd is None:
        raise VideoINRError(f"{path} holds no state dict of tensors (a {type(obj).__name__}; expected a dict of "
                            f"tensors, or one under {', '.join(NESTING_KEYS[:3])}, ...)")
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _find_state_dict(obj: object) -> dict[str, Tensor] | None:
    def is_sd(d: object) -> bool:
        return isinstance(d, dict) and bool(d) and all(isinstance(k, str) and torch.is_tensor(v) for k, v in d.items())

    if is_sd(obj):
        return obj
    if isinstance(obj, dict):
        for key in NESTING_KEYS:
            if is_sd(obj.get(key)):
                return obj[key]
    return None


def official_name(ours: str, cfg: ModelConfig) -> str:
    """The official key of one of our state-dict keys."""
    name = ours.removeprefix("encoder.")
    for siren, off in SIRENS.items():
        prefix = f"inr.{siren}."
        if ours.startswith(prefix):
            rest = ours[len(prefix):]
            n_hidden = len(getattr(cfg, f"{siren}_hidden"))
            if rest.startswith("out."):
                return f"{off}.net.{n_hidden}.{rest[4:]}"
            i, _, leaf = rest.removeprefix("layers.").partition(".")
            return f"{off}.net.{i}.linear.{leaf}"
    name = name.replace("lstm.gates.", "ConvBLSTM.forward_net.cell_list.0.conv.")
    name = name.replace("lstm.fuse.", "ConvBLSTM.conv_1x1.")
    name = re.sub(r"^lstm\.(pcd_[hc])\.", r"ConvBLSTM.forward_net.\1.", name)
    name = re.sub(r"(^|\.)pyramid\.l(\d)_conv(\d)\.", r"\1fea_L\2_conv\3.", name)
    name = re.sub(r"(^|\.)pcd\.fusion\.", r"\1fusion.", name)
    m = re.search(r"(^|\.)pcd\.align_(fwd|bwd)\.l(\d)_(offset_conv\d|fea_conv|dcn)\.", name)
    if m:
        k = "1" if m.group(2) == "fwd" else "2"
        part = "dcnpack" if m.group(4) == "dcn" else m.group(4)
        name = name[: m.start()] + f"{m.group(1)}pcd_align.L{m.group(3)}_{part}_{k}." + name[m.end():]
    return name


def infer_config(sd: dict[str, Tensor]) -> ModelConfig:
    """The ModelConfig of an official state dict, read off its shapes (one-line VideoINRError if a tensor the
    shapes are read from is missing)."""
    def shape(key: str) -> tuple[int, ...]:
        if key not in sd:
            raise VideoINRError(f"not an official VideoINR checkpoint: no tensor '{key}'")
        return tuple(sd[key].shape)

    def count(prefix: str) -> int:
        return len({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix)})

    def hidden(off: str) -> tuple[int, ...]:
        n = count(f"{off}.net.")
        return tuple(shape(f"{off}.net.{i}.linear.weight")[0] for i in range(n - 1))

    nf = shape("conv_first.weight")[0]
    taps = shape("pcd_align.L1_dcnpack_1.conv_offset_mask.weight")[0]
    n_hidden = count("feat_imnet.net.") - 1
    return ModelConfig.from_dict({
        "name": "official", "nf": nf, "groups": max(1, taps // 27), "front_blocks": count("feature_extraction."),
        "back_blocks": count("recon_trunk."), "convlstm": True,
        "hr_dim": shape(f"feat_imnet.net.{n_hidden}.weight")[0], "spatial_hidden": hidden("feat_imnet"),
        "temporal_hidden": hidden("flow_imnet"), "decoder_hidden": hidden("encode_imnet"),
        "spatial_uses_t": True, "rgb_skip": False, "flow_prior": False, "conventions": "official"})


def _first_layer(weight: Tensor, siren: str, layout: InputLayout) -> Tensor:
    """An official first-layer weight (out, in) with its columns in our layout (`OFFICIAL_BLOCKS`)."""
    widths = dict(layout.blocks[siren]) | {"rel_yx": 2}
    blocks, k = {}, 0
    for name in OFFICIAL_BLOCKS[siren]:
        blocks[name] = weight[:, k : k + widths[name]]
        k += widths[name]
    if "rel_yx" in blocks:
        blocks["rel"] = blocks.pop("rel_yx").flip(1)  # (y, x) -> (x, y)
    blocks.setdefault("rel", weight.new_zeros(weight.shape[0], 2))  # TemporalINR: no offset input officially
    return torch.cat([blocks[name] for name in layout.names(siren)], 1)


def from_official(sd: dict[str, Tensor], expected: dict[str, tuple[int, ...]] | None = None) -> tuple[ModelConfig, dict[str, Tensor]]:
    """(config, our state dict, float32) of an official state dict. Every key is mapped or is the unused
    upsampler; every shape is checked (`expected`: our shapes for the config, computed when None)."""
    from videoinr.models.registry import expected_shapes

    cfg = infer_config(sd)
    expected = expected or expected_shapes(cfg)
    layout = InputLayout(cfg)
    names = {official_name(k, cfg): k for k in expected}
    unknown = [k for k in sd if k not in names and not k.startswith(UNUSED_PREFIXES)]
    missing = [off for off in names if off not in sd]
    if unknown or missing:
        parts = ([f"{len(missing)} tensor(s) missing (e.g. '{missing[0]}')"] if missing else []) + \
                ([f"{len(unknown)} unexpected (e.g. '{unknown[0]}')"] if unknown else [])
        raise VideoINRError(f"not an official VideoINR checkpoint of a known layout: {'; '.join(parts)}")
    out = {}
    for off, ours in names.items():
        v = sd[off]
        if not v.is_floating_point():
            raise VideoINRError(f"tensor '{off}' has dtype {v.dtype}, expected floating point")
        v = v.float()
        if ours.endswith("layers.0.weight") and ours.startswith("inr."):
            siren = ours.split(".")[1]
            off_width = sum(dict(layout.blocks[siren]).get(n, 2) for n in OFFICIAL_BLOCKS[siren])
            if v.dim() != 2 or v.shape[1] != off_width:
                raise VideoINRError(f"tensor '{off}' has shape {list(v.shape)}, expected "
                                    f"[{expected[ours][0]}, {off_width}]")
            v = _first_layer(v, siren, layout)
        if tuple(v.shape) != expected[ours]:
            raise VideoINRError(f"tensor '{off}' has shape {list(v.shape)}, expected {list(expected[ours])}")
        if not torch.isfinite(v).all():
            raise VideoINRError(f"tensor '{off}' holds non-finite values (NaN or inf)")
        out[ours] = v.contiguous()
    return cfg, out
