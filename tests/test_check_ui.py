"""The web page's "check on my video first" (#24): `videoinr.ui.check_tab.Checker` behind the button, and the
button on the page that `videoinr ui` serves."""
import functools
import json
from pathlib import Path

import numpy as np
import pytest

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


def test_check_button_in_browser(tmp_path):
    """The page served by a real `videoinr ui`, in headless Chromium: upload a tiny clip (64x36, 6 frames),
    click "Check on my video first" with the page's defaults (x2 space, x2 time, the shipped lite), and the
    verdict appears with its dB figure and wording, as the one line the check computed; the table follows."""
    import re
    import sys
    import time

    from browser_helpers import page_text, require_ui_stack, served_page, tiny_clip

    require_ui_stack()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    t_start = time.monotonic()
    clip = tiny_clip(tmp_path / "clip.mp4")
    with served_page(tmp_path) as (server, browser):
        text_of = functools.partial(page_text, browser)

        browser.get(server.url)
        WebDriverWait(browser, 60, poll_frequency=0.2).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#input_video input[type=file]"))
        browser.find_element(By.CSS_SELECTOR, "#input_video input[type=file]").send_keys(str(clip))
        # the upload is in the page once the estimate for it is shown
        WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: text_of("#estimate .vi-estimate"))
        browser.find_element(By.CSS_SELECTOR, "#check_btn").click()
        try:
            WebDriverWait(browser, 60, poll_frequency=0.2).until(
                lambda d: text_of("#check_verdict .vi-done") or text_of("#check_verdict .vi-error"))
        except Exception:
            pytest.fail(f"no verdict after 60 s: {text_of('#check_verdict')!r}\nserver log:\n{server.log}")
        verdict = text_of("#check_verdict .vi-done") or text_of("#check_verdict .vi-error")
        assert verdict.startswith("on this footage the model "), verdict
        m = re.search(r"([+-]?\d+\.\d\d) dB (over|against|below) (optical flow|bicubic)", verdict)
        assert m, verdict
        helps = "does NOT help" not in verdict
        assert helps == bool(text_of("#check_verdict .vi-done")), verdict  # green when it helps, red when not
        assert ("the model is +" in verdict) == helps
        assert "at x2/x2" in verdict and "estimated time to upscale the whole file: " in verdict, verdict
        assert re.search(r"\(checked 6 frames in \d+ s\)$", verdict), verdict
        (report,) = (server.root / "checks").iterdir()  # the check's report folder, kept until the next check
        res = json.loads((report / "results.json").read_text())
        assert verdict.startswith(res["verdict"]["text"]) and res["verdict"]["helps"] == helps
        assert m.group(1) in f"{res['verdict']['delta_db']:+.2f}"
        WebDriverWait(browser, 10).until(lambda d: "VideoINR-lite" in text_of("#check_table"))
        assert "DIS flow + Bicubic" in text_of("#check_table")
        assert server.proc.poll() is None, server.log
    took = time.monotonic() - t_start
    print(f"test_check_button_in_browser: {took:.1f} s", file=sys.stderr)
