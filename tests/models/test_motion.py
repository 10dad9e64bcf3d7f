"""Motion: the warp conventions, and that the flows the model uses follow a translating texture.

Scene: a smooth random colour texture (Gaussian low-pass filtered noise, fixed seed) translating by d LR
pixels between the two inputs, rendered at HR (scale 4) and degraded with `degrade`: the frame at time t is
the texture shifted by t*d, so the true flows are F_t0 = -t d (to frame 0) and F_t1 = (1 - t) d (to frame 1),
in LR pixels. d * t * 4 is a whole number of HR pixels for every t used, so the truth needs no resampling.

Why the flow prior (scripts/diagnose_motion.py has the measurements): without it, training drives
TemporalINR's flows to ~0.05 LR px whenever the direction of motion varies between windows (as in real
video) - the model then renders a blend - while a fixed direction, which a constant flow fits, is learned.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from videoinr.data.imresize import degrade
from videoinr.data.synthetic import texture
from videoinr.models.config import CONFIGS, ModelConfig
from videoinr.models.siren import Siren
from videoinr.models import State, VideoINR, make_grid, render

SCALE = 4


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: deterministic reductions, and no spin-waiting against other processes."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _config(**overrides) -> ModelConfig:
    """`lite` INRs with a tiny encoder; flow_prior off unless asked (lite may turn it on)."""
    base = dict(nf=8, groups=2, front_blocks=1, back_blocks=1, flow_prior=False)
    base.update(overrides)
    return dataclasses.replace(CONFIGS["lite"], **base)


def _translating(tex: torch.Tensor, lr: int, d: tuple[float, float], times, origin: tuple[int, int]):
    """HR frames (T, 3, H, W) of `tex` translating by t*d LR px (frame t shows tex at x + origin - t d) and the
    degraded inputs lr0, lr1 (1, 3, lr, lr)."""
    hr = lr * SCALE
    frames = []
    for t in times:
        sx, sy = t * d[0] * SCALE, t * d[1] * SCALE
        assert sx == round(sx) and sy == round(sy), "t * d must be whole HR pixels"
        x0, y0 = origin[0] - round(sx), origin[1] - round(sy)
        frames.append(tex[:, y0 : y0 + hr, x0 : x0 + hr])
    frames = torch.stack(frames)
    pair = degrade(torch.stack([frames[0], frames[-1]]), SCALE)
    return frames, pair[0:1], pair[1:2]


def _dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    x = torch.rot90(x, k % 4, (-2, -1))
    return x.flip(-1) if k >= 4 else x


def _dihedral_d(d: tuple[float, float], k: int) -> tuple[float, float]:
    """The displacement (dx, dy) of frames transformed by `_dihedral(., k)` (rot90: (x, y) -> (y, -x))."""
    dx, dy = d
    for _ in range(k % 4):
        dx, dy = dy, -dx
    return (-dx, dy) if k >= 4 else (dx, dy)


def _true_flows(d: tuple[float, float], t: torch.Tensor) -> torch.Tensor:
    """[F_t0 | F_t1] = [-t d | (1 - t) d] (..., 4) at times t (...)."""
    dd = torch.tensor(d, dtype=torch.float32)
    t1 = t.unsqueeze(-1)
    return torch.cat([-t1 * dd, (1 - t1) * dd], -1)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a.clamp(0, 1) - b) ** 2).mean()))


def _zero_output(siren: Siren) -> None:
    """This SIREN instance outputs zeros (the decoder: no residual, blend weight alpha = t; TemporalINR: the
    flows are the prior's alone)."""
    siren.from_first = lambda z, gemm_dtype=None: Siren.from_first(siren, z, gemm_dtype) * 0.0


def _interior(img: torch.Tensor, margin: int) -> torch.Tensor:
    return img[..., margin:-margin, margin:-margin]


def _frame(state: State, hr: int, t: float) -> torch.Tensor:
    """The model's frame (3, hr, hr) at time t (the per-point form training uses)."""
    coords = make_grid((hr, hr)).unsqueeze(0)
    return state.query(coords, t)[0].view(hr, hr, 3).permute(2, 0, 1)


def _blend(lr0: torch.Tensor, lr1: torch.Tensor, hr: int, t: float) -> torch.Tensor:
    up = F.interpolate(torch.cat([lr0, lr1]), size=(hr, hr), mode="bicubic", align_corners=False)
    return (1 - t) * up[0] + t * up[1]


# ------------------------------------------------------------------------------------------ conventions

LR, D = 24, (3.0, -2.0)  # 96x96 HR; at t = 1/2 the scene has moved 1.8 LR px, at t = 1 3.6
MARGIN = SCALE * 6  # HR px kept away from the borders (content there leaves the view)


@pytest.fixture(scope="module")
def scene():
    tex = texture(160, 6.0, seed=3)
    return _translating(tex, LR, D, (0.0, 0.25, 0.5, 0.75, 1.0), origin=(40, 30))


@pytest.mark.parametrize("flows, good", [("true", True), ("negated", False), ("swapped", False), ("hr_units", False)])
def test_forced_flows_warp_the_inputs_onto_the_frame(scene, monkeypatch, flows, good):
    """With TemporalINR's output replaced by the true flows (LR px) and the decoder output zeroed (so the
    prediction is the bicubic-sampled frame 0 at x + F_t0 blended with frame 1 at x + F_t1, weight t), the
    t = 1/2 frame is reproduced far better than by the blend of the inputs; negated or swapped flows, or
    flows in HR pixels, are not. Catches sign, order and scale errors in `_warp` / `_skip` / `_decode`."""
    frames, lr0, lr1 = scene
    hr = LR * SCALE
    forced = {
        "true": lambda t: _true_flows(D, t),
        "negated": lambda t: -_true_flows(D, t),
        "swapped": lambda t: _true_flows(D, t)[..., [2, 3, 0, 1]],
        "hr_units": lambda t: SCALE * _true_flows(D, t),
    }[flows]
    monkeypatch.setattr(render, "_flow", lambda st, t, *args, **kwargs: forced(t))
    torch.manual_seed(0)
    model = VideoINR(_config()).eval()
    _zero_output(model.inr.decoder)
    with torch.no_grad():
        state = model.encode(lr0, lr1)
        pred = _frame(state, hr, 0.5)
    truth = frames[2]
    model_psnr = _psnr(_interior(pred, MARGIN), _interior(truth, MARGIN))
    blend_psnr = _psnr(_interior(_blend(lr0, lr1, hr, 0.5), MARGIN), _interior(truth, MARGIN))
    print(f"{flows}: warped {model_psnr:.2f} dB, blend {blend_psnr:.2f} dB")
    if good:
        assert model_psnr > 30 and model_psnr > blend_psnr + 10
    else:
        assert model_psnr < blend_psnr + 3


def test_blend_weight_follows_t(scene, monkeypatch):
    """Zero flows and zero decoder output: the frame at t = 0 is frame 0 (bicubic), at t = 1 frame 1."""
    frames, lr0, lr1 = scene
    hr = LR * SCALE
    monkeypatch.setattr(render, "_flow", lambda st, t, *args, **kwargs: torch.zeros(*t.shape, 4))
    torch.manual_seed(0)
    model = VideoINR(_config()).eval()
    _zero_output(model.inr.decoder)
    with torch.no_grad():
        state = model.encode(lr0, lr1)
        for t, want in ((0.0, _blend(lr0, lr1, hr, 0.0)), (1.0, _blend(lr0, lr1, hr, 1.0))):
            assert (_frame(state, hr, t) - want).abs().max() < 2e-3


def test_prior_alone_gives_the_true_flows(scene):
    """flow_prior with TemporalINR's output zeroed: the flows are the DIS prior's linear-motion flows
    (F_t0 = t F_10, F_t1 = (1 - t) F_01), which on this texture are the truth to 0.25 LR px, and warping
    with them reproduces the in-between frames far better than the blend."""
    frames, lr0, lr1 = scene
    hr = LR * SCALE
    torch.manual_seed(0)
    model = VideoINR(_config(flow_prior=True)).eval()
    _zero_output(model.inr.temporal)
    _zero_output(model.inr.decoder)
    coords = make_grid((hr, hr)).unsqueeze(0)
    with torch.no_grad():
        state = model.encode(lr0, lr1)
        for k, t in ((1, 0.25), (2, 0.5), (3, 0.75)):
            flow = state.flows(coords, t)[0].view(hr, hr, 4)
            err = (_interior(flow.permute(2, 0, 1), MARGIN).permute(1, 2, 0) - _true_flows(D, torch.tensor(t))).abs()
            pred = _frame(state, hr, t)
            model_psnr = _psnr(_interior(pred, MARGIN), _interior(frames[k], MARGIN))
            blend_psnr = _psnr(_interior(_blend(lr0, lr1, hr, t), MARGIN), _interior(frames[k], MARGIN))
            print(f"t={t}: flow error {err.mean():.3f} LR px, warped {model_psnr:.2f} dB, blend {blend_psnr:.2f} dB")
            assert err.mean() < 0.25
            assert model_psnr > blend_psnr + 8


# ------------------------------------------------------------------------------------------ training

TRAIN_LR, TRAIN_D = 16, (3.0, -2.0)  # 64x64 HR
TIMES = (0.0, 0.25, 0.5, 0.75, 1.0)


def _train(cfg: ModelConfig, steps: int, augment: bool, seed: int = 0) -> VideoINR:
    """Adam (lr 1e-3), Charbonnier loss, 256 random HR points per frame at every t of TIMES, one window per
    step: a random crop of a training texture translating by TRAIN_D, in a random one of the 8 flips /
    rotations when `augment` (the direction of motion must then be read from the inputs, as in real video)."""
    rng = np.random.default_rng(seed)
    tex = texture(256, 6.0, seed=1)
    hr = TRAIN_LR * SCALE
    grid = make_grid((hr, hr))
    torch.manual_seed(seed)
    model = VideoINR(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    reach = SCALE * 4
    for _ in range(steps):
        origin = tuple(int(v) for v in rng.integers(reach, 256 - hr - reach, 2))
        frames, lr0, lr1 = _translating(tex, TRAIN_LR, TRAIN_D, TIMES, origin)
        if augment:
            k = int(rng.integers(0, 8))
            frames, lr0, lr1 = _dihedral(frames, k), _dihedral(lr0, k), _dihedral(lr1, k)
        pix = frames.permute(0, 2, 3, 1).reshape(len(TIMES), hr * hr, 3)
        idx = torch.from_numpy(np.stack([rng.choice(hr * hr, 256, replace=False) for _ in TIMES]))
        coords = grid[idx].reshape(1, -1, 2)
        gt = torch.gather(pix, 1, idx.unsqueeze(-1).expand(-1, -1, 3)).reshape(1, -1, 3)
        t = torch.tensor(TIMES).repeat_interleave(256).unsqueeze(0)
        pred = model.encode(lr0, lr1).query(coords, t)
        loss = torch.sqrt((pred - gt) ** 2 + 1e-6).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _measure(model: VideoINR, k: int = 0):
    """Per t in (1/4, 1/2, 3/4): mean |F_t0 - truth|, mean |F_t1 - truth| (LR px), PSNR model, PSNR blend,
    on a held-out texture in the direction of `_dihedral(., k)`."""
    hr = TRAIN_LR * SCALE
    frames, lr0, lr1 = _translating(texture(160, 6.0, seed=7), TRAIN_LR, TRAIN_D, TIMES, origin=(40, 40))
    frames, lr0, lr1 = _dihedral(frames, k), _dihedral(lr0, k), _dihedral(lr1, k)
    d = _dihedral_d(TRAIN_D, k)
    m = SCALE * 5
    coords = make_grid((hr, hr)).unsqueeze(0)
    out = []
    with torch.no_grad():
        state = model.encode(lr0, lr1)
        for i, t in ((1, 0.25), (2, 0.5), (3, 0.75)):
            flow = _interior(state.flows(coords, t)[0].view(hr, hr, 4).permute(2, 0, 1), m).permute(1, 2, 0)
            e = flow - _true_flows(d, torch.tensor(t))
            pred = _frame(state, hr, t)
            out.append((t, float(e[..., :2].norm(dim=-1).mean()), float(e[..., 2:].norm(dim=-1).mean()),
                        _psnr(_interior(pred, m), _interior(frames[i], m)),
                        _psnr(_interior(_blend(lr0, lr1, hr, t), m), _interior(frames[i], m))))
    for row in out:
        print("t=%.2f  err F_t0 %.2f  err F_t1 %.2f LR px  PSNR model %.2f  blend %.2f dB" % row)
    return out


def test_flow_prior_model_learns_the_motion():
    """A flow_prior model trained briefly on a translating texture whose direction varies keeps flows within
    0.5 LR px of the truth at t = 1/4, 1/2, 3/4 (both flows) and renders the in-between frames far better
    than the blend of the inputs, for two of the eight directions."""
    model = _train(_config(flow_prior=True), steps=120, augment=True)
    for k in (0, 5):
        for t, e0, e1, p_model, p_blend in _measure(model, k):
            assert e0 < 0.5 and e1 < 0.5, (k, t, e0, e1)
            assert p_model > p_blend + 6, (k, t, p_model, p_blend)


def test_photometric_gradients_reach_the_flows():
    """Without a prior, a translation whose direction never changes (a constant flow fits it) is learned
    from the reconstruction loss alone: the loss's gradients reach TemporalINR's flows with the right sign
    and scale. (Whether the flows follow motion whose direction varies is what `flow_prior` is for.)"""
    # 300 steps: past the knee of this training (near-flow error 0.11-0.21 LR px on an AMX host); at 200 it
    # sat on the knee (0.55 at t = 0.75 there, passing on AVX-512 hosts): the host's rounding decided it
    model = _train(_config(), steps=300, augment=False)
    for t, e0, e1, p_model, p_blend in _measure(model):
        # the flow of the frame nearer in time carries most of the blend weight: it must be right
        near = e0 if t <= 0.5 else e1
        assert near < 0.5, (t, e0, e1)
        assert p_model > p_blend + 6, (t, p_model, p_blend)
