"""Helpers shared by the command-line fault tests: run `videoinr upscale` in-process, check one error line."""
from videoinr import cli


def run_cli(args, capsys) -> tuple[int, str]:
    """`videoinr upscale ARGS --quiet` in this process: (exit status, stderr)."""
    rc = cli.main(["upscale", *map(str, args), "--quiet"])
    return rc, capsys.readouterr().err


def one_error_line(err: str) -> str:
    """The single `error: ...` line that stderr must consist of (no traceback, nothing else)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]
