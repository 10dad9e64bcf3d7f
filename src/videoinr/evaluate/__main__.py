"""``python -m videoinr.evaluate ...``: the same as ``videoinr eval ...``."""
import sys

from videoinr.cli import run_with_errors
from videoinr.evaluate.cli import main

sys.exit(run_with_errors(main, sys.argv[1:]))
