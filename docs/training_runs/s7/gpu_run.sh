#!/usr/bin/env bash
# The seventh session's one run on a lent GPU (H200, 15 minutes of device time in all): a larger stage I (2D only,
# the better arm of the ablation) then stage II lifting on ground-truth + Stacked-Hourglass 2D, sized and scheduled
# from measurements taken on the GPU itself (gpu_plan.py), ending by a deadline with the models written.
#
#   run from the repository root on the device machine, with .devdata/h36m.pack.npz (pack_h36m.py) carried:
#   bash docs/training_runs/s7/gpu_run.sh 540     # seconds this script may take
#   STAGE1_FLAGS / STAGE2_FLAGS: extra flags for each stage, after the shared ones (the last of a flag wins); the
#   next run, from what this one showed (docs/training.md):
#   BATCH=2048 STAGE1_FLAGS="--lr 3e-4" bash docs/training_runs/s7/gpu_run.sh 570
set -uo pipefail
LIMIT=${1:-540}
BATCH=${BATCH:-512}  # smaller for a dry run on the CPU
STAGE1_TIME=${STAGE1_TIME:-70}
START=$(date +%s)
HERE=docs/training_runs/s7
OUT=${OUT:-/tmp/out}
WORK=/tmp/s7
mkdir -p "$OUT" "$WORK"
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MPLBACKEND=Agg TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 \
    TRANSFORMERS_VERBOSITY=error
PY=${PY:-python3}
left() { echo $((START + LIMIT - $(date +%s))); }

pack_results() {  # whatever exists, in parts under the 16 MiB a returned file may have
    cd "$WORK" && tar cf results.tar --ignore-failed-read plan.json s1/config.json s1/model.safetensors \
        s1/train_summary.json s1/logs/metrics.jsonl s1/loss_curves.png s2/config.json s2/model.safetensors \
        s2/train_summary.json s2/logs/metrics.jsonl s2/loss_curves.png 2>/dev/null
    split -b 15M -d results.tar "$OUT/results.tar.part"
    ls -la "$OUT"
}
trap pack_results EXIT

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$PY -c "import torch, transformers, accelerate, numpy; print('torch', torch.__version__, 'transformers',
transformers.__version__, 'accelerate', accelerate.__version__, 'numpy', numpy.__version__)" || exit 1
$PY $HERE/pack_h36m.py unpack .devdata/h36m.pack.npz /tmp/h36m || exit 1
echo "[run] unpacked at $(( $(date +%s) - START )) s"

COMMON="--data-dir /tmp/h36m --subjects S1,S5,S6,S7,S8 --keypoints gt,sh_pt_mpii --num-frames 27 --downsample 2
 --batch-size $BATCH --lr 1e-3 --lr-decay 0.97 --log-every 50 --seed 0 --no-progress --trackers jsonl --dropout 0
 --mixed-precision bf16 --num-workers 4"
AUG="--virtual-camera-prob 0.5 --noise-std 0.004 --noise-outlier-prob 0.01 --noise-drop-prob 0.05
 --noise-tube-drop-prob 0.3 --noise-tube-drop-joints 2"

STAGE2_BUDGET=$(( $(left) - STAGE1_TIME - 120 ))  # what stage II gets after the bench, stage I (70 s + loading) and saving
SIZE=$($PY $HERE/gpu_plan.py bench --budget $STAGE2_BUDGET --batch-size $BATCH --json "$WORK/plan.json") || exit 1
echo "[run] size: $SIZE, bench done at $(( $(date +%s) - START )) s"

S1_START=$(date +%s)
$PY examples/pretrain.py $COMMON $AUG $SIZE --no-3d --max-steps 100000 --lr-decay-steps 400 --max-time $STAGE1_TIME \
    ${STAGE1_FLAGS:-} --output-dir "$WORK/s1" || exit 1
S1_TRAIN=$($PY -c "import json; print(int(json.load(open('$WORK/s1/train_summary.json'))['wall_time_s']))") || exit 1
OVERHEAD=$(( $(date +%s) - S1_START - S1_TRAIN ))  # loading the data, building the model, saving
echo "[run] stage I done at $(( $(date +%s) - START )) s; ${OVERHEAD} s of it outside training"

SECONDS2=$(( $(left) - OVERHEAD - 35 ))
SCHEDULE=$($PY $HERE/gpu_plan.py schedule --json "$WORK/plan.json" --stage1-summary "$WORK/s1/train_summary.json" \
    --seconds $SECONDS2) || exit 1
SECONDS2=$(( $(left) - OVERHEAD - 25 ))  # the schedule call took some seconds too
$PY examples/finetune_lifting.py $COMMON $AUG $SIZE $SCHEDULE --init-from "$WORK/s1" --max-time $SECONDS2 \
    ${STAGE2_FLAGS:-} --output-dir "$WORK/s2"
echo "[run] stage II ended (status $?) at $(( $(date +%s) - START )) s"
cat "$WORK/s2/train_summary.json"
