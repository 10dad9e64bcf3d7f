"""The web page's "check on my video first" section: `videoinr check` on the uploaded video with the page's
chosen factors and model, showing the verdict, the table and the gain / loss crops.

`Checker` is Gradio-free (one check at a time, each in its own folder under the app's root, removed when the
next one starts and when the app's root goes); `add_check(gr, app, page)` adds the widgets and the wiring
below the page's layout (the one hook in `ui/page.py`).
"""
from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path

import cv2

from videoinr.errors import VideoINRError
from videoinr.ui.app import error_line, message_html

__all__ = ["Checker", "add_check", "CHECK_SECONDS"]

CHECK_SECONDS = 3.0  # seconds of the upload checked from the page (the CLI's --seconds)


def _num(value) -> str | None:
    if value is None or value == "":
        return None
    f = float(value)
    return str(int(f)) if f.is_integer() else str(f)


class Checker:
    """Runs `videoinr.check.run.check` for the page: factors from the page's settings, errors as the CLI's
    one line, the report in a fresh folder under `root`."""

    def __init__(self, root: Path, device: str = "auto", seconds: float = CHECK_SECONDS) -> None:
        self.root = Path(root) / "checks"
        self.device = device
        self.seconds = seconds
        self.lock = threading.Lock()
        self.last: Path | None = None

    def run(self, video, space_mode, scale, size, time_mode, time_scale, fps, model, progress=None):
        """(verdict HTML, results table Markdown, gain crop RGB or None, loss crop RGB or None)."""
        if not video:
            return message_html("error", "error: upload a video (or use the example) first"), "", None, None
        if not self.lock.acquire(blocking=False):
            return message_html("error", "error: a check is already running; wait for it"), "", None, None
        try:
            from videoinr.check.report import format_report, verdict, write_report
            from videoinr.check.run import check

            if self.last is not None:
                shutil.rmtree(self.last, ignore_errors=True)
            kwargs = {"scale": _num(scale)} if space_mode == "scale" else {"size": str(size or "").strip() or None}
            kwargs.update({"time_scale": _num(time_scale)} if time_mode == "time scale" else
                          {"fps": str(fps or "").strip() or None})
            name = Path(str(video)).name
            try:
                results, crops = check(video, model=model or "lite", seconds=self.seconds, device=self.device,
                                       baselines=("flow-bicubic",), progress=False, **kwargs)
                results["verdict"] = verdict(results)
                self.root.mkdir(parents=True, exist_ok=True)
                self.last = write_report(results, crops, self.root / uuid.uuid4().hex)
            except VideoINRError as e:
                return message_html("error", error_line(e, {str(video): name})), "", None, None
            v = results["verdict"]
            table = format_report(results)
            table = table[table.index("| Method"): table.index("## Over time")].strip()
            images = [cv2.imread(str(self.last / "crops" / f"{k}.png")) for k in ("gain", "loss")]
            images = [cv2.cvtColor(im, cv2.COLOR_BGR2RGB) if im is not None else None for im in images]
            kind = "done" if v["helps"] else "error"
            took = f" (checked {results['sampled_frames']} frames in {results['check_seconds']:.0f} s)"
            return message_html(kind, v["text"] + took), table, images[0], images[1]
        finally:
            self.lock.release()


def add_check(gr, app, page) -> Checker:
    """The section "Check on my video first" under the page: a button, the verdict, the table, the crops."""
    checker = Checker(app.root, app.device)
    with gr.Accordion("Check on my video first: does the model beat optical flow + bicubic here?", open=True,
                      elem_id="check_section"):
        gr.Markdown(f"Downscales {CHECK_SECONDS:g} s of your video by the factors chosen above (MATLAB bicubic, "
                    "every N-th frame), brings it back with the model and optical flow + bicubic, and scores "
                    "both against your original (`videoinr check --baselines flow-bicubic`, docs/CHECK.md; the "
                    "command line also runs the other baselines).")
        button = gr.Button("Check on my video first", elem_id="check_btn")
        verdict = gr.HTML("", elem_id="check_verdict")
        table = gr.Markdown("", elem_id="check_table")
        with gr.Row():
            gain = gr.Image(label="Largest gain: original / model / flow + bicubic", interactive=False,
                            elem_id="check_gain")
            loss = gr.Image(label="Largest loss: original / model / flow + bicubic", interactive=False,
                            elem_id="check_loss")

    def do_check(video, space_mode, scale, size, time_mode, time_scale, fps, model):
        return checker.run(video, space_mode, scale, size, time_mode, time_scale, fps, model)

    button.click(do_check, inputs=page.settings, outputs=[verdict, table, gain, loss], concurrency_limit=1)
    return checker
