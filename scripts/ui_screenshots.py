"""Screenshots of `videoinr ui` for docs/UI.md: before, during and after a job on the bundled example.

    .venv/bin/python scripts/ui_screenshots.py [--out docs/ui] [--scale 2] [--time-scale 2]

Starts `videoinr ui` on a free port, drives headless Chromium (Debian's chromium + chromium-driver, as
tests/test_ui.py does) with Selenium: picks the bundled example, waits for the estimate (before.png),
starts the job and waits for the progress bar (during.png), waits for the result and the before/after
comparison (after.png). Stops the app at the end.
"""
import argparse
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "ui")
    p.add_argument("--scale", default="2")
    p.add_argument("--time-scale", default="2")
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=1260)
    args = p.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "videoinr"), "ui", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()
    log: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            log.append(line)
            sys.stderr.write(line)
            if line.startswith("videoinr ui: http"):
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    browser = None
    try:
        if not ready.wait(90):
            raise SystemExit("videoinr ui did not start:\n" + "".join(log))
        url = re.search(r"(http://\S+)", "".join(log)).group(1)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in CHROME_FLAGS + [f"--window-size={args.width},{args.height}"]:
            opts.add_argument(flag)
        profile = tempfile.TemporaryDirectory(prefix="videoinr-chrome-")
        opts.add_argument(f"--user-data-dir={profile.name}")
        browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        wait = WebDriverWait(browser, 120, poll_frequency=0.2)

        def text(css: str) -> str:
            els = browser.find_elements(By.CSS_SELECTOR, css)
            return els[0].text.strip() if els else ""

        def set_number(css: str, value: str) -> None:
            box = browser.find_element(By.CSS_SELECTOR, css)
            box.send_keys(Keys.CONTROL, "a")
            box.send_keys(value, Keys.TAB)

        browser.get(url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#example_btn"))
        browser.find_element(By.CSS_SELECTOR, "#example_btn").click()
        set_number("#scale input", args.scale)
        set_number("#time_scale input", args.time_scale)
        wait.until(lambda d: text("#estimate .vi-estimate"))
        time.sleep(1)
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(args.out / "before.png"))
        print("before:", text("#estimate"), file=sys.stderr)

        browser.find_element(By.CSS_SELECTOR, "#run_btn").click()
        wait.until(lambda d: re.search(r"ETA \d", d.find_element(By.TAG_NAME, "body").text))
        time.sleep(2)
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(args.out / "during.png"))
        print("during: saved", file=sys.stderr)

        WebDriverWait(browser, 1800, poll_frequency=1).until(
            lambda d: text("#status .vi-done") or text("#status .vi-error"))
        wait.until(lambda d: text("#compare_info"))
        time.sleep(2)
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(args.out / "after.png"))
        print("after:", text("#status"), "|", text("#compare_info"), file=sys.stderr)
    finally:
        if browser is not None:
            browser.quit()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
