"""videoinr: continuous space-time video super-resolution (VideoINR, CVPR 2022) in pure PyTorch.

    model = videoinr.create_model("lite")                  # shipped weights; "paper" or a .safetensors path
    state = model.encode(frame0, frame1)                   # (B, 3, h, w) in [0, 1], once per pair
    video = state.render(size=(H, W), t=[0.25, 0.5, 0.75])  # (B, T, 3, H, W), any size and times
    videoinr.upscale("in.mp4", "out.mp4", scale=2.7, time_scale=2)

The names below are imported on first use (PEP 562), so `import videoinr` (and the `videoinr` command,
whose entry point lives in this package) starts without importing PyTorch: a Ctrl-C in the first seconds is
handled by the command's one-line "interrupted", not a traceback from inside an import.
"""
import importlib

from videoinr.errors import Stopped, VideoINRError

__version__ = "0.1.0"
_LAZY = {
    "CONFIGS": "videoinr.models", "ModelConfig": "videoinr.models", "State": "videoinr.models",
    "VideoINR": "videoinr.models", "create_model": "videoinr.models", "load_weights": "videoinr.models",
    "save_weights": "videoinr.models", "upscale": "videoinr.pipeline", "estimate": "videoinr.pipeline",
    "UpscaleOptions": "videoinr.pipeline", "upscale_options": "videoinr.pipeline",
}
__all__ = ["CONFIGS", "ModelConfig", "State", "Stopped", "UpscaleOptions", "VideoINR", "VideoINRError", "__version__",
           "create_model", "estimate", "load_weights", "save_weights", "upscale", "upscale_options"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'videoinr' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
