"""create_model and safetensors weights round trip."""
import os
import stat

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
    assert not list(tmp_path.glob(".*.tmp*"))  # fileio.temp_sibling names
    # the usual permissions under the umask (safetensors alone creates files only their owner can read)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


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


def test_grow_weights_adds_identity_blocks_that_train(pair):
    """Growing the shipped `lite` (more residual blocks, as `base` is trained) keeps its output exactly;
    the added blocks receive gradients; removing blocks or changing a width is refused in one line."""
    import dataclasses

    from videoinr.models import load_weights
    from videoinr.models.registry import PRETRAINED, grow_weights

    small = load_weights(PRETRAINED["lite"]).eval()
    cfg = dataclasses.replace(small.cfg, front_blocks=small.cfg.front_blocks + 1, back_blocks=small.cfg.back_blocks + 3)
    torch.manual_seed(0)
    big = grow_weights(PRETRAINED["lite"], cfg).eval()
    assert len(big.encoder.recon_trunk) == small.cfg.back_blocks + 3
    f0, f1 = pair
    with torch.no_grad():
        ref = small.encode(f0, f1).render((26, 34), [0.0, 0.3])
        out = big.encode(f0, f1).render((26, 34), [0.0, 0.3])
    assert ref.std() > 0.05
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    big.train()
    big.encode(f0, f1).render((26, 34), [0.3]).mean().backward()
    new = big.encoder.recon_trunk[-1]
    assert new.conv2.weight.grad.abs().sum() > 0 and torch.count_nonzero(new.conv1.weight) > 0
    with pytest.raises(videoinr.VideoINRError, match="removes blocks"):
        grow_weights(PRETRAINED["lite"], dataclasses.replace(small.cfg, back_blocks=small.cfg.back_blocks - 1))
    with pytest.raises(videoinr.VideoINRError, match="changes shape"):
        grow_weights(PRETRAINED["lite"], dataclasses.replace(small.cfg, nf=small.cfg.nf + 8))


def test_grow_weights_widens_the_implicit_functions(pair):
    """Wider SIRENs and HR feature (hr_dim) keep the shipped `lite`'s output exactly, in the frame form and
    the per-point form; the added units and channels receive gradients; narrowing is refused in one line."""
    import dataclasses

    from videoinr.models import load_weights
    from videoinr.models.registry import PRETRAINED, grow_weights

    small = load_weights(PRETRAINED["lite"]).eval()
    c = small.cfg
    cfg = dataclasses.replace(c, hr_dim=c.hr_dim + 8, spatial_hidden=tuple(w + 8 for w in c.spatial_hidden),
                              temporal_hidden=tuple(w + 4 for w in c.temporal_hidden),
                              decoder_hidden=tuple(w + 4 for w in c.decoder_hidden))
    torch.manual_seed(0)
    big = grow_weights(PRETRAINED["lite"], cfg).eval()
    assert big.inr.spatial.out.out_features == c.hr_dim + 8
    f0, f1 = pair
    with torch.no_grad():
        for exact in (False, True):
            ref = small.encode(f0, f1).render((26, 34), [0.0, 0.3], exact=exact)
            out = big.encode(f0, f1).render((26, 34), [0.0, 0.3], exact=exact)
            assert ref.std() > 0.05
            torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    big.train()
    big.encode(f0, f1).render((26, 34), [0.3]).mean().backward()
    hr = c.hr_dim
    assert big.inr.decoder.out.weight.grad[:, c.decoder_hidden[-1]:].abs().sum() > 0  # new decoder units
    assert big.inr.temporal.first.weight.grad[:, hr : hr + 8].abs().sum() > 0  # new HR-feature channels
    assert torch.count_nonzero(big.inr.spatial.out.weight[hr:]) > 0  # ... which are computed
    with pytest.raises(videoinr.VideoINRError, match="narrows"):
        grow_weights(PRETRAINED["lite"], dataclasses.replace(c, hr_dim=c.hr_dim - 1))
    with pytest.raises(videoinr.VideoINRError, match="number of layers"):
        grow_weights(PRETRAINED["lite"], dataclasses.replace(c, decoder_hidden=(*c.decoder_hidden, 32)))


def test_files_of_earlier_versions_load_with_their_siren_keys(tmp_path):
    """Before the SIRENs moved under `inr.`, weights files named them `spatial.`, `temporal.`, `decoder.`:
    such a file (and a training checkpoint's model state) still loads, to the same function."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    src = videoinr.models.registry.PRETRAINED["lite"]
    with safe_open(str(src), framework="pt") as f:
        meta = f.metadata()
        old = {k.removeprefix("inr."): f.get_tensor(k) for k in f.keys()}
    assert any(k.startswith("spatial.") for k in old)
    path = tmp_path / "old_names.safetensors"
    save_file(old, str(path), metadata=meta)
    a, b = videoinr.create_model(str(path)), videoinr.create_model("lite")
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
