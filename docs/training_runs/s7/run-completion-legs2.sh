# A second round on the shipped (more-legs) completion model: both legs and both arms weighted higher still
# (--part-weights legs=4,arms=2: 33 % and 17 % of the part masks), 2500 steps, lr 8e-5, one thread.
cd /work/main; source runs/common.sh
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 8e-5 --lr-decay 0.97 --lr-decay-steps 200}"
nohup $PY examples/finetune_completion.py $C_COMMON --virtual-camera-prob 0.5 \
  --init-from pretrained/mpm-h36m-27f-completion --modality both --part-prob 0.6 --part-weights legs=4,arms=2 \
  --random-count --spatial-mask-joints 6 --freeze-batch-norm --max-steps 2500 --max-time 1500 \
  --output-dir runs/s7-completion-legs2 > runs/s7/completion-legs2.log 2>&1 &
