"""`create_model` and safetensors weights I/O.

A weights file is a safetensors file whose metadata holds `config` (the ModelConfig as JSON) and
`summary` (JSON: how it was trained and measured). Nothing is ever unpickled.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from videoinr.errors import VideoINRError
from videoinr.models.config import CONFIGS, ModelConfig
from videoinr.models.videoinr import VideoINR

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


def read_metadata(path: str | os.PathLike) -> dict:
    """The JSON metadata of a weights file: {'config': {...}, 'summary': {...}}."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (OSError, SafetensorError, ValueError) as e:
        raise VideoINRError(f"cannot read weights file {path}: {str(e).splitlines()[0]}") from None
    if "config" not in meta:
        raise VideoINRError(f"weights file {path} has no videoinr config in its metadata")
    return {k: json.loads(v) for k, v in meta.items()}


def load_weights(path: str | os.PathLike) -> VideoINR:
    """A model built from the config stored in `path` with its weights (float32)."""
    if not Path(path).is_file():
        raise VideoINRError(f"weights file not found: {path}")
    meta = read_metadata(path)
    model = VideoINR(ModelConfig.from_dict(meta["config"]))
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise VideoINRError(f"weights file {path} does not match its config "
                            f"(missing {len(missing)}, unexpected {len(unexpected)} tensors)")
    model.summary = meta.get("summary", {})
    return model


def save_weights(model: VideoINR, path: str | os.PathLike, summary: dict | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
    """Write model weights + config (+ summary) to a safetensors file atomically."""
    path = Path(path)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    meta = {"config": json.dumps(model.cfg.to_dict()), "summary": json.dumps(summary or {})}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.replace(tmp, path)
