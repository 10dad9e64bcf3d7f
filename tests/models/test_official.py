"""The official code's own outputs, reproduced: `../shared/reference/official_videoinr/` holds a checkpoint in
the official format (random weights, float16, a pickle) and five cases the official code decoded (its
README). Imported with `videoinr import-official`, our model with `conventions: official` must give the same
numbers on the real content, to 1e-5, through `encode` / `render` and `query`; and `import-official`
refuses every bad checkpoint with one line and no output."""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import videoinr
from videoinr.cli import main as cli_main
from videoinr.models import make_grid, read_metadata
from videoinr.models.official import official_name, read_official

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "official_videoinr"
TOL = 1e-5


def _ref(name: str) -> Path:
    path = REF / name
    if not path.is_file():
        pytest.fail(f"reference data not found: {path} (tests need ../shared beside the repository)")
    return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("official") / "official.safetensors"
    assert cli_main(["import-official", str(_ref("official_random.pth")), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def model(imported):
    m = videoinr.create_model(str(imported))
    # contiguous encoder weights: same numbers; oneDNN's channels-last primitives cost ~15 s to set up on
    # these tiny frames (the default format is for real sizes)
    m.encoder.to(memory_format=torch.contiguous_format)
    return m


def _cases() -> list[tuple[dict, dict]]:
    path = _ref("cases.safetensors")
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["cases"])
    return [(c, {k.split("/")[1]: v for k, v in tensors.items() if k.startswith(f"case{c['case']}/")}) for c in meta]


def test_import_writes_the_official_config_and_source(imported):
    meta = read_metadata(imported)
    cfg, summary = meta["config"], meta["summary"]
    assert cfg["conventions"] == "official" and cfg["spatial_uses_t"] and not cfg["rgb_skip"]
    assert (cfg["nf"], cfg["groups"], cfg["front_blocks"], cfg["back_blocks"]) == (64, 8, 5, 40)
    assert summary["source_file"] == "official_random.pth"
    assert summary["source_sha256"] == "2fcf94e0c329f459efebd35d8e48e324df9f7915e9f0e52aa4d0e347d13c3145"
    assert len(summary["dropped_unused"]) == 8 and summary["parameters"] == 10_978_743


@pytest.mark.parametrize("case", range(5))
def test_official_outputs_reproduced(model, case):
    meta, c = _cases()[case]
    ch, cw = (int(v) for v in meta["valid_crop"])
    want = c["out"][:, :, :ch, :cw]  # the real content of the padded output
    times = c["t"].tolist()
    with torch.no_grad():
        state = model.encode(c["frame0"], c["frame1"])
        got = state.render((ch, cw), times)[0]
        err = (got - want).abs().max().item()
        # query at every 5th pixel of each time, through the public API
        coords = make_grid((ch, cw))[None, ::5]
        q = torch.stack([state.query(coords, t, size=(ch, cw))[0] for t in times])
        q_want = want.flatten(2).transpose(1, 2)[:, ::5]
        q_err = (q - q_want).abs().max().item()
    print(f"case {case}: render max abs {err:.2e}, query {q_err:.2e}")
    assert err <= TOL and q_err <= TOL, (err, q_err)
    assert want.min() < 0  # the outputs are not clamped, and neither are ours
    if case == 1:  # a padded input: the region of the padded grid beyond the content is not returned
        assert got.shape[-2:] == (120, 180)


def test_official_sizes_off_the_padded_grid_are_refused(model):
    _, c = _cases()[1]  # 30x45 padded to 32x48: a 100-pixel-high output is 100 x 32/30 rows of the grid
    with torch.no_grad():
        state = model.encode(c["frame0"], c["frame1"])
        with pytest.raises(videoinr.VideoINRError, match="padded 32-pixel grid"):
            state.render((100, 180), [0.5])
        with pytest.raises(videoinr.VideoINRError, match="needs size"):
            state.query(make_grid((4, 4))[None], 0.5)
        with pytest.raises(videoinr.VideoINRError, match="exact=True"):
            state.render((120, 180), [0.5], exact=True)


def test_every_official_key_is_mapped_once():
    sd = read_official(_ref("official_random.pth"))
    cfg = videoinr.ModelConfig.from_dict({"conventions": "official"})
    ours = videoinr.VideoINR(cfg).state_dict()
    names = [official_name(k, cfg) for k in ours]
    assert len(set(names)) == len(names) == 434
    assert set(sd) - set(names) == {k for k in sd if k.split(".")[0] in ("upconv1", "upconv2", "HRconv", "conv_last")}


# ------------------------------------------------------------------ bad checkpoints
class _Payload:  # a pickle that holds an object: weights_only loading must refuse it, never construct it
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _bad(kind: str, tmp: Path) -> Path:
    sd = torch.load(_ref("official_random.pth"), map_location="cpu", weights_only=True)
    path = tmp / f"{kind}.pth"
    if kind == "missing-key":
        del sd["flow_imnet.net.0.linear.weight"]
    elif kind == "extra-key":
        sd["something_else.weight"] = torch.zeros(3)
    elif kind == "wrong-shape":
        sd["recon_trunk.3.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    elif kind == "wrong-first-layer":
        sd["encode_imnet.net.0.linear.weight"] = torch.zeros(64, 524)
    elif kind == "nan":
        sd["conv_first.bias"] = torch.full((64,), float("nan"))
    elif kind == "not-a-checkpoint":
        path.write_text("hello, this is text\n")
        return path
    elif kind == "truncated":
        data = _ref("official_random.pth").read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path
    elif kind == "object-pickle":
        torch.save({"state_dict": sd, "hook": _Payload()}, path)
        return path
    elif kind == "legacy-pickle":
        path.write_bytes(pickle.dumps({"state_dict": _Payload()}))
        return path
    elif kind == "other-objects":
        sd = {"epoch": 3, "optimizer": [1, 2]}
    elif kind == "fifo":
        os.mkfifo(path)
        return path
    torch.save(sd, path)
    return path


@pytest.mark.parametrize("kind", ["missing-key", "extra-key", "wrong-shape", "wrong-first-layer", "nan",
                                  "not-a-checkpoint", "truncated", "object-pickle", "legacy-pickle", "other-objects",
                                  "fifo"])
def test_bad_checkpoints_one_line_and_no_output(tmp_path, capsys, kind):
    src = _bad(kind, tmp_path)
    out = tmp_path / "out.safetensors"
    rc = cli_main(["import-official", str(src), "-o", str(out)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert not out.exists() and not list(tmp_path.glob("out.safetensors*")), list(tmp_path.iterdir())


def test_nested_and_prefixed_checkpoints_import_the_same(tmp_path, capsys, imported):
    sd = torch.load(_ref("official_random.pth"), map_location="cpu", weights_only=True)
    src = tmp_path / "nested.pth"
    torch.save({"params": {f"module.{k}": v for k, v in sd.items()}, "iter": 7}, src)
    out = tmp_path / "nested.safetensors"
    assert cli_main(["import-official", str(src), "-o", str(out)]) == 0
    a, b = load_file(str(out)), load_file(str(imported))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    capsys.readouterr()
    assert cli_main(["import-official", str(src), "-o", str(out)]) == 2  # exists: refused without --force
    assert "exists" in capsys.readouterr().err
    assert cli_main(["import-official", str(src), "-o", str(out), "--force"]) == 0


def test_training_refuses_official_conventions_and_fine_tunes_with_ours(imported):
    from videoinr.train import TrainConfig
    from videoinr.train.optim import build_model

    with pytest.raises(videoinr.VideoINRError, match="conventions 'videoinr' only"):
        build_model(TrainConfig(sources=["x"], init=str(imported)))
    model = build_model(TrainConfig(sources=["x"], init=str(imported), model_overrides={"conventions": "videoinr"}))
    assert model.cfg.conventions == "videoinr" and model.cfg.nf == 64
