#!/usr/bin/env bash
# The lent-GPU job (one call of the device tool, about 9 minutes): train the `paper` config with bf16 on
# the real training data for as long as the lease allows, check the CUDA path, time it; results in $OUT.
# Needs (carried, git-ignored): .device/whl (scenedetect-headless, platformdirs wheels) and .device/data
# (the training sources of the config, copied from ../shared/data/train): both built by scripts/device/carry.sh. Usage:
#   OUT=/tmp/out TRAIN_END_S=480 bash scripts/device/paper_h200.sh
#   OUT=/tmp/out BASE=configs/lite.yaml BATCHES=96,192,384 EXTRA="init=src/videoinr/weights/lite.safetensors" ...
set -u
T0=$(date +%s)
OUT=${OUT:?set OUT}
END=$((T0 + ${TRAIN_END_S:-480}))          # training must end by then (epoch seconds)
LOG=$OUT/device.log
say() { echo "[$(( $(date +%s) - T0 ))s] $*" | tee -a "$LOG"; }
PY=${PYTHON:-python3}
if [ -d .device/whl ] && ! $PY -c "import scenedetect" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/whl/*.whl >>"$LOG" 2>&1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD/src PYTHONUNBUFFERED=1 VIDEOINR_COMPILE=0
say "$(nvidia-smi -L 2>/dev/null | head -1) $($PY -c 'import torch, cv2; print("torch", torch.__version__, "cv2", cv2.__version__)' 2>&1)"
CFG=/tmp/paper_gpu.yaml
# decode the videos (OpenCV; no PyAV there) while the probe checks CUDA and times batch sizes
BASE=${BASE:-configs/paper.yaml}
$PY scripts/device/prep_data.py $BASE $CFG --frames /tmp/frames --from ../shared/data/train \
    --to .device/data precision=bf16 lr=2.0e-4 num_workers=8 val_crop=256 ${EXTRA:-} >>"$LOG" 2>&1 &
PREP=$!
$PY scripts/device/probe.py $CFG --base $BASE --deadline $END --batches ${BATCHES:-24,48,96} --steps ${PROBE_STEPS:-6} \
    --json $OUT/probe.json 2>&1 | tee -a "$LOG"
wait $PREP || say "prep failed"
say "config: $(grep -E '^(batch_size|steps|lr|precision):' $CFG | tr '\n' ' ')"
RUN=/tmp/run
for attempt in bf16 fp32; do
  LEFT=$((END - $(date +%s) - 20))
  [ $LEFT -lt 60 ] && break
  TL=$($PY -c "print(round($LEFT / 60, 2))")
  say "train ($attempt) time_limit=${TL} min"
  timeout $((LEFT + 90)) $PY -m videoinr.train --config $CFG --out $RUN --resume --no-progress \
      precision=$attempt time_limit=$TL >>"$LOG" 2>&1
  rc=$?
  say "train rc=$rc"; tail -5 $RUN/metrics.csv 2>/dev/null | tee -a "$LOG"
  [ -f $RUN/final.safetensors ] && break
  rm -rf $RUN
done
[ -f $RUN/final.safetensors ] && [ $(stat -c %s $RUN/final.safetensors) -lt 15000000 ] && cp $RUN/final.safetensors $OUT/
[ -f $OUT/final.safetensors ] || $PY scripts/device/export_fp16.py $RUN $OUT/paper_fp16.safetensors.part >>"$LOG" 2>&1 || say "export failed"
cp $RUN/metrics.csv $RUN/config.yaml $OUT/ 2>/dev/null
last=$(ls $RUN/val/*.png 2>/dev/null | tail -1); [ -n "$last" ] && cp "$last" $OUT/val_last.png
say "bench"
[ "${BENCH_S:-75}" -gt 0 ] && timeout ${BENCH_S:-75} $PY scripts/device/bench_cuda.py --paper $RUN/final.safetensors --reps 3 --size ${BENCH_SIZE:-180x320} 2>&1 | tee $OUT/bench.md | tee -a "$LOG"
say "done"
