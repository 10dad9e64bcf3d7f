"""videoinr: continuous space-time video super-resolution (VideoINR, CVPR 2022) in pure PyTorch."""
from videoinr.errors import VideoINRError
from videoinr.models import CONFIGS, ModelConfig, State, VideoINR, create_model, load_weights, save_weights

__version__ = "0.1.0"
__all__ = ["CONFIGS", "ModelConfig", "State", "VideoINR", "VideoINRError", "__version__", "create_model",
           "load_weights", "save_weights"]
