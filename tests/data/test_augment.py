import numpy as np
import pytest
import torch

from videoinr.data.augment import crop_frames, flip_rotate, random_crop_box, random_flip_rotate, temporal_reverse


def test_flip_rotate_gives_the_8_dihedral_transforms():
    x = torch.arange(9.0).reshape(1, 3, 3)
    outs = {tuple(flip_rotate(x, f, r).flatten().tolist()) for f in (False, True) for r in range(4)}
    assert len(outs) == 8
    assert torch.equal(flip_rotate(x, False, 1), torch.rot90(x, 1, (-2, -1)))
    assert torch.equal(flip_rotate(x, True, 0), x.flip(-1))


def test_random_flip_rotate_same_for_all_frames():
    rng = np.random.default_rng(0)
    x = torch.rand(1, 3, 8, 8).expand(5, 3, 8, 8)
    y = random_flip_rotate(x, rng)
    assert all(torch.equal(y[0], y[i]) for i in range(5))


def test_crop_box_in_bounds_and_crop():
    rng = np.random.default_rng(1)
    for _ in range(50):
        y, x = random_crop_box(10, 20, 7, rng)
        assert 0 <= y <= 3 and 0 <= x <= 13
    frames = np.arange(2 * 10 * 20 * 3, dtype=np.int64).reshape(2, 10, 20, 3)
    assert np.array_equal(crop_frames(frames, 2, 3, 7), frames[:, 2:9, 3:10])
    with pytest.raises(ValueError):
        random_crop_box(6, 20, 7, rng)


def test_temporal_reverse():
    inputs = torch.stack([torch.zeros(3, 2, 2), torch.ones(3, 2, 2)])
    rev, t = temporal_reverse(inputs, torch.tensor([0.25, 0.5]))
    assert torch.equal(rev[0], inputs[1]) and torch.equal(rev[1], inputs[0])
    assert torch.allclose(t, torch.tensor([0.75, 0.5]))


def _warp(img, flow):
    """img (C, H, W) sampled at p + flow(p) (pixels, (dx, dy)), bilinear, border."""
    import torch.nn.functional as F

    c, h, w = img.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    gx = (xs + flow[0]) * 2 / (w - 1) - 1
    gy = (ys + flow[1]) * 2 / (h - 1) - 1
    return F.grid_sample(img[None], torch.stack([gx, gy], -1)[None], align_corners=True, padding_mode="border")[0]


@pytest.mark.parametrize("hflip", [False, True])
@pytest.mark.parametrize("rot", [0, 1, 2, 3])
def test_flip_rotate_flow_commutes_with_warping(hflip, rot):
    """Transforming a frame and its flow field, then warping, equals warping then transforming."""
    from videoinr.data.augment import flip_rotate_flow

    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 24, 24, generator=g)
    flow = torch.stack([torch.full((24, 24), 1.5), torch.full((24, 24), -0.75)])  # smooth (constant) field
    flow = torch.cat([flow, -flow])  # two fields, as [F_01 | F_10]
    a = flip_rotate(_warp(img, flow[:2]), hflip, rot)
    moved = flip_rotate_flow(flow, hflip, rot)
    b = _warp(flip_rotate(img, hflip, rot), moved[:2])
    torch.testing.assert_close(a[:, 3:-3, 3:-3], b[:, 3:-3, 3:-3], atol=1e-5, rtol=0)
    torch.testing.assert_close(moved[2:], -moved[:2])
    if hflip or rot:
        assert not torch.equal(moved, flow) or (not hflip and rot == 0)
