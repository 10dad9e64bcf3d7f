"""Does VideoINR's TemporalINR learn motion? Synthetic scenes with known motion, short training runs, flow errors.

Scenes (rendered at HR, degraded to LR with `videoinr.data.imresize.degrade`, scale 4):
  translate  a random smooth colour texture (Gaussian low-pass filtered noise, fixed seeds) translating by
             d LR pixels between the two inputs: the frame at time t is the texture shifted by t*d, so the
             true flows are F_t0 = -t d (to frame 0) and F_t1 = (1 - t) d (to frame 1). d = (+5, -3) by
             default: every t in {0, 1/4, 1/2, 3/4, 1} is an integer HR shift (no resampling of the truth).
  objects    two textured squares over a static textured background, moving by d_A and d_B; flows are
             measured inside each square (away from its edges, where the true flow is that square's).

Every variant trains a fresh `lite`-shaped VideoINR (smaller encoder by default: nf=16, back_blocks=4) for a
few hundred Adam steps on fresh random crops (HR targets at t in {0, .25, .5, .75, 1}, random query points,
Charbonnier loss as train.py), then reports on a held-out crop (another texture seed):
  flow error  mean |F_pred - F_true| (Euclidean, LR px) of F_t0 and of F_t1 at t = .25/.5/.75, interior pixels
  |F|         mean predicted flow length (LR px), next to the true one
  PSNR        model frame vs truth, and the linear blend of the bicubic-upsampled inputs vs truth (dB, RGB)
Probe (no training): the loss of a fresh model whose flows are forced to s * (true flow), s = 0 ... 1, and
the gradient of the loss with respect to a global flow offset at s = 0, per displacement (is there a descent
direction from zero flow towards the truth, and how strong?).

Unless a variant says otherwise, training windows are flipped/rotated at random (8 ways), so the direction
of motion varies between windows as in real video; `fixed` is the control where it never changes.
`--features` adds a ridge probe of how much of the motion is linearly readable from what TemporalINR reads
on the LR grid (encoder features + frames); `--shipped` measures the shipped lite weights (no training).

Variants (monkeypatched, `src/` untouched): see VARIANTS; run `--list`. One thread, ~0.1-0.25 s per step
(convlstm ~4x), so a 400-step variant is 1-2 CPU minutes.

    .venv/bin/python scripts/diagnose_motion.py --probe --json /tmp/dm.json    # probe + the default variants
    .venv/bin/python scripts/diagnose_motion.py fixed baseline --features --shipped
    .venv/bin/python scripts/diagnose_motion.py oracle_gain30 flow_sup_gain30 convlstm --features
    .venv/bin/python scripts/diagnose_motion.py --probe-only
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from videoinr.data.imresize import degrade
from videoinr.data.synthetic import texture
from videoinr.models.config import CONFIGS, ModelConfig
from videoinr.models.siren import Siren
from videoinr.models import State, VideoINR, make_grid, render
from videoinr.models.sampling import _bilinear

SCALE = 4
TRAIN_TIMES = (0.0, 0.25, 0.5, 0.75, 1.0)
EVAL_TIMES = (0.25, 0.5, 0.75)
HAS_PRIOR = "flow_prior" in {f.name for f in dataclasses.fields(ModelConfig)}


# ============================================================================ scenes


def _shift(d_lr: tuple[float, float], t: float) -> tuple[int, int]:
    """The HR shift (dx, dy) at time t of a displacement d (LR px); must be whole HR pixels."""
    sx, sy = t * d_lr[0] * SCALE, t * d_lr[1] * SCALE
    if abs(sx - round(sx)) > 1e-6 or abs(sy - round(sy)) > 1e-6:
        raise ValueError(f"t * d * {SCALE} must be whole HR pixels, got {(sx, sy)} at t={t}")
    return round(sx), round(sy)


@dataclass
class Scene:
    """A frame pair with ground truth: hr (T, 3, H, W) at `times`, lr0/lr1 (3, h, w), the true flows
    (T, H, W, 4) = [F_t0 | F_t1] in LR px at every HR pixel, and per-time masks (T, H, W) of where flows
    are measured, with a label map (T, H, W) of which motion applies (0: background / the texture, 1, 2:
    objects)."""

    hr: Tensor
    times: tuple[float, ...]
    lr0: Tensor
    lr1: Tensor
    flow: Tensor
    mask: Tensor
    label: Tensor
    names: tuple[str, ...] = ("texture",)


def translate_scene(tex: Tensor, hr: int, d: tuple[float, float], times=TRAIN_TIMES, origin=(0, 0),
                    margin_lr: int = 2) -> Scene:
    """Frames hr x hr of `tex` (3, S, S) translating by t*d (LR px): frame t shows tex at x + o - t d."""
    ox, oy = origin
    frames = []
    for t in times:
        sx, sy = _shift(d, t)
        frames.append(tex[:, oy - sy : oy - sy + hr, ox - sx : ox - sx + hr])
    hr_frames = torch.stack(frames)
    if hr_frames.shape[-2:] != (hr, hr):
        raise ValueError("crop outside the texture")
    tt = torch.tensor(times).view(-1, 1, 1, 1)
    dd = torch.tensor(d, dtype=torch.float32)
    flow = torch.cat([-tt * dd, (1 - tt) * dd], -1).expand(len(times), hr, hr, 4).clone()
    # measure away from the frame edges: content within |d| (+ margin) LR px of a border leaves the view
    m = SCALE * (int(math.ceil(max(abs(d[0]), abs(d[1])))) + margin_lr)
    mask = torch.zeros(len(times), hr, hr, dtype=torch.bool)
    mask[:, m : hr - m, m : hr - m] = True
    lr = degrade(hr_frames[[0, -1]], SCALE)
    return Scene(hr_frames, tuple(times), lr[0], lr[1], flow, mask, torch.zeros_like(mask, dtype=torch.long))


def objects_scene(bg: Tensor, texa: Tensor, texb: Tensor, hr: int, da: tuple[float, float], db: tuple[float, float],
                  pa: tuple[int, int], pb: tuple[int, int], side: int, times=TRAIN_TIMES, margin_lr: int = 2) -> Scene:
    """A static background crop (hr x hr of `bg`) with two textured squares of `side` HR px whose top-left
    corners move from pa, pb (HR px) by t*da, t*db (LR px). Masks: the squares' interiors (margin_lr LR px
    in from their edges) at each t."""
    frames, flows, masks, labels = [], [], [], []
    m = SCALE * margin_lr
    for t in times:
        f = bg[:, :hr, :hr].clone()
        fl = torch.zeros(hr, hr, 4)
        mk = torch.zeros(hr, hr, dtype=torch.bool)
        lab = torch.zeros(hr, hr, dtype=torch.long)
        for k, (tex, d, p) in enumerate(((texa, da, pa), (texb, db, pb)), 1):
            sx, sy = _shift(d, t)
            x0, y0 = p[0] + sx, p[1] + sy
            if not (0 <= x0 and x0 + side <= hr and 0 <= y0 and y0 + side <= hr):
                raise ValueError("object leaves the frame")
            f[:, y0 : y0 + side, x0 : x0 + side] = tex[:, :side, :side]  # the texture moves with the object
            fl[y0 : y0 + side, x0 : x0 + side] = torch.tensor([-t * d[0], -t * d[1], (1 - t) * d[0], (1 - t) * d[1]])
            mk[y0 + m : y0 + side - m, x0 + m : x0 + side - m] = True
            lab[y0 : y0 + side, x0 : x0 + side] = k
        frames.append(f)
        flows.append(fl)
        masks.append(mk)
        labels.append(lab)
    hr_frames = torch.stack(frames)
    lr = degrade(hr_frames[[0, -1]], SCALE)
    return Scene(hr_frames, tuple(times), lr[0], lr[1], torch.stack(flows), torch.stack(masks), torch.stack(labels),
                 names=("background", "object A", "object B"))


def _dihedral(x: Tensor, k: int) -> Tensor:
    """One of the 8 flips/rotations of the last two dims (k in 0..7)."""
    x = torch.rot90(x, k % 4, (-2, -1))
    return x.flip(-1) if k >= 4 else x


def _dihedral_d(d: tuple[float, float], k: int) -> tuple[float, float]:
    """The displacement (dx, dy) after `_dihedral(., k)` of the frames (rot90 = counter-clockwise in the
    (row, col) array: (x, y) -> (y, -x); the flip: x -> -x)."""
    dx, dy = d
    for _ in range(k % 4):
        dx, dy = dy, -dx
    return (-dx, dy) if k >= 4 else (dx, dy)


@dataclass
class SceneSpec:
    kind: str = "translate"  # translate | objects
    lr: int = 32  # LR patch side
    d: tuple[float, float] = (5.0, -3.0)  # translate: displacement (LR px) between the inputs
    da: tuple[float, float] = (4.0, 2.0)  # objects
    db: tuple[float, float] = (-3.0, 4.0)
    side_lr: int = 10  # objects: square side, LR px
    sigma: float = 4.0  # texture low-pass sigma, HR px
    augment: bool = True  # random flip/rotation of each window: d's direction varies (read it from the inputs)


class Sampler:
    """Training windows of a SceneSpec: fresh random crops of training textures (seeds 1..4), and a fixed
    held-out evaluation scene (texture seed 100+)."""

    def __init__(self, spec: SceneSpec, seed: int = 0) -> None:
        self.spec = spec
        self.hr = spec.lr * SCALE
        self.size = max(512, 2 * self.hr + 64)
        self.textures = [texture(self.size, spec.sigma, s) for s in (1, 2, 3, 4)]
        self.rng = np.random.default_rng(seed)

    def _translate(self, tex: Tensor, d, rng) -> Scene:
        reach = SCALE * int(math.ceil(max(abs(d[0]), abs(d[1]))))
        lo, hi = reach, self.size - self.hr - reach
        origin = (int(rng.integers(lo, hi)), int(rng.integers(lo, hi)))
        return translate_scene(tex, self.hr, d, origin=origin)

    def _objects(self, texs: list[Tensor], rng) -> Scene:
        s, hr = self.spec, self.hr
        side = s.side_lr * SCALE
        off = [int(rng.integers(0, self.size - hr)) for _ in range(6)]
        bg = texs[0][:, off[0] : off[0] + hr, off[1] : off[1] + hr]
        ta = texs[1][:, off[2] : off[2] + side, off[3] : off[3] + side]
        tb = texs[2][:, off[4] : off[4] + side, off[5] : off[5] + side]
        for _ in range(10000):  # positions where both squares stay inside and their paths never overlap
            pa = tuple(int(v) for v in rng.integers(0, hr - side, 2))
            pb = tuple(int(v) for v in rng.integers(0, hr - side, 2))
            try:
                sc = objects_scene(bg, ta, tb, hr, s.da, s.db, pa, pb, side)
            except ValueError:
                continue
            if not ((sc.label == 1).any(0) & (sc.label == 2).any(0)).any():
                return sc
        raise RuntimeError("could not place the objects")

    def train_scene(self) -> Scene:
        s, rng = self.spec, self.rng
        k = int(rng.integers(0, 8)) if s.augment else 0
        if s.kind == "translate":
            sc = self._translate(self.textures[int(rng.integers(0, len(self.textures)))], s.d, rng)
        else:
            idx = rng.permutation(len(self.textures))[:3]
            sc = self._objects([self.textures[i] for i in idx], rng)
        return _apply_dihedral(sc, k) if k else sc

    def eval_scene(self) -> Scene:
        s = self.spec
        rng = np.random.default_rng(12345)
        if s.kind == "translate":
            return self._translate(texture(self.size, s.sigma, 100), s.d, rng)
        return self._objects([texture(self.size, s.sigma, 100 + i) for i in range(3)], rng)


def _apply_dihedral(sc: Scene, k: int) -> Scene:
    """A scene flipped/rotated by `_dihedral(., k)`: frames, masks, labels and flow vectors."""
    fl = _dihedral(sc.flow.permute(0, 3, 1, 2), k).permute(0, 2, 3, 1)
    f0 = [_dihedral_d((a, b), k) for a, b in ((1.0, 0.0), (0.0, 1.0))]  # images of the unit vectors
    mat = torch.tensor([[f0[0][0], f0[1][0]], [f0[0][1], f0[1][1]]])
    fl = torch.cat([fl[..., :2] @ mat.T, fl[..., 2:] @ mat.T], -1)
    return Scene(_dihedral(sc.hr, k), sc.times, _dihedral(sc.lr0, k), _dihedral(sc.lr1, k), fl,
                 _dihedral(sc.mask, k), _dihedral(sc.label, k), sc.names)


# ============================================================================ model helpers


def small_config(prior: bool = False, **overrides) -> ModelConfig:
    """`lite` with a smaller encoder (nf=16, back_blocks=4: half lite's step time); INRs as lite; flow_prior
    off unless `prior` (whatever `lite` says)."""
    base = dict(nf=16, groups=2, back_blocks=4)
    base.update(overrides)
    if HAS_PRIOR:
        base["flow_prior"] = prior  # explicit: `lite` itself may turn it on
    elif prior:
        raise RuntimeError("this ModelConfig has no flow_prior field")
    return dataclasses.replace(CONFIGS["lite"], **base)


def state_flows(state: State, coords: Tensor, t: float | Tensor) -> Tensor:
    """The flows (B, N, 4) = [F_t0 | F_t1] (LR px) the model uses at points coords (B, N, 2) and time(s) t."""
    return state.flows(coords, t)


@contextlib.contextmanager
def forced_flows(fn):
    """Within: every flow the model uses is fn(t (B, N)) -> (B, N, 4) (TemporalINR and any prior bypassed)."""
    orig = render._flow

    def _flow(st, t, *args, **kwargs):
        return fn(t)

    render._flow = _flow
    try:
        yield
    finally:
        render._flow = orig


def translation_flow(d: tuple[float, float], scale: float = 1.0):
    """fn(t) -> the (scaled) true flows [-t d | (1 - t) d] of a pure translation by d (LR px)."""
    dd = torch.tensor(d, dtype=torch.float32)

    def fn(t: Tensor) -> Tensor:
        t1 = t.unsqueeze(-1)
        return scale * torch.cat([-t1 * dd, (1 - t1) * dd], -1)

    return fn


def patch_output(siren: Siren, gain: Tensor | float | None = None) -> None:
    """Multiply a SIREN's output by `gain` (per channel), on this instance only."""
    g = gain if torch.is_tensor(gain) else torch.tensor(float(gain))

    def from_first(z, gemm_dtype=None):
        return Siren.from_first(siren, z, gemm_dtype) * g

    siren.from_first = from_first


def psnr(a: Tensor, b: Tensor, mask: Tensor | None = None) -> float:
    err = (a.clamp(0, 1) - b) ** 2
    if mask is not None:
        err = err[..., mask]
    return float(-10 * torch.log10(err.mean().clamp_min(1e-12)))


def charbonnier(pred: Tensor, gt: Tensor, eps: float = 1e-3) -> Tensor:
    try:
        from videoinr.train import charbonnier as ch
    except Exception:  # pragma: no cover - train.py imports optional things
        d = pred - gt
        return torch.sqrt(d * d + eps * eps).mean()
    return ch(pred, gt, eps)


# ============================================================================ training and evaluation


@dataclass
class Variant:
    """One diagnosis run: a model config, in-place patches of the fresh model, a scene and a schedule."""

    name: str
    help: str
    cfg: dict = field(default_factory=dict)  # small_config overrides (flow_prior=True for the prior)
    scene: dict = field(default_factory=dict)  # SceneSpec overrides
    flow_gain: float = 1.0  # TemporalINR output x gain (reparametrisation: init divided by it, see flow_init)
    flow_init: float = 1.0  # TemporalINR output layer (weight, bias) x this at init
    decoder_mask: tuple[float, float, float, float] | None = None  # decoder output channels x mask (rgb, alpha)
    flow_sup: float = 0.0  # weight of a direct L1 supervision of the flows by the truth (representability check)
    oracle: bool = False  # the true [F_01 | F_10] as an extra TemporalINR input (see oracle_input)
    lr: float = 1e-3
    steps: int | None = None


def build(v: Variant, seed: int = 0) -> VideoINR:
    torch.manual_seed(seed)
    model = VideoINR(small_config(**v.cfg)).train()
    with torch.no_grad():
        k = v.flow_init / v.flow_gain  # a gain alone keeps the initial flows (lr x gain only)
        model.inr.temporal.out.weight.mul_(k)
        model.inr.temporal.out.bias.mul_(k)
    if v.flow_gain != 1.0:
        patch_output(model.inr.temporal, v.flow_gain)
    if v.decoder_mask is not None:
        patch_output(model.inr.decoder, torch.tensor(v.decoder_mask))
    if v.oracle:
        first = model.inr.temporal.first
        model._oracle_w = torch.nn.Parameter(torch.empty(first.out_features, 4).uniform_(
            -1 / first.in_features, 1 / first.in_features))
    return model


def batch_points(scenes: list[Scene], points: int, rng: np.random.Generator):
    """Model inputs, targets and true flows of a batch of scenes: `points` random HR pixel centres per frame
    (every time): lr0, lr1 (B, 3, h, w), coords (B, M, 2), t (B, M), gt (B, M, 3), flows (B, M, 4)."""
    hr = scenes[0].hr.shape[-1]
    grid = make_grid((hr, hr))
    lr0 = torch.stack([s.lr0 for s in scenes])
    lr1 = torch.stack([s.lr1 for s in scenes])
    coords, ts, gts, fls = [], [], [], []
    for s in scenes:
        c, tt, g, fl = [], [], [], []
        pix = s.hr.permute(0, 2, 3, 1).reshape(len(s.times), hr * hr, 3)
        flow = s.flow.reshape(len(s.times), hr * hr, 4)
        for k, t in enumerate(s.times):
            idx = torch.from_numpy(rng.choice(hr * hr, size=points, replace=False))
            c.append(grid[idx])
            g.append(pix[k, idx])
            fl.append(flow[k, idx])
            tt.append(torch.full((points,), float(t)))
        coords.append(torch.cat(c))
        ts.append(torch.cat(tt))
        gts.append(torch.cat(g))
        fls.append(torch.cat(fl))
    return lr0, lr1, torch.stack(coords), torch.stack(ts), torch.stack(gts), torch.stack(fls)


def oracle_map(scene: Scene) -> Tensor:
    """The true [F_01 | F_10] (4, h, w) on the LR grid (HR flows averaged over each LR cell)."""
    f = torch.cat([scene.flow[0, ..., 2:], scene.flow[-1, ..., :2]], -1).permute(2, 0, 1)
    return F.avg_pool2d(f[None], SCALE)[0]


@contextlib.contextmanager
def oracle_input():
    """Within: models with an `_oracle_w` parameter (C, 4) get TemporalINR first-layer input terms
    omega0 * _oracle_w @ [F_01 | F_10](x) from the true flows (`model._oracle_map`, (B, 4, h, w)), i.e. the
    motion is an input of TemporalINR, which must still learn to map it to the flows."""
    orig = render._temporal_base

    def _temporal_base(st, x, hr_x):
        z = orig(st, x, hr_x)
        m = st.model
        if getattr(m, "_oracle_w", None) is not None:
            z = z + F.linear(_bilinear(m._oracle_map, x, "border"), m._oracle_w * m.cfg.omega0)
        return z

    render._temporal_base = _temporal_base
    try:
        yield
    finally:
        render._temporal_base = orig


def train(model: VideoINR, sampler: Sampler, steps: int, lr: float, batch: int = 2, points: int = 512,
          seed: int = 0, flow_sup: float = 0.0, log=None) -> list[float]:
    """Adam on Charbonnier loss of random HR points at every time of fresh windows; flow_sup > 0 adds
    flow_sup * mean |flow - true flow| (L1, LR px): direct supervision of the flows."""
    rng = np.random.default_rng(seed + 7)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        scenes = [sampler.train_scene() for _ in range(batch)]
        lr0, lr1, coords, t, gt, true_flow = batch_points(scenes, points, rng)
        if getattr(model, "_oracle_w", None) is not None:
            model._oracle_map = torch.stack([oracle_map(s) for s in scenes])
        state = model.encode(lr0, lr1)
        pred = state.query(coords, t)
        loss = charbonnier(pred, gt)
        if flow_sup:
            loss = loss + flow_sup * (state_flows(state, coords, t) - true_flow).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if log and (step + 1) % max(1, steps // 5) == 0:
            log(f"    step {step + 1}: loss {np.mean(losses[-20:]):.4f}")
    return losses


def blend(scene: Scene, t: float) -> Tensor:
    """Linear blend of the two bicubic-upsampled LR inputs (3, H, W)."""
    hr = scene.hr.shape[-1]
    up = F.interpolate(torch.stack([scene.lr0, scene.lr1]), size=(hr, hr), mode="bicubic", align_corners=False)
    return (1 - t) * up[0] + t * up[1]


@torch.no_grad()
def evaluate(model: VideoINR, scene: Scene, times=EVAL_TIMES) -> list[dict]:
    """Per t and motion label: flow errors (LR px), mean flow lengths, PSNRs (see the module docstring)."""
    model.eval()
    hr = scene.hr.shape[-1]
    coords = make_grid((hr, hr)).unsqueeze(0)
    if getattr(model, "_oracle_w", None) is not None:
        model._oracle_map = oracle_map(scene)[None]
    state = model.encode(scene.lr0[None], scene.lr1[None])
    rows = []
    for t in times:
        k = scene.times.index(t)
        flow = state_flows(state, coords, t)[0].view(hr, hr, 4)
        pred = state.query(coords, t)[0].view(hr, hr, 3).permute(2, 0, 1)
        truth, bl, true_flow, mask = scene.hr[k], blend(scene, t), scene.flow[k], scene.mask[k]
        row = {"t": t, "psnr_model": psnr(pred, truth, mask), "psnr_blend": psnr(bl, truth, mask)}
        for lab, name in enumerate(scene.names):
            sel = mask & (scene.label[k] == lab)
            if not sel.any():
                continue
            e = flow[sel] - true_flow[sel]
            row[name] = {
                "err_t0": float(e[:, :2].norm(dim=-1).mean()), "err_t1": float(e[:, 2:].norm(dim=-1).mean()),
                "len_t0": float(flow[sel][:, :2].norm(dim=-1).mean()), "len_t1": float(flow[sel][:, 2:].norm(dim=-1).mean()),
                "true_t0": float(true_flow[sel][:, :2].norm(dim=-1).mean()),
                "true_t1": float(true_flow[sel][:, 2:].norm(dim=-1).mean()),
            }
        rows.append(row)
    model.train()
    return rows


def summary_err(rows: list[dict]) -> float:
    """Mean flow error over every t, both flows and every measured region."""
    errs = [v[k] for r in rows for v in r.values() if isinstance(v, dict) for k in ("err_t0", "err_t1")]
    return float(np.mean(errs))


def print_table(name: str, rows: list[dict], file=sys.stdout) -> None:
    print(f"  {'t':>5} {'region':>10} {'err F_t0':>9} {'err F_t1':>9} {'|F_t0|':>13} {'|F_t1|':>13}"
          f" {'PSNR model':>11} {'PSNR blend':>11}", file=file)
    for r in rows:
        first = True
        for reg, v in r.items():
            if not isinstance(v, dict):
                continue
            ps = f"{r['psnr_model']:11.2f} {r['psnr_blend']:11.2f}" if first else ""
            print(f"  {r['t']:5.2f} {reg:>10} {v['err_t0']:9.2f} {v['err_t1']:9.2f} "
                  f"{v['len_t0']:6.2f} ({v['true_t0']:4.2f}) {v['len_t1']:6.2f} ({v['true_t1']:4.2f}) {ps}", file=file)
            first = False


# ============================================================================ probe


def probe(displacements=((1.0, -1.0), (2.0, -1.0), (5.0, -3.0), (10.0, -6.0)), sigmas=(4.0,), lr_side: int = 32,
          seed: int = 0) -> list[dict]:
    """No training. For a fresh model (and, if shipped, the trained lite) with flows forced to s * truth:
    the loss at s = 0, .25, .5, .75, 1 (on the t = .25/.5/.75 frames of a held-out translating scene), and
    the directional derivative of the loss along the true flow at s = 0 relative to its size at s = 0.75
    (near the optimum's basin), plus the cosine between the loss gradient w.r.t. a global flow offset and
    the true direction of each flow."""
    out = []
    for sigma in sigmas:
        for d in displacements:
            spec = SceneSpec(d=d, sigma=sigma, lr=lr_side)
            sc = Sampler(spec, seed).eval_scene()
            torch.manual_seed(seed)
            model = VideoINR(small_config()).eval()
            patch_output(model.inr.decoder, torch.tensor([0.0, 0.0, 0.0, 0.0]))  # prediction = warped blend, alpha = t
            hr = sc.hr.shape[-1]
            grid = make_grid((hr, hr))
            idx = [sc.times.index(t) for t in EVAL_TIMES]
            m = sc.mask[idx[0]].reshape(-1)
            coords = grid[m].unsqueeze(0)
            n = coords.shape[1]
            xs = coords.repeat(1, len(idx), 1)
            ts = torch.cat([torch.full((n,), t) for t in EVAL_TIMES]).unsqueeze(0)
            gt = torch.cat([sc.hr[k].permute(1, 2, 0).reshape(-1, 3)[m] for k in idx]).unsqueeze(0)
            with torch.no_grad():
                state = model.encode(sc.lr0[None], sc.lr1[None])
            row = {"d": d, "sigma": sigma, "loss": {}}
            for s in (0.0, 0.25, 0.5, 0.75, 1.0):
                with torch.no_grad(), forced_flows(translation_flow(d, s)):
                    row["loss"][s] = float(charbonnier(state.query(xs, ts), gt))
            # gradient w.r.t. a global offset added to the flows, at s = 0 and s = 0.75
            for s in (0.0, 0.75):
                off = torch.zeros(4, requires_grad=True)
                base = translation_flow(d, s)
                with torch.enable_grad(), forced_flows(lambda t: base(t) + off):
                    charbonnier(state.query(xs, ts), gt).backward()
                g = -off.grad  # descent direction
                dd = torch.tensor(d)
                row[f"cos_t0@{s}"] = float(F.cosine_similarity(g[:2], -dd, 0))  # truth F_t0 ∝ -d
                row[f"cos_t1@{s}"] = float(F.cosine_similarity(g[2:], dd, 0))
                row[f"gnorm@{s}"] = float(g.norm())
            out.append(row)
    return out


# ============================================================================ do the inputs of TemporalINR hold the motion?


@torch.no_grad()
def feature_probe(model: VideoINR, spec: SceneSpec | None = None, n_fit: int = 24, n_test: int = 16,
                  seed: int = 0) -> dict:
    """Linear (ridge) probe of the motion in what TemporalINR reads from the LR grid: the encoder's features
    [F0 | Fmid | F1] and both LR frames at each LR pixel, regressed onto the true F_01 there, over windows
    translating in random directions (8 flips/rotations). R^2 on held-out windows (another texture); 1 =
    the motion is linearly readable from those inputs, 0 = not at all."""
    spec = spec or SceneSpec()
    fit_s = Sampler(dataclasses.replace(spec, augment=True), seed)
    test_s = Sampler(dataclasses.replace(spec, augment=True), seed + 1)
    test_s.textures = [texture(test_s.size, spec.sigma, 100 + i) for i in range(4)]
    m = int(math.ceil(max(abs(spec.d[0]), abs(spec.d[1])))) + 2

    def data(sampler, n):
        xs, ys = [], []
        for _ in range(n):
            sc = sampler.train_scene()
            lr0, lr1 = sc.lr0[None], sc.lr1[None]
            cl = torch.channels_last
            feat = model.encoder(lr0.contiguous(memory_format=cl), lr1.contiguous(memory_format=cl)).float()
            x = torch.cat([feat, lr0, lr1], 1)[0, :, m:-m, m:-m]
            y = oracle_map(sc)[:2, m:-m, m:-m]
            xs.append(x.reshape(x.shape[0], -1).T)
            ys.append(y.reshape(2, -1).T)
        return torch.cat(xs).double(), torch.cat(ys).double()

    was = model.training
    model.eval()
    xf, yf = data(fit_s, n_fit)
    xt, yt = data(test_s, n_test)
    model.train(was)
    mu, sd = xf.mean(0), xf.std(0).clamp_min(1e-8)
    xf, xt = (xf - mu) / sd, (xt - mu) / sd
    xf, xt = torch.cat([xf, torch.ones(len(xf), 1, dtype=xf.dtype)], 1), torch.cat([xt, torch.ones(len(xt), 1, dtype=xt.dtype)], 1)
    w = torch.linalg.solve(xf.T @ xf + 1e-2 * len(xf) * torch.eye(xf.shape[1], dtype=xf.dtype), xf.T @ yf)
    r2 = lambda x, y: float(1 - ((x @ w - y) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())  # noqa: E731
    return {"r2_fit": r2(xf, yf), "r2_test": r2(xt, yt)}


# ============================================================================ variants

FIXED = dict(augment=False)
VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant("baseline", "lite INRs as shipped (small encoder), d=(+5,-3) in a random one of 8 directions, lr 1e-3"),
    Variant("fixed", "control: d=(+5,-3) always the same direction (a constant flow fits it)", scene=FIXED),
    Variant("fixed_lr3e-4", "control at the trained lr 3e-4", scene=FIXED, lr=3e-4),
    Variant("long", "baseline, 3x the steps", steps=1200),
    Variant("lr3e-4", "baseline at the trained lr 3e-4", lr=3e-4),
    Variant("d1", "small motion d=(+1,-1): inside the bicubic footprint (2 LR px)", scene=dict(d=(1.0, -1.0))),
    Variant("d2", "d=(+2,-1)", scene=dict(d=(2.0, -1.0))),
    Variant("d10", "large motion d=(+10,-6)", scene=dict(d=(10.0, -6.0))),
    Variant("smooth", "smoother texture (sigma 12 HR px = 3 LR px): a wider basin", scene=dict(sigma=12.0)),
    Variant("init30", "TemporalINR output layer x30 at init (flows start at ~1-3 px, random)", flow_init=30.0),
    Variant("gain30", "flow = 30 x TemporalINR output, init / 30 (same initial flows, 30x faster flow updates)",
            flow_gain=30.0),
    Variant("omega10", "SIREN omega0 = 10 (all three SIRENs)", cfg=dict(omega0=10.0)),
    Variant("alpha_t", "decoder blend weight fixed to t (its logit output zeroed)", decoder_mask=(1, 1, 1, 0)),
    Variant("warp_only", "decoder output zeroed: prediction = flow-warped blend with weight t (flow is the only path)",
            decoder_mask=(0, 0, 0, 0)),
    Variant("no_skip", "rgb_skip off (decoder alone, as the paper)", cfg=dict(rgb_skip=False)),
    Variant("convlstm", "the paper's deformable ConvLSTM in the encoder (mixes the frames into F0, F1 too)",
            cfg=dict(convlstm=True)),
    Variant("patch16", "LR patch 16 (the motion is a larger part of the patch)", scene=dict(lr=16)),
    Variant("patch64", "LR patch 64", scene=dict(lr=64)),
    Variant("flow_sup", "+ L1 supervision of the flows by the truth (can the model represent input-dependent flows?)",
            flow_sup=1.0),
    Variant("oracle", "the true [F_01|F_10] fed to TemporalINR as an input (it must learn the map to flows)",
            oracle=True),
    Variant("oracle_gain30", "oracle + gain30", oracle=True, flow_gain=30.0),
    Variant("flow_sup_gain30", "flow_sup + gain30", flow_sup=1.0, flow_gain=30.0),
    Variant("flow_sup_gain30_long", "flow_sup + gain30, 3x the steps", flow_sup=1.0, flow_gain=30.0, steps=1200),
    Variant("objects", "two squares moving by (+4,+2) and (-3,+4) over a static background, random flips/rotations",
            scene=dict(kind="objects")),
    Variant("prior", "flow_prior=True (DIS prior + TemporalINR correction)", cfg=dict(prior=True)),
    Variant("prior_fixed", "flow_prior=True, fixed direction", cfg=dict(prior=True), scene=FIXED),
    Variant("prior_objects", "flow_prior=True on the two-object scene", cfg=dict(prior=True),
            scene=dict(kind="objects")),
]}
DEFAULT = ["fixed", "baseline", "d1", "smooth", "init30", "gain30", "omega10", "alpha_t", "warp_only", "patch16",
           "flow_sup", "oracle", "objects", "prior", "prior_objects"]


def run_variant(v: Variant, steps: int, seed: int, log=print, probe_features: bool = False) -> dict:
    if v.cfg.get("prior") and not HAS_PRIOR:
        log(f"  {v.name}: skipped (ModelConfig has no flow_prior field yet)")
        return {}
    spec = SceneSpec(**v.scene)
    sampler = Sampler(spec, seed)
    with oracle_input() if v.oracle else contextlib.nullcontext():
        model = build(v, seed)
        ev = sampler.eval_scene()
        before = evaluate(model, ev)
        feat_before = feature_probe(model, spec, seed=seed) if probe_features else None
        t0 = time.perf_counter()
        losses = train(model, sampler, v.steps or steps, v.lr, seed=seed, flow_sup=v.flow_sup, log=log)
        dt = time.perf_counter() - t0
        rows = evaluate(model, ev)
    if probe_features:
        fp = (feat_before, feature_probe(model, spec, seed=seed))
    return {"feature_probe": fp if probe_features else None, "name": v.name, "help": v.help, "steps": v.steps or steps, "seconds": dt, "loss_start": float(np.mean(losses[:10])),
            "loss_end": float(np.mean(losses[-20:])), "before": before, "after": rows,
            "err_before": summary_err(before), "err_after": summary_err(rows)}


def shipped(results: dict) -> None:
    """The shipped `lite` weights (trained 20000 steps on real video) on the eval scenes, and the probe."""
    from videoinr.models.registry import PRETRAINED, load_weights

    model = load_weights(PRETRAINED["lite"]).eval()
    prior = getattr(model.cfg, "flow_prior", False)
    results["shipped"] = {"flow_prior": prior}
    for kind in ("translate", "objects"):
        spec = SceneSpec(kind=kind)
        rows = evaluate(model, Sampler(spec, 0).eval_scene())
        print(f"\n== shipped lite weights (flow_prior={prior}), {kind} scene, no training")
        print_table("shipped", rows)
        results["shipped"][kind] = rows
    fp = feature_probe(model)
    print(f"  motion linearly readable from its encoder features + frames: R^2 {fp['r2_test']:.2f}")
    fresh = feature_probe(VideoINR(dataclasses.replace(CONFIGS["lite"], **({"flow_prior": False} if HAS_PRIOR else {}))))
    print(f"  (a fresh lite: R^2 {fresh['r2_test']:.2f})")
    results["shipped"]["feature_probe"] = fp
    results["shipped"]["feature_probe_fresh_lite"] = fresh


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("variants", nargs="*", help=f"variants to run (default: {' '.join(DEFAULT)}; 'all' for all)")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--probe", action="store_true", help="also run the no-training probe")
    p.add_argument("--probe-only", action="store_true")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--features", action="store_true",
                   help="linear probe of the motion in TemporalINR's LR-grid inputs, before and after training")
    p.add_argument("--shipped", action="store_true",
                   help="also measure the shipped lite weights (trained on real video) on the scenes, no training")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.list:
        for v in VARIANTS.values():
            print(f"{v.name:>16}  {v.help}")
        return 0
    results: dict = {"probe": None, "runs": []}
    if args.probe or args.probe_only:
        print("probe: fresh model, decoder zeroed (prediction = warped blend), flows forced to s * truth")
        print(f"  {'d (LR px)':>12} {'sigma':>5}  loss at s=0 .25 .5 .75 1{'':>12} descent cos(F_t0,F_t1) at s=0 | s=.75"
              f"   |grad| s=0 / s=.75")
        pr = probe()
        for r in pr:
            ls = " ".join(f"{r['loss'][s]:.4f}" for s in (0.0, 0.25, 0.5, 0.75, 1.0))
            print(f"  {str(r['d']):>12} {r['sigma']:5.1f}  {ls}   {r['cos_t0@0.0']:+.2f} {r['cos_t1@0.0']:+.2f} | "
                  f"{r['cos_t0@0.75']:+.2f} {r['cos_t1@0.75']:+.2f}   {r['gnorm@0.0']:.2e} / {r['gnorm@0.75']:.2e}")
        results["probe"] = pr
    if args.shipped:
        shipped(results)
    if not args.probe_only:
        names = args.variants or DEFAULT
        if names == ["all"]:
            names = list(VARIANTS)
        for name in names:
            v = VARIANTS[name]
            print(f"\n== {name}: {v.help}")
            r = run_variant(v, args.steps, args.seed, probe_features=args.features)
            if not r:
                continue
            if r["feature_probe"]:
                (b, a) = r["feature_probe"]
                print(f"  motion linearly readable from the encoder features + frames: R^2 {b['r2_test']:.2f} "
                      f"(fresh) -> {a['r2_test']:.2f} (trained)")
            print(f"  {r['steps']} steps in {r['seconds']:.0f} s, loss {r['loss_start']:.4f} -> {r['loss_end']:.4f}; "
                  f"mean flow error {r['err_before']:.2f} -> {r['err_after']:.2f} LR px")
            print_table(name, r["after"])
            results["runs"].append(r)
            sys.stdout.flush()
        print("\nsummary: mean flow error (LR px, F_t0 and F_t1 at t=.25/.5/.75) and PSNR at t=.5 (model / blend)")
        for r in results["runs"]:
            mid = next(x for x in r["after"] if x["t"] == 0.5)
            print(f"  {r['name']:>16}: {r['err_before']:5.2f} -> {r['err_after']:5.2f}   "
                  f"{mid['psnr_model']:6.2f} / {mid['psnr_blend']:6.2f} dB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
