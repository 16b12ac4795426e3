# The shipped completion model (sixth session, 6000 steps) fine-tuned further with more leg masks:
# --part-prob 0.6 and --part-weights legs=3,arms=1.5 (both legs 29 % of the part masks, was 12.5 %), lr 1e-4.
cd /work/main; source runs/common.sh
export OMP_NUM_THREADS=2
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps 200}"
nohup $PY examples/finetune_completion.py $C_COMMON --virtual-camera-prob 0.5 \
  --init-from pretrained/mpm-h36m-27f-completion --modality both --part-prob 0.6 --part-weights legs=3,arms=1.5 \
  --random-count --spatial-mask-joints 6 --freeze-batch-norm --max-steps 4000 \
  --output-dir runs/s7-completion-legs > runs/s7/completion-legs.log 2>&1 &
