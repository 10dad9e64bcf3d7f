#!/usr/bin/env bash
# Create .venv and install videoinr. With --test: also its test, ui and ray extras (pytest, Hypothesis, Selenium, Gradio, Ray) and,
# as root with apt, Debian's Chromium for the browser test of the web page.
# The CPU build of torch is installed first: a bare `torch` requirement would otherwise pull a multi-GB CUDA
# build on machines without one cached.
# On a CUDA machine, install the torch build you want before running this (an installed torch is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
if [ "${1:-}" != "--test" ]; then
    .venv/bin/python -m pip install -q -e .
    echo "videoinr installed in $(pwd)/.venv"
    exit 0
fi
.venv/bin/python -m pip install -q -e ".[test,ui,ray]"
# the browser test of `videoinr ui` (tests/test_ui.py) drives Debian's headless Chromium with Selenium
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium chromium-driver) >/dev/null 2>&1 ||
            echo "note: could not install chromium + chromium-driver with apt-get: tests/test_ui.py will fail"
    else
        echo "note: tests/test_ui.py needs /usr/bin/chromium and /usr/bin/chromedriver: sudo apt-get install chromium chromium-driver"
    fi
fi
echo "videoinr installed in $(pwd)/.venv"
