"""User-facing errors: the CLI prints their message on one line and exits non-zero."""
import argparse
import errno
import os
from pathlib import Path


class VideoINRError(Exception):
    """Bad input or impossible request; the message names the file, key or value at fault."""


class VideoINRErrors(VideoINRError):
    """Several user errors found at once (every bad file of a folder of videos): the CLI prints one
    `error: ...` line for each; `str()` joins them with '; '."""

    def __init__(self, messages) -> None:
        self.messages = [" ".join(str(m).split()) for m in messages]
        super().__init__("; ".join(self.messages))


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one-line VideoINRErrors (exit status 2 through the CLI); every
    command's parser is one of these."""

    def error(self, message: str):
        raise VideoINRError(f"{self.prog}: {message} (see --help)")


def require_path(path: os.PathLike, what: str = "file or folder") -> None:
    """VideoINRError unless `path` exists; a symlink loop and a dangling symlink are named as such."""
    p = Path(path)
    if p.exists():
        return
    if p.is_symlink():
        try:
            p.resolve(strict=True)
        except RuntimeError:  # Python < 3.13 reports a loop this way
            raise VideoINRError(f"{p}: symlink loop") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise VideoINRError(f"{p}: symlink loop") from None
            raise VideoINRError(f"{p}: broken symlink (its target does not exist)") from None
    raise VideoINRError(f"{p}: no such {what}")


def resolve_path(path: os.PathLike) -> Path:
    """`Path(path).resolve()`, with a symlink loop as a one-line VideoINRError."""
    try:
        return Path(path).resolve()
    except RuntimeError:
        raise VideoINRError(f"{path}: symlink loop") from None
    except OSError as e:
        raise VideoINRError(f"{path}: cannot resolve ({e.strerror or e})") from None


def require_regular_file(path: os.PathLike, what: str = "file") -> None:
    """VideoINRError unless `path` is (or links to) a regular file: a folder, FIFO, socket or device would
    make a reader fail late or block forever (a FIFO opened for reading waits for a writer)."""
    import stat

    p = Path(path)
    require_path(p, what)
    try:
        mode = p.stat().st_mode
    except OSError as e:
        raise VideoINRError(f"{p}: cannot read ({e.strerror or e})") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file")
        raise VideoINRError(f"{p}: is {kind}, not a regular {what}")


class Stopped(KeyboardInterrupt):
    """The one way a job is asked to stop before it is done: Ctrl-C, SIGTERM, the web page's Cancel or a
    closed tab. Handled like Ctrl-C everywhere (a KeyboardInterrupt: finished work is kept for --resume,
    no traceback); `reason` is the one word the CLI prints ('interrupted', 'terminated', 'cancelled'),
    `detail` what was kept."""

    def __init__(self, reason: str = "interrupted", detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail
