"""`create_model` and safetensors weights I/O.

A weights file is a safetensors file whose metadata holds `config` (the ModelConfig as JSON) and
`summary` (JSON: how it was trained and measured). Nothing is ever unpickled.
"""
from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from videoinr.errors import VideoINRError
from videoinr.fileio import write_via_temp
from videoinr.models.config import CONFIGS, ModelConfig
from videoinr.validate import shown as _show
from videoinr.models.videoinr import InputLayout, VideoINR

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
PRETRAINED = {name: WEIGHTS_DIR / f"{name}.safetensors" for name in CONFIGS}


def create_model(
    name_or_path: str | os.PathLike = "lite", pretrained: bool = True, device: str | torch.device | None = None
) -> VideoINR:
    """Build a model by name (`lite`, `paper`) or from a weights file path, in eval mode.

    pretrained=True loads the weights shipped for the name (VideoINRError if none ship).
    """
    key = str(name_or_path)
    if key in CONFIGS:
        if not pretrained:
            model = VideoINR(CONFIGS[key])
        elif PRETRAINED[key].is_file():
            model = load_weights(PRETRAINED[key])
        else:
            raise VideoINRError(f"no shipped weights for model '{key}' (expected {PRETRAINED[key]}); "
                                "pass a weights file or pretrained=False")
    elif key.endswith(".safetensors") or Path(key).exists():
        model = load_weights(key)
    else:
        raise VideoINRError(f"unknown model '{key}': use one of {', '.join(CONFIGS)} or a .safetensors path")
    if device is not None:
        model = model.to(device)
    return model.eval()


FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
LEGACY_PREFIXES = ("spatial.", "temporal.", "decoder.")  # the SIRENs' keys before they moved under `inr.`


def upgrade_key(name: str) -> str:
    """A state-dict key of a file written by an earlier videoinr (SIRENs at the top level) in today's names."""
    return "inr." + name if name.startswith(LEGACY_PREFIXES) else name


def upgrade_state_dict(state: dict) -> dict:
    """`upgrade_key` on every key of a state dict."""
    return {upgrade_key(k): v for k, v in state.items()}  # safetensors dtype names a weights tensor may have


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata of a weights file: {'config': {...}, 'summary': {...}}.

    Checks the metadata's schema (not the config's values: `check_weights` does): `config` present and a
    JSON object, `summary` (if present) a JSON object. Other keys are JSON-decoded where they can be."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (OSError, SafetensorError, ValueError) as e:
        raise VideoINRError(f"cannot read weights file {path}: {_first_line(e)}") from None
    if "config" not in meta:
        raise VideoINRError(f"weights file {path} has no videoinr config in its metadata")
    out: dict = {}
    for key, text in meta.items():
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as e:
            if key in ("config", "summary"):
                raise VideoINRError(f"weights file {path}: metadata '{key}' is not valid JSON "
                                    f"({_first_line(e)})") from None
            value = text
        if key in ("config", "summary") and not isinstance(value, dict):
            raise VideoINRError(f"weights file {path}: metadata '{key}' must be a JSON object, "
                                f"got {type(value).__name__} {_show(value)}")
        out[key] = value
    return out


@functools.lru_cache(maxsize=8)
def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor of a VideoINR(cfg) state dict, built on the meta device (no memory)."""
    with torch.device("meta"):
        model = VideoINR(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_weights(path: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """(config, metadata) of a weights file after validating it without loading or allocating anything:
    the metadata's schema, every config value's type and range, and the file's tensor names, shapes and
    dtypes against the config. Any problem: one-line VideoINRError naming the file."""
    from safetensors import safe_open

    p = Path(path)
    if not p.exists():
        raise VideoINRError(f"weights file not found: {path}")
    if not p.is_file():
        raise VideoINRError(f"weights file {path} is not a file")
    meta = read_metadata(path)
    try:
        cfg = ModelConfig.from_dict(meta["config"])
    except VideoINRError as e:
        raise VideoINRError(f"weights file {path}: {e}") from None
    expected = expected_shapes(cfg)
    try:
        with safe_open(str(path), framework="pt") as f:
            found = {}
            for name in f.keys():
                sl = f.get_slice(name)
                found[upgrade_key(name)] = (tuple(sl.get_shape()), sl.get_dtype())
    except (OSError, SafetensorError, ValueError) as e:
        raise VideoINRError(f"cannot read weights file {path}: {_first_line(e)}") from None
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    wrong = [k for k in expected if k in found and found[k][0] != expected[k]]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} tensor(s) missing (e.g. {_show(missing[0])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {_show(unexpected[0])})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} of the wrong shape (e.g. {k}: {list(found[k][0])} in the file, "
                         f"{list(expected[k])} for the config)")
        raise VideoINRError(f"weights file {path} does not match its config: {'; '.join(parts)}")
    bad_dtype = [k for k in found if found[k][1] not in FLOAT_DTYPES]
    if bad_dtype:
        k = bad_dtype[0]
        raise VideoINRError(f"weights file {path}: tensor {k} has dtype {found[k][1]} "
                            f"(expected one of {', '.join(FLOAT_DTYPES)})")
    return cfg, meta


def load_weights(path: str | os.PathLike) -> VideoINR:
    """A model built from the config stored in `path` with its weights (float32). The file is validated
    first (`check_weights`); nothing is allocated for a malformed file."""
    cfg, meta = check_weights(path)
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError, ValueError) as e:
        raise VideoINRError(f"cannot read weights file {path}: {_first_line(e)}") from None
    state = {k: v.float() for k, v in upgrade_state_dict(state).items()}
    for k, v in state.items():
        if not torch.isfinite(v).all():
            raise VideoINRError(f"weights file {path}: tensor {k} holds non-finite values (NaN or inf)")
    model = VideoINR(cfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:  # not expected after check_weights; still one line
        raise VideoINRError(f"weights file {path} does not match its config: {_first_line(e)}") from None
    model.summary = meta.get("summary", {})
    return model


GROWABLE = ("front_blocks", "back_blocks")  # block counts `grow_weights` may increase
GROWABLE_WIDTHS = ("hr_dim", "spatial_hidden", "temporal_hidden", "decoder_hidden")  # and these widths
SIRENS = ("spatial", "temporal", "decoder")


def _embed(old: Tensor, new: Tensor, cols: tuple[list[int], list[int]] | None) -> None:
    """Copy a SIREN tensor `old` into the leading rows of the larger `new`, in place. Added rows (new units)
    keep their random init; in the old rows, old columns go block by block (`cols` = old and new widths of
    the input blocks; None: one block) and added columns (new inputs) are zero, so the old units, and with
    them the output, do not change."""
    rows = old.shape[0]
    if old.dim() == 1:
        new[:rows] = old
        return
    new[:rows] = 0.0
    o = n = 0
    for wo, wn in zip(*(cols or ([old.shape[1]], [new.shape[1]]))):
        new[:rows, n : n + wo] = old[:, o : o + wo]
        o, n = o + wo, n + wn


def _check_growth(path: str | os.PathLike, small: ModelConfig, cfg: ModelConfig) -> None:
    for key in GROWABLE:
        if getattr(cfg, key) < getattr(small, key):
            raise VideoINRError(f"cannot grow {path}: {key} {getattr(small, key)} -> {getattr(cfg, key)} "
                                "removes blocks")
    for key in GROWABLE_WIDTHS:
        a, b = getattr(small, key), getattr(cfg, key)
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        if len(a) != len(b) or any(y < x for x, y in zip(a, b)):
            raise VideoINRError(f"cannot grow {path}: {key} {getattr(small, key)} -> {getattr(cfg, key)} "
                                "narrows or changes the number of layers")


def grow_weights(path: str | os.PathLike, cfg: ModelConfig) -> VideoINR:
    """A VideoINR(cfg) that computes the same function as the weights in `path`, whose config may have
    fewer residual blocks (`front_blocks`, `back_blocks`), narrower implicit functions (`hr_dim`, the
    SIRENs' hidden widths; same number of layers) and differ in keys that add no tensors.

    Net2Net-style growth (training continues from the smaller model instead of from scratch): each added
    residual block (appended after the file's blocks) keeps its random conv1 and gets a zero conv2, so it
    starts as the identity; each added SIREN unit or HR-feature channel keeps its random incoming weights
    and gets zero outgoing weights, so it is computed but not yet used (and receives gradients)."""
    small = load_weights(path)
    _check_growth(path, small.cfg, cfg)
    model = VideoINR(cfg)
    state = model.state_dict()
    old = small.state_dict()
    added = {"encoder.feature_extraction": small.cfg.front_blocks, "encoder.recon_trunk": small.cfg.back_blocks}
    first_cols = {s: (InputLayout(small.cfg).widths(s), InputLayout(cfg).widths(s)) for s in SIRENS}
    for name, tensor in state.items():
        if name in old:
            if old[name].shape != tensor.shape:
                siren, _, rest = name.removeprefix("inr.").partition(".")
                if not name.startswith("inr.") or siren not in SIRENS:  # only the implicit functions widen
                    raise VideoINRError(f"cannot grow {path} into the config: tensor {name} changes shape "
                                        f"{list(old[name].shape)} -> {list(tensor.shape)}")
                with torch.no_grad():
                    _embed(old[name], tensor, first_cols[siren] if rest.startswith("layers.0.") else None)
            else:
                tensor.copy_(old[name])
            continue
        prefix, _, rest = name.rpartition(".conv")  # e.g. encoder.recon_trunk.12 / 2.weight
        seq, _, index = prefix.rpartition(".")
        if seq not in added or not index.isdigit() or int(index) < added[seq]:
            raise VideoINRError(f"cannot grow {path} into the config: no source for tensor {name}")
        if rest.startswith("2."):
            tensor.zero_()
    model.summary = {"grown_from": str(path), "from_config": small.cfg.to_dict()}
    return model


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def save_weights(model: VideoINR, path: str | os.PathLike, summary: dict | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
    """Write model weights + config (+ summary) to a safetensors file atomically."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(model.cfg.to_dict()), "summary": json.dumps(summary or {})}
    write_via_temp(path, lambda t: save_file(tensors, str(t), metadata=meta))
