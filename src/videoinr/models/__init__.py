"""Models: the VideoINR network, its configs and the registry."""
from videoinr.models.config import CONFIGS, ModelConfig
from videoinr.models.registry import create_model, load_weights, read_metadata, save_weights
from videoinr.models.sampling import make_grid, pixel_centers
from videoinr.models.render import State
from videoinr.models.videoinr import VideoINR

__all__ = ["CONFIGS", "ModelConfig", "State", "VideoINR", "create_model", "load_weights", "make_grid",
           "pixel_centers", "read_metadata", "save_weights"]
