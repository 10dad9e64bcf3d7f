"""`videoinr check` (issue #24 item 1): sampling, the interpolated / input-time split, the verdict, the report
files, a model that loses, and the one-line errors that leave no report behind. Inputs: the bundled clip
(192x108, 60 frames) and small clips made from it; the shipped `lite` model and a random-init one."""
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from av_helpers import write_with_audio
from cli_helpers import one_error_line
from videoinr import cli
from videoinr.check.sampling import open_source, plan_segments

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "videoinr" / "assets" / "example.mp4"


def run_check(args, capsys) -> tuple[int, str, str]:
    rc = cli.main(["check", *map(str, args), "--quiet"])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def leftovers(folder: Path, name: str) -> list[str]:
    """Anything named after the report in `folder` (the report itself, its temporary or old siblings)."""
    return sorted(p.name for p in folder.iterdir() if name in p.name)


@pytest.fixture(scope="module")
def lite_report(tmp_path_factory):
    """`videoinr check example --seconds 1` with the shipped model: one 30-frame segment from the middle."""
    out = tmp_path_factory.mktemp("chk") / "report"
    rc = cli.main(["check", str(EXAMPLE), "-o", str(out), "--seconds", "1", "--quiet"])
    assert rc == 0
    return out


def test_report_files_present_and_parsable(lite_report):
    assert sorted(p.name for p in lite_report.iterdir()) == ["crops", "psnr_over_time.png", "report.md", "results.json"]
    res = json.loads((lite_report / "results.json").read_text())
    for png in ["psnr_over_time.png", "crops/gain.png", "crops/loss.png"]:
        img = cv2.imread(str(lite_report / png))
        assert img is not None and img.shape[0] > 20, png
    md = (lite_report / "report.md").read_text()
    assert res["verdict"]["text"] in md and "| **VideoINR-lite** (`lite`)" in md and "crops/gain.png" in md
    assert set(res["methods"]) == {"lite", "flow-bicubic", "bicubic-blend", "bicubic-repeat"}
    assert res["segments"] == [[15, 45]] and res["sampled_frames"] == 30  # --seconds 1 of a 2 s file: the middle
    assert res["estimate"]["seconds"] > 0 and res["estimate"]["pairs_whole_file"] == 59


def test_verdict_sign_matches_numbers(lite_report):
    res = json.loads((lite_report / "results.json").read_text())
    m, f = res["methods"]["lite"]["interpolated"], res["methods"]["flow-bicubic"]["interpolated"]
    delta = m["psnr"] - f["psnr"]
    v = res["verdict"]
    assert v["delta_db"] == pytest.approx(delta) and v["frames"] == "interpolated"
    d_in = res["methods"]["lite"]["input_time"]["psnr"] - res["methods"]["flow-bicubic"]["input_time"]["psnr"]
    assert v["input_time_delta_db"] == pytest.approx(d_in)
    assert v["helps"] == (delta >= 0.1 and d_in >= -0.1)
    if v["helps"]:
        assert f"+{delta:.2f} dB over optical flow + bicubic on interpolated frames at x4/x2" in v["text"]
    else:
        assert "does NOT help" in v["text"]
    # the pooled means are the means of the per-frame rows
    rows = [r for r in res["methods"]["lite"]["per_frame"] if r["interpolated"]]
    assert m["psnr"] == pytest.approx(np.mean([r["psnr"] for r in rows]))


def test_interpolated_and_input_time_split(lite_report):
    """Time x2 inside a scene starting at source frame s: frames s, s+2, ... are inputs (t = 0 or 1), the
    odd offsets interpolated at t = 0.5; the frame after the scene's last input is not scored."""
    res = json.loads((lite_report / "results.json").read_text())
    (scene,) = res["scenes"]
    rows = res["methods"]["lite"]["per_frame"]
    start = scene["start_frame"]
    for r in rows:
        off = r["source_frame"] - start
        assert r["interpolated"] == (off % 2 == 1) == (r["t"] == 0.5), r
    assert [r["source_frame"] for r in rows] == list(range(start, start + 29))  # 30 frames: inputs 0..28
    for name, m in res["methods"].items():
        assert m["interpolated"]["frames"] == 14 and m["input_time"]["frames"] == 15, name
    # at input times the flow baseline is plain bicubic, like the other baselines
    b = {n: res["methods"][n]["input_time"]["psnr"] for n in ("flow-bicubic", "bicubic-blend", "bicubic-repeat")}
    assert max(b.values()) - min(b.values()) < 1e-9


def test_segments_spread_over_a_long_file():
    """A 2-hour file at 30 fps, --seconds 6: 3 segments of 60 frames centred at 1/6, 1/2, 5/6 of it."""
    n = 2 * 3600 * 30
    segs = plan_segments(n, 30, 6, 3)
    assert [len(s) for s in segs] == [60, 60, 60]
    assert [s.start + 30 for s in segs] == [n // 6, n // 2, 5 * n // 6]
    assert plan_segments(60, 30, 6, 3) == [range(0, 60)]  # a short file: whole
    assert plan_segments(60, 30, 1, 3) == [range(15, 45)]


def test_seeked_segment_equals_streamed_frames():
    """Frames read by seeking into the file are the same frames, bit for bit, as a full decode's."""
    from videoinr.data.video import read_video

    src = open_source(EXAMPLE)
    all_frames = read_video(EXAMPLE)
    got = src.read(range(37, 43))
    assert len(got) == 6 and all(np.array_equal(a, b) for a, b in zip(got, all_frames[37:43]))


def test_scenes_are_split_at_cuts(tmp_path, capsys, weights):
    """A frame folder with a hard cut at frame 12: two scenes, each scored inside itself, no pair across."""
    from videoinr.data.video import read_video

    frames = read_video(EXAMPLE)[:24]
    frames = frames[:12] + [np.ascontiguousarray(255 - f[::-1]) for f in frames[12:]]
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    out = tmp_path / "r"
    rc, stdout, err = run_check([folder, "-o", out, "--model", weights, "--scale", "2"], capsys)
    assert rc == 0, err
    res = json.loads((out / "results.json").read_text())
    assert [(s["start_frame"], s["frames"]) for s in res["scenes"]] == [(0, 12), (12, 12)]
    assert all(s["whole"] for s in res["scenes"])
    for r in res["methods"]["flow-bicubic"]["per_frame"]:
        lo = 0 if r["source_frame"] < 12 else 12
        assert lo <= r["source_frame"] < lo + 11  # 12 frames at time x2: inputs 0..10, frame 11 unscored
    assert len(res["methods"][str(weights)]["per_scene"]) == 2


def test_a_model_that_loses_says_so(tmp_path, capsys, weights):
    """A random-init model is far below optical flow + bicubic: the verdict says it does not help."""
    out = tmp_path / "r"
    rc, stdout, err = run_check([EXAMPLE, "-o", out, "--model", weights, "--seconds", "0.5"], capsys)
    assert rc == 0, err
    res = json.loads((out / "results.json").read_text())
    v = res["verdict"]
    assert v["delta_db"] < -1 and not v["helps"]
    assert "does NOT help" in v["text"] and "below optical flow + bicubic" in v["text"]
    assert stdout.strip() == v["text"]
    assert v["text"] in (out / "report.md").read_text()


def _single_frame(d: Path) -> Path:
    from videoinr.data.video import read_video

    p = d / "one.mp4"
    write_with_audio(p, read_video(EXAMPLE)[:1], fps=30)
    return p


def _text(d: Path) -> Path:
    p = d / "notes.mp4"
    p.write_text("not a video\n" * 50)
    return p


@pytest.mark.parametrize("case, make, extra, expect", [
    ("missing", lambda d: d / "nope.mp4", [], "no such file"),
    ("text", _text, [], "not"),
    ("single_frame", _single_frame, ["--time-scale", "2"], "1 frame"),
    ("bad_scale", lambda d: EXAMPLE, ["--scale", "0.5"], "--scale"),
    ("fps_not_multiple", lambda d: EXAMPLE, ["--fps", "45"], "--fps 45"),
    ("bad_model", lambda d: EXAMPLE, ["--model", "nope.safetensors"], "nope.safetensors"),
    ("bad_baseline", lambda d: EXAMPLE, ["--baselines", "sharpen"], "--baselines sharpen: unknown sharpen"),
])
def test_bad_input_one_line_no_report(tmp_path, capsys, case, make, extra, expect):
    src = make(tmp_path)
    rc, _, err = run_check([src, "-o", tmp_path / "report", *extra], capsys)
    assert rc == 2
    assert expect in one_error_line(err)
    assert leftovers(tmp_path, "report") == []


def test_existing_report_needs_force(tmp_path, capsys, weights):
    out = tmp_path / "report"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    rc, _, err = run_check([EXAMPLE, "-o", out, "--model", weights, "--seconds", "0.3"], capsys)
    assert rc == 2 and "already exists (use --force" in one_error_line(err)
    assert [p.name for p in out.iterdir()] == ["mine.txt"] and leftovers(tmp_path, "report") == ["report"]
    rc, _, err = run_check([EXAMPLE, "-o", out, "--model", weights, "--seconds", "0.3", "--force"], capsys)
    assert rc == 0, err
    assert (out / "report.md").is_file() and not (out / "mine.txt").exists()
    assert leftovers(tmp_path, "report") == ["report"]


def test_ctrl_c_is_one_line_and_leaves_nothing(tmp_path, capsys, weights, monkeypatch):
    from videoinr.check import run

    calls = []

    def interrupted(*a, **k):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    real = run.score_task
    monkeypatch.setattr(run, "score_task", interrupted)
    rc, _, err = run_check([EXAMPLE, "-o", tmp_path / "report", "--model", weights, "--seconds", "0.5"], capsys)
    assert rc == 130 and err.strip() == "interrupted"
    assert leftovers(tmp_path, "report") == []


def _results(model_db: float, ref_db: float, interpolated: int = 10, scale: float = 4.0, time_scale: int = 2,
             input_time: tuple[float, float] = (40.0, 40.0)) -> dict:
    """The part of a check's results that the verdict reads: the model's and flow + bicubic's pooled PSNR on
    interpolated frames (on input-time frames when `interpolated` is 0) and on input-time frames."""
    def entry(db, db_in):
        m = {"interpolated": {"psnr": db if interpolated else float("nan"), "frames": interpolated},
             "input_time": {"psnr": db_in, "frames": 5}}
        return m

    if not interpolated:
        input_time = (model_db, ref_db)
    return {"model": "lite", "reference": "flow-bicubic", "space_scale": scale, "time_scale": time_scale,
            "methods": {"lite": entry(model_db, input_time[0]), "flow-bicubic": entry(ref_db, input_time[1])},
            "estimate": {"seconds": 95.0}}


@pytest.mark.parametrize("delta", [0.5, 0.125, 0.0625, 0.0, -0.0625, -0.125, -0.49])
def test_verdict_thresholds_on_numbers(delta):
    """docs/CHECK.md's thresholds: >= +0.1 dB helps; within 0.1 dB no measurable gain; below -0.1 dB the
    classical method is better. Every verdict that does not help says 'does NOT help'."""
    from videoinr.check.report import GAIN_DB, verdict

    v = verdict(_results(30.0 + delta, 30.0))
    assert v["delta_db"] == pytest.approx(delta) and v["frames"] == "interpolated"
    assert v["helps"] == (delta >= GAIN_DB)
    assert ("does NOT help" in v["text"]) == (not v["helps"])
    assert "at x4/x2" in v["text"] and "estimated time to upscale the whole file: 95 s" in v["text"]
    if delta >= GAIN_DB:
        assert f"the model is +{delta:.2f} dB over optical flow + bicubic on interpolated frames" in v["text"]
    elif delta > -GAIN_DB:
        assert f"{delta:+.2f} dB against optical flow + bicubic" in v["text"] and "no measurable gain" in v["text"]
    else:
        assert f"it is {-delta:.2f} dB below optical flow + bicubic" in v["text"]
        assert "the classical method is better here" in v["text"]


def test_verdict_time_x1_and_unscored():
    """Time x1 leaves no interpolated frame: the verdict compares input-time frames with bicubic; nothing
    scored (NaN) never reads as a gain."""
    from videoinr.check.report import verdict

    v = verdict(_results(31.0, 30.0, interpolated=0, time_scale=1))
    assert v["frames"] == "input_time" and v["helps"] and v["delta_db"] == pytest.approx(1.0)
    assert "+1.00 dB over bicubic on input-time frames" in v["text"] and "at x4/x1" in v["text"]
    v = verdict(_results(29.0, 30.0, interpolated=0, time_scale=1))
    assert not v["helps"] and "1.00 dB below bicubic on input-time frames" in v["text"]
    v = verdict(_results(float("nan"), 30.0))
    assert not v["helps"] and "no frame could be scored" in v["text"]
    res = _results(31.0, 30.0)
    res["estimate"] = {"seconds": float("nan"), "refused": "upscale: one 5120x2880 output frame needs about 10.3 GiB"}
    v = verdict(res)
    assert v["helps"] and v["text"].endswith("; no whole-file estimate, upscale: one 5120x2880 output frame needs "
                                             "about 10.3 GiB")


@pytest.mark.parametrize("input_time, overall, helps", [
    ((31.0, float("inf")), -1.1006, False),  # x1: the model alters the inputs, the baselines keep them exact
    ((49.0, float("inf")), +0.4694, True),  # ... but at 49 dB the interpolated gain still wins over all frames
    ((33.0, 33.5), +0.2994, True),  # x4: 0.5 dB below bicubic on the inputs, ahead over all frames
    ((30.0, 32.0), -0.2432, False),  # x4: 2 dB below on the inputs: behind over all frames
])
def test_verdict_counts_input_time_losses(input_time, overall, helps):
    """A model +0.5 dB on 10 interpolated frames that re-renders the 5 input-time frames more than 0.1 dB
    worse than the baseline helps only if it is still +0.1 dB ahead over all 15 frames (PSNR of the mean
    MSE; the figures are worked by hand from the frame-weighted MSEs)."""
    from videoinr.check.report import verdict

    scale = 1.0 if input_time[1] == float("inf") else 4.0
    v = verdict(_results(30.5, 30.0, scale=scale, input_time=input_time))
    assert v["overall_delta_db"] == pytest.approx(overall, abs=1e-4) and v["helps"] is helps
    assert ("does NOT help overall: +0.50 dB over optical flow + bicubic" in v["text"]) is not helps
    assert f"over all frames {overall:+.2f} dB" in v["text"]
    if scale == 1.0:
        assert (f"it alters the input-time frames ({input_time[0]:.2f} dB against the original, which the "
                "baselines at x1 keep exact)") in v["text"]
    else:
        assert f"it is {input_time[1] - input_time[0]:.2f} dB below bicubic on input-time frames" in v["text"]
    # within 0.1 dB on the input-time frames: not a loss, nothing added; a loss on both stays a loss
    v = verdict(_results(30.5, 30.0, input_time=(33.0, 33.0625)))
    assert v["helps"] and "input-time" not in v["text"] and math.isnan(v["overall_delta_db"])
    v = verdict(_results(29.5, 30.0, scale=scale, input_time=input_time))
    assert not v["helps"] and "0.50 dB below optical flow + bicubic" in v["text"] and "over all frames" in v["text"]


def _estimate_of(weights, **kw) -> dict:
    from videoinr.check.run import check

    results, _ = check(EXAMPLE, model=str(weights), seconds=0.3, baselines=("flow-bicubic",), progress=False,
                       startup_seconds=1.5, **kw)
    return results["estimate"]


def test_whole_file_estimate_terms(weights, monkeypatch):
    """The estimate is upscale's cost model measured at the real size: the bundled clip (60 frames of 192x108)
    at x4/x2 is 119 output frames of 768x432 (upscale's output_size), 59 encodes of original pairs, the first
    render call of a pair (t = 0, 0.5) timed whole, H.264 writing, the startup passed in plus the model's
    load, and the terms add up to the total. Eager where runtime's policy does not compile (forced here: the
    decision depends on the compile time recorded on this machine), else the compiled cost model."""
    from videoinr import runtime
    from videoinr.check import run

    monkeypatch.setenv("VIDEOINR_COMPILE", "0")
    e = _estimate_of(weights)
    assert e["output_size"] == [432, 768] and e["output_frames"] == 119 and e["pairs_whole_file"] == 59
    assert e["compile"] is False and e["compile_seconds"] == 0
    assert e["render_timed"] == {"frames": 2, "band_rows": None}
    assert e["startup_seconds"] > 1.5 and e["read_seconds"] > 0 and e["write_seconds_per_frame"] > 0
    assert e["render_seconds_per_frame"] > 0
    assert e["seconds"] == pytest.approx(
        e["startup_seconds"] + e["read_seconds"] + 59 * e["encode_seconds_per_pair"]
        + 119 * (e["render_seconds_per_frame"] + e["write_seconds_per_frame"]))
    # where runtime's policy compiles (forced here), the compiled renderer is timed (a first call compiles, a
    # second is timed) and the compile counted once; a frame over RENDER_TIMING_PIXELS is timed on a band
    monkeypatch.setenv("VIDEOINR_COMPILE", "1")
    monkeypatch.setattr(run, "RENDER_TIMING_PIXELS", 100_000)
    e = _estimate_of(weights)
    assert e["compile"] is True and e["compile_seconds"] >= 0 and e["render_seconds_per_frame"] > 0
    assert e["render_timed"] == {"frames": 1, "band_rows": 100_000 // 768}
    assert e["seconds"] == pytest.approx(
        e["startup_seconds"] + e["read_seconds"] + 59 * e["encode_seconds_per_pair"] + e["compile_seconds"]
        + 119 * (e["render_seconds_per_frame"] + e["write_seconds_per_frame"]))
