#!/usr/bin/env bash
# The evaluations behind docs/MODEL_CARD.md, each with the classical baselines in the same run.
# Usage: bash scripts/eval_model_card.sh [MODEL (lite | paper | path.safetensors)] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
M=${1:-lite}
OUT=${2:-runs/eval_$(basename "$M" .safetensors)}
V=.venv/bin/videoinr
DATA=../shared/data
# 1. Vid4, space x4 / time x2 (Table 1 protocol)
$V eval vid4 --data $DATA/vid4 --methods "$M,flow-bicubic,bicubic-blend,bicubic-repeat" --out "$OUT/vid4" --no-progress
# 2. space only (t = 0) on the first 3 frames of each Vid4 sequence, x2 .. x12 (Table 5 sweep)
for s in 2 3 4 6 12; do
  $V eval vid4 --space-only --scale $s --max-frames 3 --data $DATA/vid4 --methods "$M,bicubic-repeat" \
     --out "$OUT/space_x$s" --no-progress
done
# 3. held-out training-source clips (never trained on): DAVIS dog (854x480) and the first 45 frames of
#    sam2 04_coffee.mp4 downscaled x2 as in training (made by scripts/make_heldout.py), 9-frame clips at x4 (time x8)
.venv/bin/python scripts/make_heldout.py runs/heldout
$V eval clips --data runs/heldout --clip-len 9 --methods "$M,flow-bicubic,bicubic-blend" --out "$OUT/heldout" --no-progress
# 4. the same clips at time x2 (3-frame clips: inputs 2 frames apart)
$V eval clips --data runs/heldout --clip-len 3 --methods "$M,flow-bicubic,bicubic-blend" --out "$OUT/heldout_x2" --no-progress
# 5. the README example's interpolated frame (crop sheet; no ground truth exists at t = 0.5)
.venv/bin/python scripts/motion_crop.py "$M" "$OUT/example_t05.png"
