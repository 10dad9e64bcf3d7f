"""`videoinr eval` end to end on a tiny dataset cut from real Vid4 frames."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from videoinr.baselines import get_method
from videoinr.errors import VideoINRError
from videoinr.evaluate import build_tasks, main, make_lr, modcrop
from videoinr.metrics import flow, psnr, ssim, tof
from videoinr.models import VideoINR, save_weights
from videoinr.models.config import CONFIGS

BASELINES = "bicubic-repeat,bicubic-blend,flow-bicubic"


def _write_dataset(root: Path, shared_data: Path, n: int = 5, size: tuple[int, int] = (98, 97)) -> Path:
    """Two sequences of n real frames cropped to size (H, W) (not a multiple of 4: exercises modcrop)."""
    h, w = size
    for seq, (y, x) in {"calendar": (250, 300), "walk": (180, 260)}.items():
        (root / seq).mkdir(parents=True)
        for i in range(n):
            img = cv2.imread(str(shared_data / "vid4" / seq / f"{i:03d}.png"))
            cv2.imwrite(str(root / seq / f"{i:03d}.png"), img[y : y + h, x : x + w])
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, shared_data) -> Path:
    return _write_dataset(tmp_path_factory.mktemp("data") / "tiny", shared_data)


def _frames(folder: Path) -> list[np.ndarray]:
    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(folder.glob("*.png"))]


def test_build_tasks_vid4_counts() -> None:
    counts = [("calendar", 41), ("city", 34), ("foliage", 49), ("walk", 47)]
    tasks = build_tasks(counts, "vid4")
    frames = [(t.sequence, tg.frame) for t in tasks for tg in t.targets]
    assert len(frames) == 170 == len(set(frames))  # 171 minus city's trailing frame 33
    assert ("city", 33) not in frames and ("calendar", 40) in frames
    assert all(t.inputs[1] - t.inputs[0] == 2 and t.inputs[0] % 2 == 0 for t in tasks)
    assert {tg.t for t in tasks for tg in t.targets} == {0.0, 0.5, 1.0}


def test_build_tasks_clips_and_space_only() -> None:
    tasks = build_tasks([("a", 20)], "clips", clip_len=9)
    assert [t.inputs for t in tasks] == [(0, 8), (9, 17)]  # non-overlapping; frames 18, 19 unused
    assert [tg.t for tg in tasks[0].targets] == [k / 8 for k in range(9)]
    assert [tg.k for tg in tasks[0].targets if tg.center] == [4]
    assert [tg.in_average for tg in tasks[0].targets] == [True] * 8 + [False]
    tasks = build_tasks([("a", 3)], "vid4", space_only=True)
    assert [(t.inputs, t.targets[0].frame, t.targets[0].t) for t in tasks] == [
        ((0, 1), 0, 0.0), ((1, 2), 1, 0.0), ((1, 2), 2, 1.0)]
    with pytest.raises(VideoINRError, match="too few for a clip of 9 frames"):
        build_tasks([("short", 8)], "clips", clip_len=9)


def test_vid4_end_to_end_matches_direct_metrics(dataset, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["vid4", "--data", str(dataset), "--methods", BASELINES, "--out", str(out), "--no-progress"]) == 0
    assert "| DIS flow + Bicubic | `flow-bicubic` |" in capsys.readouterr().out
    for name in ("results.json", "results.md", "psnr_vs_t.png"):
        assert (out / name).stat().st_size > 0
    assert len(list((out / "crops").glob("*.png"))) == 2
    res = json.loads((out / "results.json").read_text())
    assert (res["protocol"], res["space_scale"], res["time_scale"], res["modcrop"]) == ("vid4", 4, 2, 4)
    assert res["sequences"]["walk"]["cropped_size"] == [96, 96] and res["n_scored"] == 10
    assert "modcrop" in (out / "results.md").read_text()
    assert list(res["methods"]) == BASELINES.split(",")
    for name, m in res["methods"].items():
        assert set(m) >= {"psnr", "ssim", "per_sequence", "per_frame", "label", "seconds"}
        assert len(m["per_frame"]) == 10
        assert m["psnr"] == pytest.approx(np.mean([r["psnr"] for r in m["per_frame"]]), abs=1e-9)
        assert m["per_sequence"]["walk"]["frames"] == 5
    # Recompute one interpolated frame directly: walk frame 3 from inputs 2 and 4 at t = 0.5.
    hr = [modcrop(f, 4) for f in _frames(dataset / "walk")]
    pred = get_method("flow-bicubic").predict(make_lr(hr[2], 4), make_lr(hr[4], 4), [0.5], (96, 96))[0]
    row = next(r for r in res["methods"]["flow-bicubic"]["per_frame"] if r["sequence"] == "walk" and r["frame"] == 3)
    assert row["t"] == 0.5
    assert row["psnr"] == pytest.approx(psnr(pred, hr[3]), abs=1e-9)
    assert row["ssim"] == pytest.approx(ssim(pred, hr[3]), abs=1e-12)
    # Flow interpolation does not lose to frame repeat on real motion.
    assert res["methods"]["flow-bicubic"]["psnr"] > res["methods"]["bicubic-repeat"]["psnr"]
    # Temporal stability: every frame after the first of a sequence is scored against its predecessor
    # (recomputed here for walk frames 2 -> 3), and the frame-repeat baseline (a stutter) is the least steady.
    rows = res["methods"]["flow-bicubic"]["per_frame"]
    assert sum("tof" in r for r in rows) == 8 and all(("tof" in r) == (r["frame"] > 0) for r in rows)
    prev = get_method("flow-bicubic").predict(make_lr(hr[2], 4), make_lr(hr[4], 4), [0.0], (96, 96))[0]
    assert row["tof"] == pytest.approx(tof(prev, pred, flow(hr[2], hr[3])), abs=1e-9)
    assert res["methods"]["bicubic-repeat"]["tof"] > res["methods"]["flow-bicubic"]["tof"]
    assert res["methods"]["bicubic-repeat"]["warp"] > res["methods"]["flow-bicubic"]["warp"]
    assert "| tOF | warp |" in (out / "results.md").read_text()


def test_clips_and_space_only(dataset, tmp_path) -> None:
    out = tmp_path / "clips"
    main(["clips", "--data", str(dataset), "--methods", "bicubic-blend", "--out", str(out), "--time-scale", "4",
          "--no-progress", "--channel", "rgb"])
    res = json.loads((out / "results.json").read_text())
    m = res["methods"]["bicubic-blend"]
    assert (res["clip_len"], res["time_scale"], res["channel"]) == (5, 4, "rgb")
    center = [r for r in m["per_frame"] if r["center"]]
    assert [r["k"] for r in center] == [2, 2]
    assert m["center"]["psnr"] == pytest.approx(np.mean([r["psnr"] for r in center]))
    assert m["psnr"] == pytest.approx(np.mean([r["psnr"] for r in m["per_frame"] if r["k"] < 4]))
    assert "Time Scale | Space Scale" in (out / "results.md").read_text()

    out = tmp_path / "space"
    main(["vid4", "--data", str(dataset), "--methods", "bicubic-repeat", "--out", str(out), "--space-only",
          "--scale", "3", "--max-frames", "3", "--no-progress"])
    res = json.loads((out / "results.json").read_text())
    rows = res["methods"]["bicubic-repeat"]["per_frame"]
    assert res["sequences"]["calendar"]["cropped_size"] == [96, 96] and len(rows) == 6
    hr = modcrop(_frames(dataset / "calendar")[1], 3)
    direct = psnr(get_method("bicubic-repeat").predict(make_lr(hr, 3), make_lr(hr, 3), [0.0], (96, 96))[0], hr)
    assert rows[1]["psnr"] == pytest.approx(direct, abs=1e-9)


def test_model_weights_file_method(dataset, tmp_path) -> None:
    torch.manual_seed(0)
    weights = tmp_path / "random_lite.safetensors"
    save_weights(VideoINR(CONFIGS["lite"]), weights)
    out = tmp_path / "model"
    main(["vid4", "--data", str(dataset), "--methods", f"{weights},bicubic-blend", "--out", str(out),
          "--max-frames", "3", "--device", "cpu", "--no-progress"])
    res = json.loads((out / "results.json").read_text())
    m = res["methods"][str(weights)]
    assert m["label"] == "VideoINR-lite (random_lite.safetensors)"
    assert len(m["per_frame"]) == 6 and all(math.isfinite(r["psnr"]) for r in m["per_frame"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["vid4", "--data", "{missing}", "--methods", "bicubic-blend"], "no such folder"),
        (["clips", "--data", "{data}", "--methods", "bicubic-blend"], "too few for a clip of 9 frames"),
        (["vid4", "--data", "{data}", "--methods", "bicubic-blend,tmnet"], "unknown method 'tmnet'"),
        (["vid4", "--data", "{data}", "--methods", "{junk}"], "junk.safetensors"),
        (["vid4", "--data", "{data}", "--methods", "bicubic-blend", "--time-scale", "8"], "too few for time x8"),
        (["clips", "--data", "{data}", "--methods", "bicubic-blend", "--clip-len", "5", "--time-scale", "2"],
         "contradicts"),
    ],
)
def test_bad_input_errors(args, message, dataset, tmp_path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00\x01not weights" * 20)
    fill = {"{missing}": str(tmp_path / "nope"), "{data}": str(dataset), "{junk}": str(junk)}
    argv = [fill.get(a, a) for a in args] + ["--out", str(tmp_path / "out"), "--no-progress"]
    with pytest.raises(VideoINRError, match=message):
        main(argv)
    assert not (tmp_path / "out" / "results.json").exists()  # nothing half-written


def test_python_m_prints_one_line_error(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "videoinr.evaluate", "vid4", "--data", str(tmp_path / "nope"),
         "--methods", "bicubic-blend", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope'}: no such folder"]


def test_score_task_region_scores_the_crop(shared_data) -> None:
    """`score_task` with a region (training validation's centre crop): predictions of the region only, and
    the same rows as scoring the crop of the full-frame predictions, for a model (region render) and a
    baseline (cropped full frames)."""
    from videoinr.baselines import ModelMethod
    from videoinr.evaluate import score_task

    frames = [modcrop(cv2.imread(str(shared_data / "vid4" / "walk" / f"{i:03d}.png"))[100:180, 200:300, ::-1], 4)
              for i in range(3)]
    task = build_tasks([("walk", 3)], "clips", clip_len=3)[0]
    lr0, lr1 = make_lr(frames[0], 4), make_lr(frames[2], 4)
    region = (20, 12, 44, 36)  # (x, y, w, h)
    torch.manual_seed(0)
    model = VideoINR(CONFIGS["lite"]).eval()
    for method in [ModelMethod.of(model, torch.device("cpu")), get_method("flow-bicubic")]:
        rows, preds, _ = score_task(method, task, lr0, lr1, frames, "y", region)
        full_rows, full, _ = score_task(method, task, lr0, lr1, frames, "y")
        assert [p.shape for p in preds] == [(36, 44, 3)] * 3
        for p, f, row, gt in zip(preds, full, rows, frames):
            crop = f[12:48, 20:64]
            assert np.array_equal(p, crop)  # a region render is exactly the crop of the full frame
            assert row["psnr"] == pytest.approx(psnr(p, gt[12:48, 20:64]), abs=1e-9)
        assert [r["k"] for r in rows] == [0, 1, 2] and [r["center"] for r in rows] == [False, True, False]
