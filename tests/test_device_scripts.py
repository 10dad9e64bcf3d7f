"""scripts/device/prep_data.py: what the lent GPU machine trains on (OpenCV decoding, no PyAV there)."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import yaml

from videoinr.data.video import iter_video
from videoinr.data.windows import _shrink, load_clips

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "videoinr" / "assets" / "example.mp4"


def test_prep_data_decodes_videos_like_pyav_and_rewrites_sources(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "clip.mp4").write_bytes(EXAMPLE.read_bytes())
    (data / "frames").mkdir()
    cv2.imwrite(str(data / "frames" / "00000.png"), np.zeros((8, 8, 3), np.uint8))
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({
        "model": "lite", "lr_patch": 8, "batch_size": 2,
        "sources": [{"path": "SRC/clip.mp4", "kind": "video", "window": 5, "downscale": 2},
                    {"path": "SRC/frames", "kind": "folder", "window": 5}],
        "val_source": "SRC/frames",
    }))
    out = tmp_path / "gpu.yaml"
    frames = tmp_path / "decoded"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "device" / "prep_data.py"), str(base), str(out),
                        "--frames", str(frames), "--from", "SRC", "--to", str(data), "batch_size=4"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(out.read_text())
    assert cfg["batch_size"] == 4
    assert cfg["val_source"] == f"{data}/frames"
    video, folder = cfg["sources"]
    assert video == {"path": str(frames / "clip"), "kind": "folder", "window": 5}  # downscale applied already
    assert folder == {"path": f"{data}/frames", "kind": "folder", "window": 5}
    # the PNG folder holds exactly what the PyAV loader would have cached (decode + MATLAB-bicubic x2)
    ref = np.stack([_shrink(f.image, 2.0) for f in iter_video(EXAMPLE)])
    got = load_clips({"path": frames / "clip", "window": 5}, progress=False)[0].frames
    assert got.shape == ref.shape == (60, 54, 96, 3)
    assert np.array_equal(got, ref)
