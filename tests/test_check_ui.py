"""The web page's "check on my video first" (#24): `videoinr.ui.check_tab.Checker` behind the button, and the
button on the page that `videoinr ui` serves."""
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "videoinr" / "assets" / "example.mp4"


def test_checker_shows_verdict_table_and_crops(tmp_path, weights):
    from videoinr.ui.check_tab import Checker

    checker = Checker(tmp_path / "app", seconds=0.5)
    verdict, table, gain, loss = checker.run(str(EXAMPLE), "scale", 4, "", "time scale", 2, "", str(weights))
    assert "does NOT help" in verdict and "vi-error" in verdict  # a random-init model loses to flow + bicubic
    assert table.startswith("| Method") and "flow-bicubic" in table
    assert isinstance(gain, np.ndarray) and gain.ndim == 3 and isinstance(loss, np.ndarray)
    assert [p.name for p in (tmp_path / "app" / "checks").iterdir()] == [checker.last.name]
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 40)
    verdict, table, gain, loss = checker.run(str(text), "scale", 4, "", "time scale", 2, "", "lite")
    assert "vi-error" in verdict and "error: notes.mp4: not a" in verdict and str(tmp_path) not in verdict
    assert table == "" and gain is None
    verdict, *_ = checker.run(str(EXAMPLE), "scale", 4, "", "fps", 2, "45", "lite")
    assert "error: --fps 45" in verdict


def test_page_has_the_check_button(tmp_path):
    import gradio as gr

    from videoinr.ui.app import App
    from videoinr.ui.page import build_page

    demo = build_page(gr, App(tmp_path / "app"))
    ids = {c.get("props", {}).get("elem_id") for c in demo.config["components"]}
    assert {"check_btn", "check_verdict", "check_table", "check_gain", "check_loss"} <= ids
