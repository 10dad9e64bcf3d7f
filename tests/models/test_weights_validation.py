"""Malformed weights files: each is one VideoINRError line naming the file and the problem, raised before any
tensor data is loaded or any model is allocated; through the CLI, one `error:` line and exit status 2."""
from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import videoinr
from videoinr.baselines import get_method
from videoinr.cli import main as cli_main
from videoinr.errors import VideoINRError
from videoinr.models import CONFIGS, ModelConfig, VideoINR, load_weights, save_weights
from videoinr.models import registry

TINY = {**CONFIGS["lite"].to_dict(), "nf": 8, "groups": 2, "front_blocks": 1, "back_blocks": 1}


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "valid.safetensors"
    save_weights(VideoINR(ModelConfig.from_dict(TINY)), path, summary={"steps": 1})
    return path


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata())


def _config(**changes):
    """A mutation: the valid config with `changes`."""
    def mutate(tensors, meta):
        cfg = json.loads(meta["config"])
        cfg.update(changes)
        meta["config"] = json.dumps(cfg)
    return mutate


def _meta(key, text):
    def mutate(tensors, meta):
        if text is None:
            meta.pop(key)
        else:
            meta[key] = text
    return mutate


def _tensors(fn):
    def mutate(tensors, meta):
        fn(tensors)
    return mutate


def _first(tensors) -> str:
    return sorted(tensors)[0]


def _nan(t):
    k = _first(t)
    t[k] = t[k].clone()
    t[k].view(-1)[0] = float("nan")


def _int_tensor(t):
    k = _first(t)
    t[k] = torch.zeros(t[k].shape, dtype=torch.int32)


def _reshape(t):
    k = next(k for k in sorted(t) if t[k].dim() == 2)
    t[k] = torch.zeros(t[k].shape[0] + 1, t[k].shape[1])


# (id, mutation of (tensors, metadata), pattern the error must match)
CASES = [
    ("bad-json", _meta("config", '{"nf": 8,'), r"metadata 'config' is not valid JSON"),
    ("config-list", _meta("config", "[8, 2]"), r"'config' must be a JSON object, got list"),
    ("config-string", _meta("config", '"lite"'), r"'config' must be a JSON object, got str"),
    ("no-config", _meta("config", None), r"no videoinr config"),
    ("summary-bad-json", _meta("summary", "{"), r"metadata 'summary' is not valid JSON"),
    ("summary-list", _meta("summary", "[]"), r"'summary' must be a JSON object"),
    ("groups-0", _config(groups=0), r"'groups' 0: must be an integer in 1\.\.4096"),
    ("nf-string", _config(nf="abc"), r"'nf' 'abc': must be an integer"),
    ("nf-float", _config(nf=8.0), r"'nf' .*: must be an integer"),
    ("nf-bool", _config(nf=True), r"'nf' .*: must be an integer"),
    ("nf-huge", _config(nf=2**40), r"'nf' 1099511627776: must be an integer in 1\.\.4096"),
    ("nf-not-multiple", _config(nf=9), r"nf \(9\) must be a positive multiple of groups \(2\)"),
    ("negative-width", _config(spatial_hidden=[-16, 16, 32]), r"'spatial_hidden' .*: must be a list"),
    ("width-string", _config(decoder_hidden="32"), r"'decoder_hidden' .*: must be a list"),
    ("width-empty", _config(temporal_hidden=[]), r"'temporal_hidden' .*: must be a list"),
    ("width-huge", _config(decoder_hidden=[32, 10**9]), r"'decoder_hidden' .*: must be a list"),
    ("hr-dim-negative", _config(hr_dim=-1), r"'hr_dim' .*: must be an integer"),
    ("blocks-huge", _config(back_blocks=10**9), r"'back_blocks' .*: must be an integer in 0\.\.256"),
    ("blocks-negative", _config(front_blocks=-1), r"'front_blocks' .*: must be an integer"),
    ("omega-nan", _config(omega0=float("nan")), r"'omega0' .*: must be a positive finite number"),
    ("omega-zero", _config(omega0=0), r"'omega0' .*: must be a positive finite number"),
    ("omega-string", _config(omega0="30"), r"'omega0' .*: must be a positive finite number"),
    ("bool-as-int", _config(convlstm=1), r"'convlstm' 1: must be true or false"),
    ("bool-as-string", _config(flow_prior="yes"), r"'flow_prior' .*: must be true or false"),
    ("name-int", _config(name=5), r"'name' .*: must be a non-empty printable string"),
    ("unknown-key", _config(colour=3), r"unknown model config key\(s\): colour"),
    ("config-other-model", _config(nf=16), r"does not match its config: .*wrong shape"),
    ("config-no-rgb-skip", _config(rgb_skip=False), r"does not match its config: .*wrong shape"),
    ("config-convlstm", _config(convlstm=True), r"does not match its config: .*missing"),
    ("missing-tensor", _tensors(lambda t: t.pop(_first(t))), r"does not match its config: 1 tensor\(s\) missing"),
    ("extra-tensor", _tensors(lambda t: t.update(extra=torch.zeros(2))), r"1 unexpected \(e\.g\. 'extra'\)"),
    ("wrong-shape", _tensors(_reshape), r"1 of the wrong shape"),
    ("int-dtype", _tensors(_int_tensor), r"has dtype I32"),
]


def _write(valid: Path, tmp_path: Path, mutate) -> Path:
    tensors, meta = _read(valid)
    mutate(tensors, meta)
    path = tmp_path / "bad.safetensors"
    save_file(tensors, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("mutate, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_weights_are_one_clear_error_before_loading(valid, tmp_path, monkeypatch, mutate, pattern):
    path = _write(valid, tmp_path, mutate)

    def no_load(*a, **k):  # validation must reject the file before any tensor data is read
        raise AssertionError("tensor data loaded before validation")

    monkeypatch.setattr(registry, "load_file", no_load)
    for load in (load_weights, videoinr.create_model):
        with pytest.raises(VideoINRError, match=pattern) as info:
            load(str(path))
        msg = str(info.value)
        assert str(path) in msg and "\n" not in msg and len(msg) < 400, msg
    with pytest.raises(VideoINRError, match=pattern):  # eval's route
        get_method(str(path))


def test_non_finite_values_and_truncated_files(valid, tmp_path):
    path = _write(valid, tmp_path, _tensors(_nan))
    with pytest.raises(VideoINRError, match="non-finite"):
        load_weights(path)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(valid.read_bytes()[:-100])
    with pytest.raises(VideoINRError, match=f"cannot read weights file {cut}"):
        load_weights(cut)
    with pytest.raises(VideoINRError, match="is not a file"):
        load_weights(tmp_path)


def test_valid_files_still_load(valid, tmp_path):
    model = load_weights(valid)
    assert model.cfg == ModelConfig.from_dict(TINY) and model.summary == {"steps": 1}
    # flow_prior adds no tensors: the same tensors under either setting are valid
    path = _write(valid, tmp_path, _config(flow_prior=not TINY["flow_prior"]))
    assert load_weights(path).cfg.flow_prior is not TINY["flow_prior"]
    # half-precision files load as float32
    tensors, meta = _read(valid)
    half = tmp_path / "half.safetensors"
    save_file({k: v.to(torch.bfloat16) for k, v in tensors.items()}, str(half), metadata=meta)
    assert next(iter(load_weights(half).parameters())).dtype == torch.float32


@pytest.mark.parametrize("case", ["bad-json", "groups-0"])
def test_cli_reports_malformed_weights_in_one_line(valid, tmp_path, capsys, case):
    mutate, pattern = next(c[1:] for c in CASES if c[0] == case)
    path = _write(valid, tmp_path, mutate)
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(frames / f"{i:04d}.png"), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    out = tmp_path / "out"
    code = cli_main(["upscale", str(frames), "-o", str(out), "--scale", "2", "--model", str(path),
                     "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error:") and str(path) in last, err
    assert re.search(pattern, last), last
    assert not out.exists() or not any(out.iterdir())
