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
