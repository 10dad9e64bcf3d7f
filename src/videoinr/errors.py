"""User-facing errors: the CLI prints their message on one line and exits non-zero."""
import argparse


class VideoINRError(Exception):
    """Bad input or impossible request; the message names the file, key or value at fault."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are one-line VideoINRErrors (exit status 2 through the CLI); every
    command's parser is one of these."""

    def error(self, message: str):
        raise VideoINRError(f"{self.prog}: {message} (see --help)")
