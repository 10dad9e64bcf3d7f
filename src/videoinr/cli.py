"""The `videoinr` command: one entry point with subcommands `upscale`, `eval`, `train` and `ui`.

Each subcommand lives in its own module with `main(argv: list[str]) -> int`; it is imported only when used
(so `videoinr upscale` does not pay for the training stack). Bad input surfaces as `VideoINRError`, printed
as one line `error: <message>` on stderr with exit status 2 — never a traceback.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from videoinr.errors import VideoINRError

__all__ = ["main", "run_with_errors", "SUBCOMMANDS"]

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "upscale": ("videoinr.pipeline.cli", "upscale a video or frame folder in space and time"),
    "eval": ("videoinr.evaluate", "evaluate a model or baselines on a benchmark (e.g. Vid4)"),
    "train": ("videoinr.train", "train a model from a config"),
    "ui": ("videoinr.ui", "a local web page for upscaling (needs: pip install 'videoinr[ui]')"),
}

USAGE = "usage: videoinr {" + ",".join(SUBCOMMANDS) + "} ... [-h]"


def run_with_errors(fn: Callable[[list[str]], int | None], argv: Sequence[str]) -> int:
    """Call `fn(argv)` and turn user errors into exit codes.

    VideoINRError -> `error: <message>` (one line) on stderr, 2. KeyboardInterrupt -> `interrupted` on
    stderr, 130. SystemExit (argparse) passes its code through. Returns fn's result (None -> 0).
    """
    try:
        rc = fn(list(argv))
    except VideoINRError as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # argparse errors (2) and --help (0)
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0 if rc is None else int(rc)


def _print_help(stream=sys.stdout) -> None:
    print(USAGE, file=stream)
    print("\nsubcommands:", file=stream)
    for name, (_, text) in SUBCOMMANDS.items():
        print(f"  {name:<8} {text}", file=stream)
    print("\nRun `videoinr <subcommand> -h` for its options.", file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `videoinr` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        _print_help(sys.stdout if args else sys.stderr)
        return 0 if args else 2
    if args[0] == "--version":
        from videoinr import __version__

        print(f"videoinr {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"error: unknown subcommand {name!r} (choose from {', '.join(SUBCOMMANDS)})", file=sys.stderr)
        return 2
    module_name = SUBCOMMANDS[name][0]

    def dispatch(argv_rest: list[str]) -> int | None:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                raise VideoINRError(f"subcommand {name!r} is not available in this install") from None
            raise
        return module.main(argv_rest)

    return run_with_errors(dispatch, rest)


if __name__ == "__main__":
    sys.exit(main())
