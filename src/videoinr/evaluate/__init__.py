"""``videoinr eval``: the paper's evaluation protocols on any ``<root>/<sequence>/<frames>`` dataset.

Protocols (HR frames are modcropped to a multiple of the space scale S, then bicubic-downsampled by S with
the project's MATLAB-compatible ``degrade``):

- ``vid4`` (Table 1, Vid4): inputs are frames 0, N, 2N, ... (time scale N, default 2); every frame up to the
  last input is predicted, frame i + k of the pair (i, i + N) at t = k / N. A sequence's trailing frames are
  scored only when they are inputs.
- ``clips`` (Table 1 GoPro/Adobe240, Table 2): non-overlapping clips of L frames (default 9; time scale N
  means L = N + 1); inputs are each clip's first and last frame, frame k is predicted at t = k / (L - 1).
  -Center is k = (L - 1) // 2, -Average is k = 0 .. L - 2 (the main number), pooled over all clips.
- ``--space-only`` (Table 5 sweep): every frame at t = 0, from the pair (i, i + 1) (the last frame at t = 1).

Metrics are PSNR and SSIM on the BT.601 Y channel (``--channel rgb`` for RGB), no border crop, on
predictions quantised to uint8, pooled over all scored frames. Outputs in ``--out``: ``results.json``,
``results.md`` (also printed), ``psnr_vs_t.png`` and ``crops/*.png``.

Layout: `protocol.py` (tasks, modcrop, LR inputs), `runner.py` (`evaluate`: run the methods; `score_task`: predict and score one pair, also used by
training validation),
`report.py` (results files, table, plot, crops), `cli.py` (the command line; ``python -m videoinr.evaluate``
runs it too).
"""
from __future__ import annotations

from videoinr.evaluate.cli import add_arguments, main, run
from videoinr.evaluate.protocol import PROTOCOLS, Target, Task, build_tasks, make_lr, modcrop
from videoinr.evaluate.report import check_out, format_table, write_outputs
from videoinr.evaluate.runner import evaluate, score_task

__all__ = [
    "PROTOCOLS",
    "Target",
    "Task",
    "build_tasks",
    "modcrop",
    "make_lr",
    "evaluate",
    "score_task",
    "write_outputs",
    "check_out",
    "format_table",
    "add_arguments",
    "run",
    "main",
]
