import cv2
import numpy as np
import pytest
import torch

from videoinr.data.windows import Source, WindowDataset, hr_crop_size, load_clips, scale_batch
from videoinr.errors import VideoINRError


def _write_index_frames(folder, n, size=(40, 48)):
    """Frames whose every pixel is 5 * index: a sample's values tell which frames it holds."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((*size, 3), 5 * i, np.uint8))
    return folder


def _frame_ids(x):
    return [round(v) for v in (x.mean(dim=(-3, -2, -1)) * 255 / 5).tolist()]


def test_windows_never_cross_cuts(shared_data):
    src = dict(path=shared_data / "train" / "bikes_scenecuts.mp4", window=9, max_frames=80)
    ds = WindowDataset([src], crop=64, progress=False)
    (clip,) = ds.clips
    assert clip.frames.shape == (80, 272, 640, 3) and clip.frames.dtype == np.uint8
    assert clip.shots == [range(0, 30), range(30, 76), range(76, 80)]
    assert len(ds) == (30 - 8) + (46 - 8)
    for _, start in ds.index:
        assert any(start in s and start + 8 in s for s in clip.shots)
    s = ds[5]
    assert s["inputs"].shape == (2, 3, 64, 64) and s["targets"].shape == (3, 3, 64, 64)
    assert 0.0 <= s["inputs"].min() and s["inputs"].max() <= 1.0


def test_targets_and_times(tmp_path):
    folder = _write_index_frames(tmp_path / "clip", 12)
    ds = WindowDataset([dict(path=folder, window=5)], crop=32, targets=2, flip=False, rotate=False,
                       reverse=False, progress=False)
    assert ds.clips[0].shots == [range(0, 10), range(10, 12)]  # last 2 frames: cuts there are unverifiable
    assert len(ds) == 6
    for i in range(len(ds)):
        start = int(ds.index[i, 1])
        s = ds[i]
        assert _frame_ids(s["inputs"]) == [start, start + 4]
        ks = [k - start for k in _frame_ids(s["targets"])]
        assert len(set(ks)) == 2 and all(1 <= k <= 3 for k in ks)
        assert torch.allclose(s["times"], torch.tensor(ks, dtype=torch.float32) / 4)


def test_temporal_reversal_swaps_inputs_and_times(tmp_path):
    folder = _write_index_frames(tmp_path / "clip", 11)
    ds = WindowDataset([dict(path=folder, window=9)], crop=32, targets=3, progress=False)
    seen_reversed = False
    for epoch in range(8):
        ds.set_epoch(epoch)
        s = ds[0]
        first, last = _frame_ids(s["inputs"])
        ks = _frame_ids(s["targets"])
        t = s["times"]
        assert torch.all(t[1:] > t[:-1])
        if first == 8:  # reversed: t measured from frame 8 backwards
            seen_reversed = True
            assert last == 0 and torch.allclose(t, torch.tensor([(8 - k) / 8 for k in ks]))
        else:
            assert (first, last) == (0, 8) and torch.allclose(t, torch.tensor([k / 8 for k in ks]))
    assert seen_reversed


def test_deterministic_per_seed_epoch_index(shared_data):
    src = dict(path=shared_data / "train" / "vimeo90k_septuplets", window=7)
    ds = WindowDataset([src], crop=48, progress=False)
    assert len(ds) == 16 and ds.clips[0].name.endswith("sequences/00001/0001")
    a, b = ds[3], ds[3]
    assert all(torch.equal(a[k], b[k]) for k in a)
    ds.set_epoch(1)
    c = ds[3]
    assert not all(torch.equal(a[k], c[k]) for k in ("inputs", "targets"))


def test_video_downscale_and_mixed_tree(shared_data):
    clips = load_clips(dict(path=shared_data / "train" / "sam2_clips" / "01_dog.mp4", downscale=2, max_frames=4),
                       progress=False)
    assert clips[0].frames.shape == (4, 360, 640, 3)


@pytest.mark.parametrize("scale", [1.0, 1.37, 2.0, 2.7, 3.99, 4.0])
def test_scale_batch_exact_lr_patch(scale):
    batch = {"inputs": torch.rand(2, 2, 3, 128, 128), "targets": torch.rand(2, 3, 3, 128, 128),
             "times": torch.rand(2, 3)}
    out = scale_batch(batch, scale, 32)
    p = hr_crop_size(32, scale)
    assert out["lr"].shape == (2, 2, 3, 32, 32)
    assert out["inputs"].shape[-1] == out["targets"].shape[-1] == p
    assert abs(float(out["scale"]) - scale) <= 0.5 / 32 + 1e-6
    with pytest.raises(ValueError):
        scale_batch(batch, 4.5, 32)


def test_bad_inputs(tmp_path, shared_data):
    with pytest.raises(VideoINRError, match="no such file or folder"):
        WindowDataset([tmp_path / "missing"], crop=16, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoINRError, match="empty: no videos"):
        WindowDataset([tmp_path / "empty"], crop=16, progress=False)
    bad = tmp_path / "random.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoINRError, match="random.mp4"):
        WindowDataset([bad], crop=16, progress=False)
    mixed = _write_index_frames(tmp_path / "mixed", 4)
    cv2.imwrite(str(mixed / "f2.png"), np.zeros((40, 50, 3), np.uint8))
    with pytest.raises(VideoINRError, match=r"f2\.png: frame size 50x40 differs"):
        WindowDataset([mixed], crop=16, progress=False)
    with pytest.raises(VideoINRError, match="longer than every shot"):
        WindowDataset([dict(path=shared_data / "train" / "vimeo90k_septuplets", window=9)], crop=16,
                      progress=False)
    with pytest.raises(VideoINRError, match="unknown key 'fps'"):
        Source.parse({"path": "x", "fps": 3})
    with pytest.raises(VideoINRError, match="crop 64 larger"):
        WindowDataset([dict(path=_write_index_frames(tmp_path / "small", 11), window=9)], crop=64, progress=False)


def _write_moving_clip(folder, shared_data, n=12, step=(4, -2)):
    """Frames of a real texture translating by `step` = (dx, dy) HR pixels per frame (content moves)."""
    from videoinr.data.frames import read_image

    folder.mkdir(parents=True, exist_ok=True)
    tex = read_image(shared_data / "vid4" / "calendar" / "000.png")
    for i in range(n):
        y, x = 60 - step[1] * i, 300 - step[0] * i  # window moves against the content
        cv2.imwrite(str(folder / f"f{i:02d}.png"), np.ascontiguousarray(tex[y : y + 256, x : x + 320, ::-1]))
    return folder


def test_variable_gaps_draw_every_window_length(tmp_path):
    folder = _write_index_frames(tmp_path / "clip", 14)
    ds = WindowDataset([dict(path=folder, window=9, min_window=3)], crop=32, targets=3, reverse=False,
                       progress=False)
    seen = set()
    for i in range(60):
        s = ds[i]
        n = int(s["window"])
        seen.add(n)
        first, last = _frame_ids(s["inputs"])
        assert last - first == n - 1
        ks = [k - first for k in _frame_ids(s["targets"])]
        assert all(1 <= k <= n - 2 for k in ks)
        assert torch.allclose(s["times"], torch.tensor(ks, dtype=torch.float32) / (n - 1))
    assert seen == set(range(3, 10))
    with pytest.raises(VideoINRError, match="min_window"):
        Source.parse({"path": folder, "window": 5, "min_window": 7})


def test_flows_from_whole_frames_follow_the_content(tmp_path, shared_data):
    """The prior's flows of a training window (DIS on the whole LR frames) warp input 1 onto input 0 in
    the crop, through every flip, rotation and temporal reversal, and scale_batch brings them to LR pixels."""
    folder = _write_moving_clip(tmp_path / "moving", shared_data)
    ds = WindowDataset([dict(path=folder, window=5, min_window=3)], crop=64, targets=1, progress=False,
                       flow_scale=4.0)
    for i in range(12):
        s = ds[i]
        flows, (a, b) = s["flows"], s["inputs"]
        assert flows.shape == (4, 64, 64)
        n = int(s["window"])
        # the shift is (4, -2) HR px per frame: |F_01| = |F_10| = (n - 1) * |(4, -2)| whatever the transform
        mag = flows.flatten(1).median(1).values.view(2, 2).norm(dim=1)
        torch.testing.assert_close(mag, torch.full((2,), (n - 1) * 20 ** 0.5), atol=0.6, rtol=0)
        f01 = flows[:2].flatten(1).median(1).values
        ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")

        def err(f):  # mean error of b warped by the constant flow f onto a, away from the borders
            grid = torch.stack([(xs + f[0]) * 2 / 63 - 1, (ys + f[1]) * 2 / 63 - 1], -1)
            warped = torch.nn.functional.grid_sample(b[None], grid[None], align_corners=True)[0]
            return (warped - a)[:, 20:-20, 20:-20].abs().mean()

        assert err(f01) < 0.4 * min(err(-f01), err(f01.flip(0)), err(torch.stack([f01[0], -f01[1]]))), i
        lr = scale_batch(torch.utils.data.default_collate([s]), 4.0, 16)
        assert lr["flows"].shape == (1, 4, 16, 16)
        torch.testing.assert_close(lr["flows"][0].flatten(1).median(1).values, flows.flatten(1).median(1).values / 4,
                                   atol=0.2, rtol=0)
