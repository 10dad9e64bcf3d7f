"""videoinr: continuous space-time video super-resolution (VideoINR, CVPR 2022) in pure PyTorch.

    model = videoinr.create_model("lite")                  # shipped weights; "paper" or a .safetensors path
    state = model.encode(frame0, frame1)                   # (B, 3, h, w) in [0, 1], once per pair
    video = state.render(size=(H, W), t=[0.25, 0.5, 0.75])  # (B, T, 3, H, W), any size and times
    videoinr.upscale("in.mp4", "out.mp4", scale=2.7, time_scale=2)
"""
from videoinr.errors import VideoINRError
from videoinr.models import CONFIGS, ModelConfig, State, VideoINR, create_model, load_weights, save_weights
from videoinr.pipeline import upscale  # noqa: E402  (the function; the stages live in videoinr.pipeline)

__version__ = "0.1.0"
__all__ = ["CONFIGS", "ModelConfig", "State", "VideoINR", "VideoINRError", "__version__", "create_model",
           "load_weights", "save_weights", "upscale"]
