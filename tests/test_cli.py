"""The `videoinr` entry point: subcommand dispatch and the one error policy (one line, exit status 2)."""
import subprocess
import sys
import types

import pytest

from videoinr import cli
from videoinr.errors import VideoINRError

from cli_helpers import one_error_line


def test_help_and_usage(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("upscale", "eval", "train"))
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_unknown_subcommand(capsys):
    assert cli.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown subcommand") and err.count("\n") == 1


@pytest.fixture
def fake_subcommand(monkeypatch):
    """Registers `videoinr fake ...` backed by an in-memory module whose main does what argv says."""
    mod = types.ModuleType("videoinr_fake_sub")
    seen = []

    def main(argv):
        seen.append(argv)
        if argv and argv[0] == "bad":
            raise VideoINRError("bad.mp4: not a readable video\n(details)")
        if argv and argv[0] == "interrupt":
            raise KeyboardInterrupt
        if argv and argv[0] == "usage":
            raise SystemExit(2)
        return 0

    mod.main = main
    monkeypatch.setitem(sys.modules, "videoinr_fake_sub", mod)
    monkeypatch.setitem(cli.SUBCOMMANDS, "fake", ("videoinr_fake_sub", "test"))
    return seen


def test_dispatch_passes_remaining_args(fake_subcommand):
    assert cli.main(["fake", "a", "--b", "c"]) == 0
    assert fake_subcommand == [["a", "--b", "c"]]


def test_error_policy(fake_subcommand, capsys):
    assert cli.main(["fake", "bad"]) == 2
    err = capsys.readouterr().err
    assert err == "error: bad.mp4: not a readable video (details)\n"
    assert cli.main(["fake", "interrupt"]) == 130
    assert capsys.readouterr().err.count("\n") == 1
    assert cli.main(["fake", "usage"]) == 2


def test_run_with_errors_is_reusable(capsys):
    def fn(argv):
        raise VideoINRError(f"{argv[0]}: nope")

    assert cli.run_with_errors(fn, ["x.yaml"]) == 2
    assert capsys.readouterr().err == "error: x.yaml: nope\n"
    assert cli.run_with_errors(lambda argv: None, []) == 0


def test_missing_subcommand_module(monkeypatch, capsys):
    monkeypatch.setitem(cli.SUBCOMMANDS, "ghost", ("videoinr_no_such_module_xyz", "test"))
    assert cli.main(["ghost"]) == 2
    assert capsys.readouterr().err.startswith("error: subcommand 'ghost' is not available")


def test_console_entry_point_subprocess(tmp_path):
    """The real process: one line on stderr, exit status 2, for a missing input."""
    out = tmp_path / "out.mp4"
    r = subprocess.run(
        [sys.executable, "-m", "videoinr.cli", "upscale", str(tmp_path / "missing.mp4"), "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and "missing.mp4" in r.stderr
    assert not out.exists()


def test_usage_errors_are_one_line(capsys):
    assert cli.main(["upscale", "in.mp4", "-o", "o.mp4", "--scale", "2", "--size", "10x10"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: videoinr upscale: argument --size") and err.count("\n") == 1
    assert cli.main(["upscale", "in.mp4"]) == 2
    assert "required" in capsys.readouterr().err


@pytest.mark.parametrize("delay", [0.6])
def test_ctrl_c_while_modules_import_is_one_line(delay, tmp_path):
    """Issue 26 #7: Ctrl-C in the first seconds of a command (PyTorch, NumPy, OpenCV, PyAV importing) is the
    one line `interrupted` and status 130, not a KeyboardInterrupt traceback (or an ImportError from a
    half-imported extension module); nothing is written."""
    import signal
    import time
    from pathlib import Path

    exe = Path(sys.executable).parent / "videoinr"
    proc = subprocess.Popen([str(exe), "upscale", "example", "-o", str(tmp_path / "o.mp4"), "--scale", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err == "interrupted\n", (proc.returncode, err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["eval"], ["eval", "vid4", "--scale", "x"], ["train"], ["train", "--out", "o", "--bogus"]])
def test_eval_train_usage_errors_are_one_line(argv, capsys) -> None:
    assert cli.main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: videoinr {argv[0]}: ")
