"""videoinr: continuous space-time video super-resolution (VideoINR, CVPR 2022) in pure PyTorch."""
from videoinr.errors import VideoINRError

__version__ = "0.1.0"
__all__ = ["VideoINRError", "__version__"]
