"""`videoinr.evaluate.report` through `videoinr eval`: `--out` is checked before any work (a file, a path
under a file, a results.json that is a folder, a folder overlapping `--data`), a disk error while writing
is one line, and an error is not glued to the progress bar. Real files: frames of the bundled example."""
from __future__ import annotations

import errno
from pathlib import Path

import cv2
import numpy as np
import pytest

from videoinr import cli

from av_helpers import example_frames
from cli_helpers import one_error_line


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """5 real RGB frames of the example clip, cropped to 96x64."""
    return example_frames(5, crop=(64, 96))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, frames) -> Path:
    """One sequence of 5 frames; frame 3 has another size (fails mid-evaluation)."""
    root = tmp_path_factory.mktemp("evaldata") / "data"
    (root / "seq").mkdir(parents=True)
    for i in range(5):
        img = frames[i] if i != 3 else frames[i][:48, :80]
        cv2.imwrite(str(root / "seq" / f"{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


@pytest.mark.parametrize("kind", ["file", "under_file", "results_dir"])
def test_eval_checks_out_before_working(kind, dataset, tmp_path, monkeypatch, capsys) -> None:
    import videoinr.evaluate.cli as ev

    def boom(*a, **k):
        raise AssertionError("evaluation ran although --out is unusable")

    monkeypatch.setattr(ev, "evaluate", boom)
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    out = {"file": blocker, "under_file": blocker / "out"}.get(kind, tmp_path / "o")
    if kind == "results_dir":
        (out / "results.json").mkdir(parents=True)
    argv = ["eval", "vid4", "--data", str(dataset), "--methods", "bicubic-blend", "--out", str(out)]
    assert cli.main(argv + ["--no-progress"]) == 2
    one_error_line(capsys.readouterr().err)
    assert blocker.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["blocker"] or kind == "results_dir"


def test_eval_disk_error_while_writing_is_one_line(dataset, tmp_path, monkeypatch, capsys) -> None:
    import videoinr.evaluate.report as ev

    ok = tmp_path / "data"
    (ok / "seq").mkdir(parents=True)
    for p in sorted((dataset / "seq").glob("*.png"))[:3]:
        (ok / "seq" / p.name).write_bytes(p.read_bytes())

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(ev, "atomic_write_bytes", full)
    argv = ["eval", "vid4", "--data", str(ok), "--methods", "bicubic-blend", "--out", str(tmp_path / "o"), "--no-progress"]
    assert cli.main(argv) == 2
    assert "No space left" in one_error_line(capsys.readouterr().err)


def test_eval_error_not_glued_to_progress_bar(dataset, tmp_path, capsys) -> None:
    argv = ["eval", "vid4", "--data", str(dataset), "--methods", "bicubic-blend", "--out", str(tmp_path / "o")]
    assert cli.main(argv) == 2  # progress bar on
    err = capsys.readouterr().err
    hits = [ln for ln in err.split("\n") if "error:" in ln]
    assert len(hits) == 1 and hits[0].startswith("error: ") and "frame size differs" in hits[0], err
    assert err.rstrip("\n").split("\n")[-1] == hits[0]


@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_eval_out_inside_data_is_refused_before_work(where, dataset, tmp_path, monkeypatch, capsys) -> None:
    """Issue 26 #9: `--out` equal to or inside `--data` (or holding it) would write results.json, plots and
    crops into the dataset, which the next `eval` on it then rejects; refused before any work."""
    import shutil

    import videoinr.evaluate.cli as ev

    def boom(*a, **k):
        raise AssertionError("evaluation ran although --out overlaps --data")

    monkeypatch.setattr(ev, "evaluate", boom)
    data = tmp_path / "ds" / "data"
    shutil.copytree(dataset, data)
    out = {"same": data, "inside": data / "seq" / "results", "around": tmp_path / "ds"}[where]
    before = sorted((p.relative_to(tmp_path), p.stat().st_size) for p in tmp_path.rglob("*"))
    argv = ["eval", "vid4", "--data", str(data), "--methods", "bicubic-blend", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--data" in line and ("inside" in line or "contains" in line), line
    assert sorted((p.relative_to(tmp_path), p.stat().st_size) for p in tmp_path.rglob("*")) == before
