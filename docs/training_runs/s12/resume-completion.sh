# Twelfth session: the eleventh session's two partial 2D completion runs (docs/training_runs/s11/run-completion.sh)
# resumed from their last checkpoints, bit-exact (same data order, masks and learning-rate schedule), one thread
# each, both at once, --max-time each (default 110 min):
#   2d-seq (shipped as mpm-h36m-27f-completion-2d at step 12,750): from checkpoint-12750
#   2d     (the control, the paper's centre-frame loss): from checkpoint-13450
# The learning rate keeps decaying x0.97 every 200 steps (about 1.4e-5 -> 3e-6 over 10,000 steps).
# Run from the repository root.
source runs/common.sh
mkdir -p runs/s12
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps 200}"
C_COMMON="${C_COMMON/--downsample 2/--downsample 6} --virtual-camera-prob 0.5 --init-from pretrained/mpm-h36m-27f-completion"
C_COMMON="$C_COMMON --random-count --spatial-mask-joints 6 --freeze-batch-norm --max-steps 30000 --max-time ${MAX_TIME:-6600}"
C_COMMON="$C_COMMON --modality 2d --part-prob 0.6 --part-weights legs=3,arms=1.5 --resume"
nohup $PY examples/finetune_completion.py $C_COMMON --loss-weight-completion-sequence 1 \
  --output-dir runs/s11-completion-2d-seq > runs/s12/completion-2d-seq.log 2>&1 &
nohup $PY examples/finetune_completion.py $C_COMMON --output-dir runs/s11-completion-2d > runs/s12/completion-2d.log 2>&1 &
