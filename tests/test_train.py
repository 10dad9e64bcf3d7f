"""Training loop: config parsing, loss goes down, exact resume, metrics/checkpoint files, DDP replicas, bad
input. Tiny model overrides and 8x8 LR patches on real frames (a few Vimeo septuplets and DAVIS frames)."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from videoinr.cli import main as cli_main
from videoinr.errors import VideoINRError
from videoinr.models import VideoINR, load_weights
from videoinr.train import (METRIC_COLUMNS, TrainConfig, charbonnier, load_config, lr_at, parse_overrides,
                            prepare_batch, scale_at, StepSampler, build_data)
from videoinr.train import main as train_main

TINY = {"nf": 8, "groups": 2, "front_blocks": 1, "back_blocks": 1}


def tiny_config(data: Path, tmp: Path, **kw) -> Path:
    """A YAML config for a tiny model: Vimeo septuplets + 12 DAVIS frames, validation on DAVIS dog."""
    cfg = {
        "model": "lite",
        "model_overrides": TINY,
        "sources": [
            {"path": str(data / "train" / "vimeo90k_septuplets"), "kind": "vimeo", "window": 7},
            {"path": str(data / "train" / "davis480p" / "kite-surf"), "kind": "folder", "window": 5,
             "max_frames": 12},
        ],
        "lr_patch": 8,
        "batch_size": 2,
        "steps": 4,
        "stage1_steps": 2,
        "val_source": str(data / "train" / "davis480p" / "dog"),
        "val_window": 5,
        "val_windows": 1,
        "val_crop": 48,
        "val_every": 2,
        "ckpt_every": 2,
        "log_every": 1,
        "threads": 1,
    }
    cfg.update(kw)
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def read_metrics(out: Path) -> list[dict[str, str]]:
    with open(out / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------------------------------- config


def test_config_yaml_and_typed_overrides(shared_data, tmp_path):
    path = tiny_config(shared_data, tmp_path)
    cfg = load_config(path, ["lr=3e-4", "points_per_target=64", "betas=[0.8, 0.99]", "model_overrides.nf=16",
                             "precision=bf16", "grad_clip=null"], steps=7)
    assert isinstance(cfg, TrainConfig)
    assert cfg.lr == 3e-4 and cfg.points_per_target == 64 and cfg.betas == (0.8, 0.99)
    assert cfg.model_overrides == {**TINY, "nf": 16} and cfg.steps == 7 and cfg.grad_clip is None
    assert cfg.model_config().nf == 16 and cfg.model_config().back_blocks == 1
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": 1, "c": "x"}}


@pytest.mark.parametrize("override, key", [
    ("colour=red", "colour"),
    ("lr=-1", "lr"),
    ("batch_size=abc", "batch_size"),
    ("batch_size=2.5", "batch_size"),
    ("precision=fp8", "precision"),
    ("scale_max=0.5", "scale_max"),
    ("model=huge", "model"),
    ("model_overrides.width=3", "width"),
    ("targets=9", "interior frames"),
    ("sources=[{path: x, kind: tape}]", "kind"),
    ("sources=[{path: x, colour: 1}]", "colour"),
    ("flip=3", "flip"),
])
def test_config_errors_name_the_key(shared_data, tmp_path, override, key):
    path = tiny_config(shared_data, tmp_path)
    with pytest.raises(VideoINRError, match=key):
        load_config(path, [override])


def test_schedule_functions():
    cfg = TrainConfig(sources=["x"], lr=1e-4, eta_min=1e-7, cosine_period=10, stage1_steps=3, scale_min=1, scale_max=4)
    assert lr_at(cfg, 0) == pytest.approx(1e-4) and lr_at(cfg, 10) == pytest.approx(1e-4)  # restart
    assert lr_at(cfg, 5) == pytest.approx((1e-4 + 1e-7) / 2)
    assert [scale_at(cfg, s) for s in range(3)] == [4.0] * 3
    s2 = [scale_at(cfg, s) for s in range(3, 50)]
    assert all(1 <= s <= 4 for s in s2) and len(set(s2)) > 10 and scale_at(cfg, 7) == scale_at(cfg, 7)
    x = torch.zeros(5)
    assert charbonnier(x, x, 1e-3).item() == pytest.approx(1e-3)


# ------------------------------------------------------------------------------------------- batches


def test_prepare_batch_points_and_targets(shared_data, tmp_path):
    cfg = load_config(tiny_config(shared_data, tmp_path), ["points_per_target=40", "stage1_steps=0"])
    dataset, windows, weights = build_data(cfg, progress=False)
    assert windows == [7, 5] and len(dataset.datasets) == 2
    sampler = StepSampler([len(d) for d in dataset.datasets], weights, 4, cfg.seed, 0, 10)
    assert sampler.keys(3) == sampler.keys(3) and sampler.keys(3) != sampler.keys(4)
    # DDP slices of one global batch
    halves = [StepSampler([len(d) for d in dataset.datasets], weights, 4, cfg.seed, 0, 10, r, 2).keys(3) for r in (0, 1)]
    assert halves[0] + halves[1] == sampler.keys(3)
    saw_endpoint = False
    for step in range(6):
        batch = torch.utils.data.default_collate([dataset[k] for k in sampler.keys(step)])
        lr0, lr1, coords, t, gt, scale, flows = prepare_batch(batch, cfg, step, 0, torch.device("cpu"))
        assert flows.shape == (4, 4, 8, 8)  # lite's flow prior: [F_01 | F_10] on the LR patch
        b, p = 4, round(8 * scale)
        assert lr0.shape == lr1.shape == (b, 3, 8, 8) and 1 <= scale <= 4
        assert coords.shape == (b, 3 * 40, 2) and t.shape == (b, 120) and gt.shape == (b, 120, 3)
        assert coords.abs().max() < 1 and ((t >= 0) & (t <= 1)).all()
        # gt is the HR pixel at each queried pixel centre: check on the t = 0 targets (= HR input 0)
        hr0 = batch["inputs"][:, 0, :, :p, :p]
        for i in range(b):
            m = t[i] == 0
            if m.any():
                saw_endpoint = True
                ix = ((coords[i, m, 0] + 1) * p / 2 - 0.5).round().long()
                iy = ((coords[i, m, 1] + 1) * p / 2 - 0.5).round().long()
                assert torch.equal(gt[i, m], hr0[i, :, iy, ix].T)
    assert saw_endpoint  # target_frames=all draws the inputs' times too


def test_variable_gaps_and_prior_flows_from_the_config(shared_data, tmp_path):
    """min_window in a source draws input gaps per sample; prepare_batch passes the flows of the whole
    frames (the ones DIS finds on the full LR frames, cropped), which differ from flows of the crop."""
    src = {"path": str(shared_data / "train" / "davis480p" / "kite-surf"), "kind": "folder", "window": 9,
           "min_window": 3, "max_frames": 20}
    cfg = load_config(tiny_config(shared_data, tmp_path, sources=[src]), ["stage1_steps=100"])
    dataset, _, _ = build_data(cfg, progress=False)
    gaps = {int(dataset[(0, i)]["window"]) for i in range(40)}
    assert gaps == set(range(3, 10))
    batch = torch.utils.data.default_collate([dataset[(0, i)] for i in range(4)])
    lr0, lr1, _, _, _, scale, flows = prepare_batch(batch, cfg, 0, 0, torch.device("cpu"))
    assert scale == 4.0 and flows.shape == (4, 4, 8, 8)
    from videoinr.models.prior import pair_flows

    assert not torch.allclose(flows, pair_flows(lr0, lr1), atol=0.5)  # not the crops' own flows
    bad = [f"sources=[{{path: {src['path']}, window: 5, min_window: 6}}]"]
    with pytest.raises(VideoINRError, match="min_window"):
        load_config(tiny_config(shared_data, tmp_path), bad)


def test_init_weights_with_a_flow_prior_override(shared_data, tmp_path):
    """Stage 2 of a recipe: `init` weights without the prior, `model_overrides: {flow_prior: true}`."""
    from videoinr.models import CONFIGS, ModelConfig, save_weights

    base = ModelConfig.from_dict({**CONFIGS["lite"].to_dict(), **TINY, "flow_prior": False})
    torch.manual_seed(3)
    save_weights(VideoINR(base), tmp_path / "stage1.safetensors")
    path = tiny_config(shared_data, tmp_path, init=str(tmp_path / "stage1.safetensors"),
                       model_overrides={"flow_prior": True}, steps=1, val_every=0)
    cfg = load_config(path)
    assert cfg.model_config().flow_prior and cfg.model_config().nf == 8
    out = tmp_path / "run"
    assert train_main(["--config", str(path), "--out", str(out), "--no-progress", "steps=1", "lr=1e-12", "eta_min=0"]) == 0
    final = load_weights(out / "final.safetensors")
    assert final.cfg.flow_prior
    ref = load_weights(tmp_path / "stage1.safetensors").state_dict()
    assert all(torch.allclose(v, ref[k], atol=1e-6) for k, v in final.state_dict().items())


# ------------------------------------------------------------------------------------------- runs


def test_training_lowers_the_loss_on_a_fixed_batch(shared_data, tmp_path):
    path = tiny_config(shared_data, tmp_path, steps=25, lr=2e-3, val_every=0, ckpt_every=100, log_every=5)
    out = tmp_path / "run"
    assert train_main(["--config", str(path), "--out", str(out), "--no-progress"]) == 0
    cfg = load_config(path)
    dataset, _, weights = build_data(cfg, progress=False)
    keys = StepSampler([len(d) for d in dataset.datasets], weights, 2, cfg.seed, 0, 1).keys(0)
    batch = torch.utils.data.default_collate([dataset[k] for k in keys])
    lr0, lr1, coords, t, gt, _, flows = prepare_batch(batch, cfg, 0, 0, torch.device("cpu"))
    torch.manual_seed(cfg.seed)
    init = VideoINR(cfg.model_config())
    final = load_weights(out / "final.safetensors")
    with torch.no_grad():
        before = charbonnier(init.encode(lr0, lr1, flows).query(coords, t), gt).item()
        after = charbonnier(final.encode(lr0, lr1, flows).query(coords, t), gt).item()
    assert after < 0.8 * before, (before, after)
    assert final.summary["steps"] == 25 and "hardware" in final.summary


def test_resume_gives_the_same_losses_and_files(shared_data, tmp_path):
    path = tiny_config(shared_data, tmp_path, points_per_target=30)
    full, part = tmp_path / "full", tmp_path / "part"
    assert train_main(["--config", str(path), "--out", str(full), "--no-progress"]) == 0
    assert train_main(["--config", str(path), "--out", str(part), "--steps", "2", "--no-progress"]) == 0
    # time_limit stops cleanly after the step that crosses it (here: the first), with a checkpoint
    assert train_main(["--config", str(path), "--out", str(part), "--resume", "--no-progress", "time_limit=1e-9"]) == 0
    assert torch.load(part / "checkpoint.pt", weights_only=True)["step"] == 3
    assert load_weights(part / "final.safetensors").summary["complete"] is False
    assert train_main(["--config", str(path), "--out", str(part), "--resume", "--no-progress"]) == 0
    a, b = read_metrics(full), read_metrics(part)
    assert list(a[0].keys()) == list(b[0].keys()) == list(METRIC_COLUMNS)
    assert list(a[0].keys())[:4] == ["step", "loss", "lr", "sec_per_step"]  # the file's header, as documented
    assert [r["step"] for r in b] == ["0", "1", "2", "3", "4"]  # step 0: validation of the initial model
    for ra, rb in zip(a[1:], b[1:]):
        assert abs(float(ra["loss"]) - float(rb["loss"])) <= 1e-6, (ra, rb)
    assert a[4]["val_psnr"] and abs(float(a[4]["val_psnr"]) - float(b[4]["val_psnr"])) < 1e-6
    wa, wb = load_weights(full / "final.safetensors"), load_weights(part / "final.safetensors")
    for (k, va), vb in zip(wa.state_dict().items(), wb.state_dict().values()):
        assert torch.allclose(va, vb, atol=1e-6), k
    # atomic writes leave no temporary files; the checkpoint loads without unpickling objects
    for out in (full, part):
        assert not [p for p in out.rglob(".*.tmp*")]  # fileio.temp_sibling names
        assert len(list((out / "val").glob("step_*.png"))) >= 2 and list((out / "tb").iterdir())
    ck = torch.load(part / "checkpoint.pt", weights_only=True)
    assert ck["step"] == 4 and {"model", "optimizer", "scheduler", "rng", "config"} <= set(ck)
    # without --resume an existing run is never overwritten
    with pytest.raises(VideoINRError, match="--resume"):
        train_main(["--config", str(path), "--out", str(part), "--no-progress"])


def test_resume_with_a_new_cosine_period_follows_the_new_cycle(shared_data, tmp_path):
    path = tiny_config(shared_data, tmp_path, points_per_target=30)
    out = tmp_path / "run"
    assert train_main(["--config", str(path), "--out", str(out), "--steps", "2", "--no-progress"]) == 0
    assert train_main(["--config", str(path), "--out", str(out), "--resume", "--steps", "3", "--no-progress",
                       "cosine_period=3"]) == 0
    cfg = load_config(path, ["cosine_period=3"])
    lr_step2 = float(read_metrics(out)[-1]["lr"])  # the lr logged for the resumed step (0-based step 2)
    assert lr_step2 == pytest.approx(lr_at(cfg, 2), rel=1e-6)


def test_ddp_two_processes_hold_equal_replicas(shared_data, tmp_path):
    path = tiny_config(shared_data, tmp_path, steps=3, val_source=None, sources=[
        {"path": str(shared_data / "train" / "vimeo90k_septuplets"), "kind": "vimeo", "window": 7}])
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "videoinr.train", "--config", str(path), "--out", str(out), "--no-progress", "debug_replica_hash=true"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both workers
        proc.communicate()
        pytest.fail("torchrun did not finish in 180 s")
    assert proc.returncode == 0, err[-3000:]
    h0, h1 = (out / "replica_0.txt").read_text(), (out / "replica_1.txt").read_text()
    assert h0 == h1 and len(h0.strip()) == 64
    assert [row["step"] for row in read_metrics(out)] == ["1", "2", "3"]
    assert (out / "final.safetensors").is_file()


# ------------------------------------------------------------------------------------------- bad input


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    rc = cli_main(["train", *args, "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err[-1] if err else ""


def test_bad_inputs_are_one_line_errors(shared_data, tmp_path, capsys):
    path = tiny_config(shared_data, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    out = str(tmp_path / "o")
    vimeo = shared_data / "train" / "vimeo90k_septuplets"
    junk = tmp_path / "random.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i, (h, w) in enumerate([(32, 32)] * 3 + [(40, 32)] * 2):
        cv2.imwrite(str(mixed / f"{i:03d}.png"), np.full((h, w, 3), 60 * i, np.uint8))
    cases = [
        ([f"sources=[{{path: {junk}}}]"], "random.mp4"),
        ([f"sources=[{{path: {mixed}, window: 5}}]", "lr_patch=4", "stage1_scale=2", "scale_max=2"], "differs from"),
        ([f"sources=[{{path: {empty}}}]"], "empty"),
        ([f"sources=[{{path: {tmp_path / 'missing'}}}]"], "missing"),
        ([f"sources=[{{path: {vimeo}, window: 9}}]"], "longer than every shot"),
        ([f"sources=[{{path: {vimeo}, kind: video}}]"], "not a video"),
        (["nonsense_key=1"], "nonsense_key"),
    ]
    for extra, needle in cases:
        rc, line = run_cli(["--config", str(path), "--out", out, *extra], capsys)
        assert rc == 2 and line.startswith("error: ") and needle in line, (extra, line)
    rc, line = run_cli(["--config", str(tmp_path / "nope.yaml"), "--out", out], capsys)
    assert rc == 2 and "nope.yaml" in line
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: [1, 2\n")
    rc, line = run_cli(["--config", str(bad), "--out", out], capsys)
    assert rc == 2 and "bad.yaml" in line
    assert not Path(out).exists()



def test_validation_scores_as_eval_does(shared_data, tmp_path):
    """Training validation is `videoinr eval clips` on the same frames: with a crop covering the whole frame,
    its centre-frame and all-frame PSNRs equal the evaluator's on a one-clip dataset (a tiny flow-prior
    model, 3 real DAVIS frames at x4)."""
    import shutil

    from videoinr.evaluate import evaluate
    from videoinr.models import CONFIGS, ModelConfig, save_weights
    from videoinr.train import Validator

    seq, clip = tmp_path / "data" / "dog", tmp_path / "val"  # validation keeps a clip's last 2 frames apart
    seq.mkdir(parents=True)
    clip.mkdir()
    for i in range(10, 15):
        name = f"{i:05d}.jpg"
        shutil.copy(shared_data / "train" / "davis480p" / "dog" / name, clip / name)
        if i < 13:
            shutil.copy(clip / name, seq / name)
    torch.manual_seed(5)
    model = VideoINR(ModelConfig.from_dict({**CONFIGS["lite"].to_dict(), **TINY, "flow_prior": True}))
    save_weights(model, tmp_path / "m.safetensors")
    cfg = load_config(tiny_config(shared_data, tmp_path, val_source=str(clip), val_window=3, val_crop=10_000))
    val = Validator(cfg)(model, torch.device("cpu"), tmp_path / "panel.png")
    res, _ = evaluate(tmp_path / "data", [str(tmp_path / "m.safetensors")], protocol="clips", clip_len=3,
                      progress=False)
    entry = res["methods"][str(tmp_path / "m.safetensors")]
    assert val["val_psnr_center"] == pytest.approx(entry["center"]["psnr"], abs=1e-9)
    assert val["val_psnr"] == pytest.approx(np.mean([r["psnr"] for r in entry["per_frame"]]), abs=1e-9)
    assert val["val_psnr_interior"] == val["val_psnr_center"]
    panel = cv2.imread(str(tmp_path / "panel.png"))
    assert panel.shape == (480, 3 * 852, 3)  # bicubic | model | truth of the modcropped 854x480 frame


HELD_OUT = ("davis480p/dog", "sam2_clips/04_coffee.mp4")  # model card: never trained on


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")))
def test_shipped_configs_load_and_never_train_on_benchmark_or_held_out(name, shared_data, monkeypatch):
    """Every config in configs/ loads and validates, its training sources exist under ../shared/data/train, and
    none of them is Vid4 or a held-out clip (the validation clip is one of those, never a training source)."""
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)  # config paths are relative to the repository root
    cfg = load_config(root / "configs" / name)
    train_root = (shared_data / "train").resolve()
    for src in cfg.sources:
        path = Path(src["path"]).resolve()  # load_config makes every source a mapping
        assert path.exists(), f"{name}: missing source {path}"
        assert path.is_relative_to(train_root), f"{name}: {path} is not training data"
        assert not any(path.as_posix().endswith(h) for h in HELD_OUT), f"{name}: trains on held-out {path}"
    assert any(Path(cfg.val_source).as_posix().endswith(h) for h in HELD_OUT)
    if cfg.init is None or Path(cfg.init).is_file():
        cfg.model_config()  # the network it trains resolves (init weights' config + overrides)
