"""`videoinr.fileio`, the one way to write a file: representative writers (a checkpoint, a PNG frame, a video
segment, an eval report, weights) reach their final name only through fileio's fsync + rename + folder
fsync, and a failure mid-write leaves nothing under the final name and no temporary file behind."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import videoinr.fileio as fileio


@pytest.fixture
def events(monkeypatch) -> list[tuple]:
    """fsync and os.replace calls made by fileio, in order: ("fsync", path) and ("replace", src, dst)."""
    out: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        out.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(a, b) -> None:
        out.append(("replace", str(a), str(b)))
        real_replace(a, b)

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    monkeypatch.setattr(fileio.os, "replace", replace)
    return out


def assert_published(events: list[tuple], path: Path) -> None:
    """`path` got its name by a rename of an fsynced temporary sibling, and its folder was fsynced after."""
    (i,) = [i for i, e in enumerate(events) if e[0] == "replace" and e[2] == str(path)]
    tmp = events[i][1]
    assert Path(tmp).parent == path.parent and Path(tmp).name.startswith("."), tmp
    assert ("fsync", tmp) in events[:i], f"{path}: renamed without fsync"
    assert ("fsync", str(path.parent)) in events[i + 1:], f"{path}: folder not fsynced after the rename"


def write_checkpoint(path: Path) -> None:
    import torch

    from videoinr.train.checkpoint import save_checkpoint

    save_checkpoint(path, {"step": 1, "w": torch.zeros(3)})


def write_png_frame(path: Path) -> None:
    from videoinr.pipeline.sinks import FolderSink
    from videoinr.pipeline.workdir import FinishedFiles

    sink = FolderSink(path.parent / "out", path.parent, 2, FinishedFiles(path.parent, re.compile(r"\d+\.png")))
    assert sink.name(0) == path
    sink.write(0, np.zeros((8, 8, 3), np.uint8), 0.0, None)


def write_segment(path: Path) -> None:
    from videoinr.data.video import VideoWriter

    with VideoWriter(path, 10, crf=20) as w:
        for i in range(2):
            w.write(np.full((16, 16, 3), 40 * i, np.uint8))


def write_eval_report(path: Path) -> None:
    from videoinr.evaluate.report import write_outputs

    write_outputs({"n_scored": 0}, {}, path.parent)  # results.json, results.md (table and plot: `patched_eval`)


def write_weights(path: Path) -> None:
    from videoinr import create_model
    from videoinr.models import save_weights

    save_weights(create_model("lite", pretrained=False), path)


WRITERS = {  # name -> (file name, writer)
    "checkpoint": ("checkpoint.pt", write_checkpoint),
    "png_frame": ("000000.png", write_png_frame),
    "video_segment": ("segment_000000.mp4", write_segment),
    "eval_report": ("results.json", write_eval_report),
    "weights": ("w.safetensors", write_weights),
}


@pytest.fixture
def patched_eval(monkeypatch) -> None:
    """The eval report's table and plot stubbed (they need a whole run's results; the writes are real)."""
    import videoinr.evaluate.report as ev

    monkeypatch.setattr(ev, "format_table", lambda results: "| table |")
    monkeypatch.setattr(ev, "_plot_psnr_vs_t", lambda results, path: None)


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_writers_go_through_fileio(kind, tmp_path, events, patched_eval) -> None:
    name, write = WRITERS[kind]
    path = tmp_path / name
    write(path)
    assert path.is_file() and path.stat().st_size > 0
    assert_published(events, path)
    assert not list(tmp_path.glob(".*.tmp*"))


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_failed_rename_leaves_no_file_and_no_temp(kind, tmp_path, monkeypatch, patched_eval) -> None:
    name, write = WRITERS[kind]

    def no_rename(a, b):
        raise OSError(28, "No space left on device", str(b))

    monkeypatch.setattr(fileio.os, "replace", no_rename)
    with pytest.raises(Exception):
        write(tmp_path / name)
    assert not (tmp_path / name).exists()
    assert not list(tmp_path.glob(".*.tmp*")), list(tmp_path.iterdir())


def test_failure_while_writing_keeps_the_old_file_and_no_temp(tmp_path) -> None:
    path = tmp_path / "a.json"
    fileio.atomic_write_bytes(path, b"old")

    def half_then_fail(t: Path) -> None:
        t.write_bytes(b"ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fileio.write_via_temp(path, half_then_fail)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_temp_names_are_hidden_unique_and_legal_for_long_names(tmp_path) -> None:
    long = tmp_path / ("n" * 250 + ".mp4")
    a, b = fileio.temp_sibling(long), fileio.temp_sibling(long)
    assert a != b and a.parent == tmp_path and a.name.startswith(".") and a.suffix == ".mp4"
    assert len(a.name) < 100


def test_replace_folder_puts_the_old_one_back_when_the_rename_fails(tmp_path, monkeypatch) -> None:
    new, dst, aside = tmp_path / ".new", tmp_path / "report", tmp_path / ".report.old"
    new.mkdir()
    (new / "x").write_text("new")
    dst.mkdir()
    (dst / "x").write_text("old")
    real = os.replace

    def fail_on_new(a, b):
        if Path(a) == new:
            raise OSError(5, "I/O error")
        real(a, b)

    monkeypatch.setattr(fileio.os, "replace", fail_on_new)
    with pytest.raises(OSError):
        fileio.replace_folder(new, dst, aside)
    assert (dst / "x").read_text() == "old" and not aside.exists()
    monkeypatch.setattr(fileio.os, "replace", real)
    fileio.replace_folder(new, dst, aside)
    assert (dst / "x").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["report"]
