"""`videoinr ui` in a real browser: headless Chromium (Debian's package) driven by Selenium against the running
app (a real `videoinr ui` process). Upload a tiny clip, x2 space / x2 time, wait for the result, check the
delivered file with PyAV, use the before/after comparison, a bad upload shows the CLI's one-line error and
a second job still works; the file route serves nothing else; the app's temp folders are gone after it stops.

Needs the `ui` and `test` extras and Debian's chromium + chromium-driver (`bash scripts/setup.sh --test` installs
them); a missing piece FAILS this test with the install command, it is never skipped.
"""
import functools
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from av_helpers import write_with_audio
from browser_helpers import page_text, require_ui_stack, served_page, tiny_clip
from videoinr import cli
from videoinr.data.video import iter_video, probe
from videoinr.pipeline import EXAMPLE_VIDEO


def cli_error_line(bad: Path, capsys) -> str:
    """What `videoinr upscale x.mp4 ...` prints for this file (run in its folder, as a user would)."""
    old = os.getcwd()
    os.chdir(bad.parent)
    try:
        rc = cli.main(["upscale", bad.name, "-o", "out.mp4", "--scale", "2", "--time-scale", "2", "--quiet"])
    finally:
        os.chdir(old)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and "\n" not in err, err
    return err


def test_ui_in_browser(tmp_path, capsys):
    require_ui_stack()
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    t_start = time.monotonic()
    clip = tiny_clip(tmp_path / "clip.mp4")
    bad = tmp_path / "bad" / "x.mp4"
    bad.parent.mkdir()
    bad.write_bytes(os.urandom(4096))
    expected_error = cli_error_line(bad, capsys)
    tmpdir = tmp_path / "tmp"
    with served_page(tmp_path) as (server, browser):
        wait = WebDriverWait(browser, 60, poll_frequency=0.2)

        text_of = functools.partial(page_text, browser)

        def wait_for(css: str, what: str, timeout: float = 60) -> str:
            try:
                WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda d: text_of(css))
            except Exception:
                pytest.fail(f"{what}: nothing at {css} after {timeout} s; page status: {text_of('#status')!r}, "
                            f"estimate: {text_of('#estimate')!r}\nserver log:\n{server.log}")
            return text_of(css)

        def upload(path: Path) -> None:
            browser.get(server.url)  # a fresh page (and session) each time
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#input_video input[type=file]"))
            browser.find_element(By.CSS_SELECTOR, "#input_video input[type=file]").send_keys(str(path))

        def run_job() -> Path:
            browser.find_element(By.CSS_SELECTOR, "#run_btn").click()
            done = wait_for("#status .vi-done", "the job did not finish", timeout=120)
            assert "11 frames of 128x72" in done, done
            src = browser.find_element(By.CSS_SELECTOR, "#output_video video").get_attribute("src")
            assert "/gradio_api/file=" in src, src
            out = tmp_path / f"delivered_{time.monotonic_ns()}.mp4"
            out.write_bytes(urllib.request.urlopen(src, timeout=30).read())
            return out

        def status_of(path: str) -> int:
            """HTTP status of the app's file route for a server path."""
            try:
                return urllib.request.urlopen(server.url + "gradio_api/file=" + urllib.parse.quote(path),
                                              timeout=10).status
            except urllib.error.HTTPError as e:
                return e.code

        # 1. the page, the bundled clip, the estimate before starting
        upload(clip)
        est = wait_for("#estimate .vi-estimate", "no estimate after the upload")
        assert est.startswith("Estimate: 6 -> 11 frames of 128x72 at 20 fps, with audio; about "), est
        assert "peak memory about" in est, est

        # 2. x2 space / x2 time (the page's defaults): the delivered video
        out = run_job()
        info = probe(out)
        assert (info.width, info.height, info.frames) == (128, 72, 11), info
        assert len(list(iter_video(out))) == 11
        assert abs(info.duration - 0.6) < 0.05, info.duration
        assert info.has_audio, "audio stream not carried into the delivered video"
        # the job's work folder is gone once the result is delivered
        WebDriverWait(browser, 20).until(lambda d: not any((server.root / "jobs").iterdir()))

        # 3. the comparison: middle frame shown; pick another frame with the frame picker
        info_text = wait_for("#compare_info", "no comparison after the job")
        assert info_text.startswith("Output frame 5 at 0.250 s (interpolated) vs input frame 2"), info_text
        assert len(browser.find_elements(By.CSS_SELECTOR, "#compare img")) >= 2
        box = browser.find_element(By.CSS_SELECTOR, "#frame_picker input[type=number]")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys("4", Keys.ENTER)
        WebDriverWait(browser, 30).until(lambda d: text_of("#compare_info").startswith("Output frame 4 "))
        assert text_of("#compare_info").startswith("Output frame 4 at 0.200 s (an input frame) vs input frame 2 "), \
            text_of("#compare_info")

        # 4. a bad upload: the CLI's one-line error on the page (estimate and run), the app keeps serving
        upload(bad)
        assert wait_for("#estimate .vi-error", "no error for a bad upload") == expected_error
        browser.find_element(By.CSS_SELECTOR, "#run_btn").click()
        assert wait_for("#status .vi-error", "no error after running a bad upload") == expected_error
        assert server.proc.poll() is None, server.log

        # 5. cancel a longer job (the bundled example x4) while it renders: its work folder is removed
        browser.get(server.url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#example_btn"))
        browser.find_element(By.CSS_SELECTOR, "#example_btn").click()
        box = browser.find_element(By.CSS_SELECTOR, "#scale input")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys("4", Keys.TAB)
        WebDriverWait(browser, 60).until(lambda d: "frames of 768x432" in text_of("#estimate"))
        browser.find_element(By.CSS_SELECTOR, "#run_btn").click()
        WebDriverWait(browser, 60, poll_frequency=0.2).until(
            lambda d: "rendering" in d.find_element(By.TAG_NAME, "body").text)
        job_files = [f for f in (server.root / "jobs").rglob("*") if f.is_file()]
        assert job_files, "no job folder while the job runs"
        for f in job_files:  # the job folder is not served
            assert status_of(str(f)) == 403, f
        browser.find_element(By.CSS_SELECTOR, "#cancel_btn").click()
        assert wait_for("#status .vi-note", "no note after cancelling") == "cancelled"
        WebDriverWait(browser, 30).until(lambda d: not any((server.root / "jobs").iterdir()))

        # 6. a second job still works
        upload(clip)
        wait_for("#estimate .vi-estimate", "no estimate for the second job")
        info = probe(run_job())
        assert (info.width, info.height, info.frames, info.has_audio) == (128, 72, 11, True), info

        # 7. the file route serves nothing outside Gradio's cache and the bundled example
        assert status_of(str(EXAMPLE_VIDEO)) == 200
        for path in ("/etc/passwd", str(Path(__file__).resolve()), str(clip), str(server.root)):
            assert status_of(path) == 403, path
    assert not server.root.exists() and list(tmpdir.iterdir()) == [], list(tmpdir.rglob("*"))
    print(f"test_ui_in_browser: {time.monotonic() - t_start:.1f} s", file=sys.stderr)


def test_ui_without_gradio_says_how_to_install(monkeypatch, tmp_path, capsys):
    """Without the `ui` extra: one `error:` line naming the install command, exit status 2, nothing left."""
    import tempfile

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` raises ImportError
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rc = cli.main(["ui", "--port", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and err == "error: the web page needs Gradio, which is not installed: " \
                              "pip install 'videoinr[ui]'\n", err
    assert list(tmp_path.iterdir()) == []


def test_import_videoinr_does_not_import_gradio():
    code = "import sys, videoinr, videoinr.cli, videoinr.ui; assert 'gradio' not in sys.modules, 'gradio imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------ issue 26: the page's logic (App, no Gradio, no browser)
@pytest.fixture
def ui_app(tmp_path):
    from videoinr.ui.app import App

    from av_helpers import example_frames

    clip = tmp_path / "clip.mp4"
    write_with_audio(clip, example_frames(3, resize=(32, 24)))
    return App(tmp_path / "app"), clip


def test_page_estimate_bounds_absurd_requests_and_refuses_text(ui_app, tmp_path):
    """#12: the estimate of `time scale` 1e9 (which grew the server to 24 GB) or scale 1e308 is one error
    line at once; #13: a text upload (FFmpeg's tty demuxer renders text as video) gets no estimate."""
    import resource

    app, clip = ui_app
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for kw, needle in [({"time_scale": 1e9}, "over the limit"), ({"scale": 1e308}, "largest output frame"),
                       ({"time_scale": 3e6}, "over the limit")]:
        args = {"space_mode": "scale", "scale": 2, "size": "", "time_mode": "time scale", "time_scale": 2,
                "fps": "", "model": "lite", **kw}
        msg = app.estimate(str(clip), **args)
        assert "vi-error" in msg and needle in msg, msg
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000  # KiB: nothing was allocated
    text = tmp_path / "notes.txt"
    text.write_text("".join(chr(97 + (i * 7) % 26) + ("\n" if i % 40 == 0 else "") for i in range(20000)))
    msg = app.estimate(str(text), "scale", 2, "", "time scale", 2, "", "lite")
    assert "vi-error" in msg and "not a video" in msg, msg


def test_page_jobs_leave_nothing_behind(ui_app):
    """#10: a job cancelled mid-render leaves no job folder (work folder, lock, input copy); finished jobs
    whose comparison never ran (tab closed) do not pile up: the next job sweeps them; #13: closing the tab
    (`end_session`, wired to the page's unload event) cancels that session's job."""
    app, clip = ui_app
    calls = []

    def progress(value, **k):
        calls.append(value)
        if isinstance(value, tuple) and value[0] >= 1:  # one output frame written: mid-render
            app.end_session("s1")

    out, status, job = app.run(str(clip), "scale", 2, "", "time scale", 2, "", "lite", session="s1",
                               progress=progress)
    assert out is None and job is None and "cancelled" in status, status
    assert list(app.jobs_root.iterdir()) == []
    stale = app.jobs_root / ("0" * 32)  # a finished job whose page went away, with a killed run's leftovers
    (stale / ".x.mp4.videoinr-part").mkdir(parents=True)
    (stale / "input.mp4").write_bytes(b"old")
    out, status, job = app.run(str(clip), "scale", 2, "", "time scale", 2, "", "lite", session="s2")
    assert out is not None and "done" in status, status
    assert [p.name for p in app.jobs_root.iterdir()] == [Path(job).name]  # only the latest result


@pytest.mark.parametrize("value", ["\uff15\uff10\uff10M", "1.2.3G", "0"])
def test_max_upload_uses_the_one_byte_size_parser(value, capsys):
    assert cli.main(["ui", "--max-upload", value]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --max-upload") and "Traceback" not in err, err
