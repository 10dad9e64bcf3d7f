"""`videoinr.train.checkpoint` (checkpoints, `metrics.csv`) and the inputs a run reads before it trains: a
garbled metrics.csv row is skipped with one warning line and `--resume` logs every step once; a metrics.csv
that is a folder, an `init=` FIFO and a full disk while checkpointing are one-line errors."""
from __future__ import annotations

import csv
from pathlib import Path

from videoinr.train import METRIC_COLUMNS, MetricsLog
from videoinr.train import main as train_main

from test_train import tiny_config as train_tiny_config



def tiny_config(data: Path, tmp: Path, **kw) -> Path:
    """test_train's tiny model on 12 DAVIS frames, 3 steps, no validation."""
    src = {"path": str(data / "train" / "davis480p" / "kite-surf"), "kind": "folder", "window": 5, "max_frames": 12}
    return train_tiny_config(data, tmp, **{"sources": [src], "points_per_target": 30, "steps": 3,
                                           "stage1_steps": 1, "val_source": None, "ckpt_every": 1, **kw})


def _steps(path: Path) -> list[str]:
    with open(path, newline="") as f:
        return [r["step"] for r in csv.DictReader(f)]


GARBAGE = ["abc,0.1,0.2", "\x00\x00\x00", "1.5,0.1", "2,not-a-number", ",,,", "9,1,2,3,4,5,6,7,8,9,10", "\udcff"]


def test_metrics_log_skips_garbled_rows_with_one_warning(tmp_path, capsys):
    path = tmp_path / "metrics.csv"
    good = [["1", "0.5", "0.001", "0.2", "", "", ""], ["2", "0.4", "0.001", "0.2", "20.5", "20.1", "20.0"],
            ["3", "0.3", "0.001", "0.2", "", "", ""]]
    lines = [",".join(METRIC_COLUMNS), ",".join(good[0]), *GARBAGE[:4], ",".join(good[1]), *GARBAGE[4:],
             ",".join(good[2])]
    path.write_bytes("\n".join(lines).encode("utf-8", errors="surrogateescape") + b"\xff\xfe\n")
    log = MetricsLog(path, resume_step=2)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning:") and "garbled" in err[0] and str(path) in err[0], err
    log.write({"step": 3, "loss": 0.25, "lr": 1e-3, "sec_per_step": 0.1})
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(METRIC_COLUMNS)
    assert rows[1:3] == good[:2] and rows[3][:2] == ["3", "0.25"] and len(rows) == 4


def test_resume_with_a_garbled_metrics_row(shared_data, tmp_path, capsys):
    path = tiny_config(shared_data, tmp_path)
    out = tmp_path / "run"
    assert train_main(["--config", str(path), "--out", str(out), "--steps", "2", "--no-progress"]) == 0
    metrics = out / "metrics.csv"
    assert _steps(metrics) == ["1", "2"]
    lines = metrics.read_text().splitlines(keepends=True)  # garble the log: e.g. a crash or an editor
    metrics.write_text("".join([*lines[:2], "1x,garbage\n", "\x00\x00\n", *lines[2:], "2;0.5\n"]))
    capsys.readouterr()
    assert train_main(["--config", str(path), "--out", str(out), "--resume", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "garbled" in line][0].startswith("warning:")
    assert _steps(metrics) == ["1", "2", "3"]


# ------------------------------------------------------------- issue 26 #8: the run folder under faults
def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_init_naming_a_fifo_is_one_line_not_a_hang(shared_data, tmp_path, capsys):
    import os

    from videoinr.cli import main as cli_main

    fifo = tmp_path / "weights.safetensors"
    os.mkfifo(fifo)
    path = tiny_config(shared_data, tmp_path)
    rc = cli_main(["train", "--config", str(path), "--out", str(tmp_path / "run"), f"init={fifo}", "--no-progress"])
    assert rc == 2 and "FIFO" in _one_line(capsys) and not (tmp_path / "run").exists()


def test_metrics_csv_that_is_a_folder_is_refused_before_training(shared_data, tmp_path, capsys, monkeypatch):
    import videoinr.train.loop as loop
    from videoinr.cli import main as cli_main

    monkeypatch.setattr(loop, "_Run", None)  # nothing may start
    out = tmp_path / "run"
    (out / "metrics.csv").mkdir(parents=True)
    path = tiny_config(shared_data, tmp_path)
    rc = cli_main(["train", "--config", str(path), "--out", str(out), "--no-progress"])
    assert rc == 2 and "metrics.csv" in _one_line(capsys)
    assert [p.name for p in out.iterdir()] == ["metrics.csv"]


def test_disk_full_while_writing_a_checkpoint_is_one_line_and_resume_works(shared_data, tmp_path, capsys,
                                                                          monkeypatch):
    import errno

    import videoinr.fileio as fileio
    from videoinr.cli import main as cli_main

    real = fileio.write_via_temp
    calls = []

    def full_at_second_checkpoint(path, write):
        if Path(path).name == "checkpoint.pt":
            calls.append(path)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, write)

    path = tiny_config(shared_data, tmp_path)
    out = tmp_path / "run"
    argv = ["train", "--config", str(path), "--out", str(out), "--no-progress"]
    with monkeypatch.context() as m:
        m.setattr(fileio, "write_via_temp", full_at_second_checkpoint)
        assert cli_main(argv) == 2
    line = _one_line(capsys)
    assert "disk full" in line and "--resume" in line
    assert not list(out.glob(".*.tmp*")) and (out / "checkpoint.pt").is_file()  # fileio.temp_sibling names
    assert cli_main([*argv, "--resume"]) == 0
    assert _steps(out / "metrics.csv") == ["1", "2", "3"]
