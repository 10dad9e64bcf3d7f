"""`python -m videoinr.ui` runs `videoinr ui`."""
import sys

from videoinr.cli import run_with_errors
from videoinr.ui.cli import main

sys.exit(run_with_errors(main, sys.argv[1:]))
