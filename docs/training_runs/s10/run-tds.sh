# Tenth session: a longer temporal context at the same cost. Both shipped models read 27 frames with tds 2 (a
# window spans 53 source frames, 1.06 s at 50 fps). Fine-tuned with a larger frame step inside the window, they
# see longer: (lifting) tds 4, 105 frames, 2.1 s; (completion) tds 6, 157 frames, 3.1 s. Same recipes as the
# shipped models' last rounds (lifting: the eighth session's; completion: the seventh's), one thread each, both at
# once, 110 minutes each (--max-time). Run from the repository root.
source runs/common.sh
mkdir -p runs/s10
R_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps 120}"
nohup $PY examples/finetune_lifting.py ${R_COMMON/--downsample 2/--downsample 4} $AUG --virtual-camera-look-down 60 \
  --virtual-camera-look-up 20 --init-from pretrained/mpm-h36m-27f-lifting --max-steps 20000 --max-time ${MAX_TIME:-6600} \
  --output-dir runs/s10-lift-tds4 > runs/s10/lift-tds4.log 2>&1 &
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps 200}"
nohup $PY examples/finetune_completion.py ${C_COMMON/--downsample 2/--downsample 6} --virtual-camera-prob 0.5 \
  --init-from pretrained/mpm-h36m-27f-completion --modality both --part-prob 0.6 --part-weights legs=3,arms=1.5 \
  --random-count --spatial-mask-joints 6 --freeze-batch-norm --max-steps 20000 --max-time ${MAX_TIME:-6600} \
  --output-dir runs/s10-completion-tds6 > runs/s10/completion-tds6.log 2>&1 &
