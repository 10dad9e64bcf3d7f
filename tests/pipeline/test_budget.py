"""The run-time estimate's cost model (`pipeline.budget.estimate_seconds`), with modelled render times."""
from types import SimpleNamespace

import pytest

from videoinr.pipeline import budget as vb

PASS1, PER_FRAME, COMPILE, ENCODE = 0.3, 0.25, 6.0, 1.5  # seconds: per call, per frame, once, per pair


def _plan(pairs: int, per_pair: int):
    refs = [((p, p + 1), k / per_pair) for p in range(pairs) for k in range(per_pair)]
    return SimpleNamespace(refs=refs, rendered=lambda i: True, renders=len(refs), out_hw=(8, 8), region=None)


def _call(n: int) -> float:
    return PASS1 + n * PER_FRAME


@pytest.mark.parametrize("per_pair, t_per_call", [(2, 16), (8, 16), (8, 3), (1, 16)])
def test_compiled_estimate_counts_pass1_per_call_and_the_compile_once(monkeypatch, per_pair, t_per_call):
    monkeypatch.setattr(vb, "_timed_render", lambda state, plan, t: _call(len(t)))
    monkeypatch.setattr("videoinr.models.render._use_compiled", lambda state: True)
    plan = _plan(pairs=12, per_pair=per_pair)
    todo = list(range(per_pair))
    budget = vb.Budget(max_query_points=1 << 16, t_per_call=t_per_call, peak_bytes=0)
    first = COMPILE + _call(min(per_pair, t_per_call))
    got = vb.estimate_seconds(SimpleNamespace(model=object()), plan, todo, ENCODE, budget, first_call=first)
    calls_per_pair = -(-per_pair // t_per_call)
    if per_pair == 1:  # one frame per call: pass 1 is inseparable from the frame, and counted per frame
        calls_per_pair = 0
    timing = _call(1) + (_call(2) if min(per_pair, t_per_call) > 1 else 0)  # the estimate's own timing calls
    want = 12 * ENCODE + COMPILE + timing + 12 * (calls_per_pair * PASS1) + plan.renders * (
        PER_FRAME + (PASS1 if per_pair == 1 else 0))
    assert got == pytest.approx(want)


def test_eager_estimate_scales_the_first_call(monkeypatch):
    monkeypatch.setattr(vb, "_timed_render", lambda *a: pytest.fail("eager: no timing renders"))
    monkeypatch.setattr("videoinr.models.render._use_compiled", lambda state: False)
    plan = _plan(pairs=5, per_pair=4)
    budget = vb.Budget(max_query_points=1 << 16, t_per_call=4, peak_bytes=0)
    got = vb.estimate_seconds(SimpleNamespace(model=object()), plan, [0, 1, 2, 3], ENCODE, budget,
                              first_call=_call(4))
    assert got == pytest.approx(5 * ENCODE + 20 * _call(4) / 4)


def test_a_job_of_one_render_call_is_its_encode_and_that_call(monkeypatch):
    monkeypatch.setattr(vb, "_timed_render", lambda *a: pytest.fail("one call: no timing renders"))
    monkeypatch.setattr("videoinr.models.render._use_compiled", lambda state: True)
    plan = _plan(pairs=1, per_pair=9)
    budget = vb.Budget(max_query_points=1 << 16, t_per_call=16, peak_bytes=0)
    first = COMPILE + _call(9)
    got = vb.estimate_seconds(SimpleNamespace(model=object()), plan, list(range(9)), ENCODE, budget, first_call=first)
    assert got == pytest.approx(ENCODE + first)


def test_sliding_pairs_count_each_frames_part_once(monkeypatch):
    """The first pair's encode is two frame parts and the pair part; a sliding pair (i, i+1) after (i-1, i)
    computes one frame part, a pair after a jump (scene cut, --dedup) two."""
    monkeypatch.setattr("videoinr.models.render._use_compiled", lambda state: False)
    frame, pair_part = 0.4, 0.7
    refs = [((0, 1), 0.0), ((0, 1), 0.5), ((1, 2), 0.0), ((1, 2), 0.5), ((5, 6), 0.0), ((6, 7), 0.0)]
    plan = SimpleNamespace(refs=refs, rendered=lambda i: True, renders=len(refs), out_hw=(8, 8), region=None)
    budget = vb.Budget(max_query_points=1 << 16, t_per_call=2, peak_bytes=0)
    got = vb.estimate_seconds(SimpleNamespace(model=object()), plan, [0, 1], 2 * frame + pair_part, budget,
                              first_call=2 * PER_FRAME, t_frame=frame)
    assert got == pytest.approx(4 * pair_part + (2 + 1 + 2 + 1) * frame + 6 * PER_FRAME)
