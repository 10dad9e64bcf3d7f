"""The real browser and server that the web page's tests drive (tests/test_ui.py, tests/test_check_ui.py):
headless Chromium (Debian's package) through Selenium against a real `videoinr ui` process on 127.0.0.1."""
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import cv2
import pytest

from av_helpers import write_with_audio
from videoinr.data.video import iter_video
from videoinr.pipeline import EXAMPLE_VIDEO

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,1100"]
VIDEOINR = Path(sys.executable).parent / "videoinr"


def require_ui_stack() -> None:
    """Fail (never skip) with the fix when gradio, selenium or chromium is missing."""
    missing = [m for m in ("gradio", "selenium") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `bash scripts/setup.sh --test` "
                    "(or pip install -e '.[test,ui]')")
    for p in (CHROMIUM, CHROMEDRIVER):
        if not p.is_file():
            pytest.fail(f"{p} not found: run `bash scripts/setup.sh --test` as root, or "
                        "`apt-get install chromium chromium-driver`")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)


class Server:
    """`videoinr ui --port PORT` as a real process; its output is kept for failure messages."""

    def __init__(self, port: int, tmpdir: Path) -> None:
        # an inductor cache folder of its own, outside tmpdir (which must be left empty; torch creates its
        # default cache folder there when the model is built otherwise): the page's jobs decide as on a
        # machine that never compiled (runtime.compile_seconds), whatever this machine recorded before
        env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONUNBUFFERED": "1",
               "TORCHINDUCTOR_CACHE_DIR": str(tmpdir.parent / "server_inductor_cache")}
        self.proc = subprocess.Popen([str(VIDEOINR), "ui", "--port", str(port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(60) or self.proc.poll() is not None:
            self.stop()
            pytest.fail("videoinr ui did not start:\n" + self.log)
        m = re.search(r"http://127\.0\.0\.1:(\d+)/ +\(work files in (\S+);", self.log)
        assert m and int(m.group(1)) == port, self.log
        self.url, self.root = f"http://127.0.0.1:{port}/", Path(m.group(2))

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("videoinr ui: http"):
                self.ready.set()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextmanager
def served_page(tmp_path: Path):
    """(server, browser): a real `videoinr ui` (its TMPDIR tmp_path/"tmp") and headless Chromium; on exit
    the browser quits and the server stops, which must end with status 0 and no traceback in its log."""
    require_ui_stack()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    server = Server(free_port(), tmpdir)
    browser = None
    try:
        browser = make_browser(tmp_path / "chrome-profile")
        yield server, browser
    finally:
        if browser is not None:
            browser.quit()
        rc = server.stop()
    assert rc == 0, server.log
    assert "Traceback" not in server.log, server.log


def page_text(browser, css: str) -> str:
    """The stripped text of the first element matching `css`, or "" while there is none."""
    from selenium.webdriver.common.by import By

    els = browser.find_elements(By.CSS_SELECTOR, css)
    return els[0].text.strip() if els else ""


def tiny_clip(path: Path, n: int = 6, size=(64, 36)) -> Path:
    """The bundled example, first n frames resized to `size`, 10 fps, with an audio track."""
    frames = []
    for f in iter_video(EXAMPLE_VIDEO):
        frames.append(cv2.resize(f.image, size, interpolation=cv2.INTER_AREA))
        if len(frames) == n:
            break
    write_with_audio(path, frames, fps=10)
    return path
