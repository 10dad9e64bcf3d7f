"""The `videoinr` command: one entry point with subcommands `upscale`, `eval`, `train` and `ui`.

Each subcommand lives in its own module with `main(argv: list[str]) -> int`; it is imported only when used
(so `videoinr upscale` does not pay for the training stack). Bad input surfaces as `VideoINRError`, printed
as one line `error: <message>` on stderr with exit status 2 — never a traceback.
"""
from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence

from videoinr.errors import Stopped, VideoINRError

__all__ = ["main", "run_with_errors", "SUBCOMMANDS"]

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "upscale": ("videoinr.pipeline.cli", "upscale a video or frame folder in space and time"),
    "eval": ("videoinr.evaluate", "evaluate a model or baselines on a benchmark (e.g. Vid4)"),
    "check": ("videoinr.check", "measure on your own video whether the model beats optical flow + bicubic"),
    "train": ("videoinr.train", "train a model from a config"),
    "ui": ("videoinr.ui", "a local web page for upscaling (needs: pip install 'videoinr[ui]')"),
    "import-official": ("videoinr.import_official", "convert a checkpoint of the official VideoINR code to a weights file"),
}

# imported (under _DeferredInterrupt) before a subcommand runs: their imports take the first seconds, and a
# KeyboardInterrupt raised inside an extension module's import is swallowed or turned into another error
_PRELOAD = ("numpy", "cv2", "torch", "av", "videoinr.models")

USAGE = "usage: videoinr {" + ",".join(SUBCOMMANDS) + "} ... [-h]"


def run_with_errors(fn: Callable[[list[str]], int | None], argv: Sequence[str]) -> int:
    """Call `fn(argv)` and turn user errors into exit codes.

    VideoINRError -> `error: <message>` (one line) on stderr, 2. KeyboardInterrupt -> `interrupted` on
    stderr, 130. SystemExit (argparse) passes its code through. Returns fn's result (None -> 0).
    """
    try:
        rc = fn(list(argv))
    except VideoINRError as e:
        for msg in getattr(e, "messages", None) or [" ".join(str(e).split()) or type(e).__name__]:
            print(f"error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # argparse errors (2) and --help (0)
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0 if rc is None else int(rc)


class _DeferredInterrupt:
    """Ctrl-C while modules import: noted, and raised as KeyboardInterrupt once the imports are done (a
    second Ctrl-C stops at once); so it ends as the one line `interrupted`, never as a traceback from, or a
    half-initialised, extension module. Only in the main thread, and not where SIGINT is ignored."""

    def __enter__(self) -> "_DeferredInterrupt":
        self.hit, self.old = False, None
        if threading.current_thread() is threading.main_thread():
            old = signal.getsignal(signal.SIGINT)
            if old is not signal.SIG_IGN:
                self.old = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum, frame) -> None:
        if self.hit:
            os.write(2, b"interrupted\n")
            os._exit(130)
        self.hit = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)
        if self.hit and exc_type is None:
            raise Stopped()


def _print_help(stream=sys.stdout) -> None:
    print(USAGE, file=stream)
    print("\nsubcommands:", file=stream)
    for name, (_, text) in SUBCOMMANDS.items():
        print(f"  {name:<15} {text}", file=stream)
    print("\nRun `videoinr <subcommand> -h` for its options.", file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `videoinr` console script; returns the exit status. A Ctrl-C at any point, the
    subcommand's imports included (this module and the `videoinr` package import nothing heavy), is the one
    line `interrupted` and status 130."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
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
    from videoinr.allocator import tune_allocator

    tune_allocator()  # the process's allocation policy, before torch is imported

    def dispatch(argv_rest: list[str]) -> int | None:
        with _DeferredInterrupt():
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as e:
                if e.name == module_name:
                    raise VideoINRError(f"subcommand {name!r} is not available in this install") from None
                raise
            for heavy in _PRELOAD:
                try:
                    importlib.import_module(heavy)
                except ImportError:
                    pass  # the subcommand reports what it misses itself
        return module.main(argv_rest)

    return run_with_errors(dispatch, rest)


if __name__ == "__main__":
    sys.exit(main())
