"""``videoinr check``: does the model help on *this* footage? Measured on the user's own video.

A sample of the video (whole file when short; else a few segments spread over it, split at scene cuts) is
degraded the way ``videoinr eval`` degrades a benchmark (modcrop, MATLAB-bicubic downsampling by the space
scale, every N-th frame kept for time scale N), upscaled back by the model and by the classical baselines in
the same run, and scored against the original with the evaluator's own functions
(``videoinr.evaluate.runner.score_task``, its temporal metrics). docs/CHECK.md.

Layout: `sampling.py` (factors, which frames: segments and scenes), `run.py` (degrade, predict, score,
time), `report.py` (verdict, report.md, results.json, plot, crops; written atomically), `cli.py`.
"""
from __future__ import annotations

__all__ = ["check", "main"]


def check(*args, **kwargs):
    """`videoinr.check.run.check` (imported lazily)."""
    from videoinr.check.run import check as _check

    return _check(*args, **kwargs)


def main(argv: list[str] | None = None) -> int:
    from videoinr.check.cli import main as _main

    return _main(argv)
