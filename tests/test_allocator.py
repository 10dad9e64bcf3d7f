"""`videoinr.allocator`: the commands' malloc policy is set on Linux glibc, left to the user where they set
glibc's own variables, and set by the CLI before the subcommand runs."""
import platform

from videoinr import allocator


def test_glibc_thresholds_set_unless_the_user_set_their_own(monkeypatch):
    tune = allocator.tune_allocator.__wrapped__  # (the public one runs once per process)
    for name in allocator._GLIBC_MALLOC_ENV:
        monkeypatch.delenv(name, raising=False)
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert tune() is glibc  # mallopt accepted both values (a C int each: 2**31 would overflow)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "0")
    assert tune() is False


def test_the_cli_sets_it_before_a_subcommand(monkeypatch, capsys):
    from videoinr import cli

    called = []
    monkeypatch.setattr(allocator, "tune_allocator", lambda: called.append(1) or True)
    assert cli.main(["upscale", "--help"]) == 0
    assert called == [1]
    cli.main(["--help"])  # no subcommand: nothing to tune
    assert called == [1]
