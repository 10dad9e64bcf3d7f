"""`python -m videoinr.train ...` and `torchrun --nproc_per_node=N -m videoinr.train ...`."""
import sys

from videoinr.cli import run_with_errors
from videoinr.train.cli import main

if __name__ == "__main__":
    sys.exit(run_with_errors(main, sys.argv[1:]))
