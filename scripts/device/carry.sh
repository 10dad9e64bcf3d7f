#!/usr/bin/env bash
# Build what a device run carries (git-ignored, run here before the device call; nothing is downloaded):
#   .device/whl   pure-Python wheels the GPU machine lacks (scenedetect-headless for the scene-cut check of
#                 folder sources, and its pure dependencies), from this machine's pip index
#   .device/data  the training sources: ../shared/data/train without the held-out sam2 04_coffee clip
#                 (davis480p/dog stays: it is the validation clip). 49 MB in all, of the 64 MiB a run carries.
# Then, with the device tool (one call; OUT is set there):
#   run(command="TRAIN_END_S=480 BASE=configs/lite_patch64.yaml EXTRA='init=src/videoinr/weights/lite.safetensors'
#                bash scripts/device/paper_h200.sh", carry=[".device"])
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
rm -rf .device
mkdir -p .device/whl
$PY -m pip download -q --no-deps -d .device/whl scenedetect-headless platformdirs click 2>&1 | grep -v "^WARNING: Location" || true
cp -r ../shared/data/train .device/data
rm -f .device/data/sam2_clips/04_coffee.mp4
ls .device/whl
du -sh .device
