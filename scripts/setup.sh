#!/usr/bin/env bash
# Create .venv and install videoinr with its test extras. The CPU build of torch is installed first:
# a bare `torch` requirement would otherwise pull a multi-GB CUDA build on machines without one cached.
# On a CUDA machine, install the torch build you want before running this (an installed torch is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
echo "videoinr installed in $(pwd)/.venv"
