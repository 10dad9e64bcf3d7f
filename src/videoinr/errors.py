"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class VideoINRError(Exception):
    """Bad input or impossible request; the message names the file, key or value at fault."""
