"""create_model and safetensors weights round trip."""
import pytest
import torch

import videoinr
from videoinr.models import read_metadata, save_weights


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = videoinr.create_model("lite", pretrained=False)
    path = tmp_path / "w.safetensors"
    save_weights(model, path, summary={"steps": 3})
    loaded = videoinr.create_model(str(path))
    assert loaded.cfg == model.cfg
    assert read_metadata(path)["summary"] == {"steps": 3}
    f = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(f, f).render((16, 16), [0.5]), model.encode(f, f).render((16, 16), [0.5]))
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_names_and_files(tmp_path):
    with pytest.raises(videoinr.VideoINRError, match="unknown model"):
        videoinr.create_model("huge")
    with pytest.raises(videoinr.VideoINRError, match="not found"):
        videoinr.create_model(str(tmp_path / "missing.safetensors"))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00not a safetensors file" * 10)
    with pytest.raises(videoinr.VideoINRError, match="cannot read"):
        videoinr.create_model(str(junk))


def test_unknown_config_key_is_a_clear_error():
    with pytest.raises(videoinr.VideoINRError, match="unknown model config key"):
        videoinr.ModelConfig.from_dict({"nf": 8, "colour": 3})
