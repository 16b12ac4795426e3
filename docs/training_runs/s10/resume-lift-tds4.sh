# The lifting run of run-tds.sh (tds 4), resumed from its checkpoint-1500 at the end of the tenth session for 25
# minutes on two threads (nothing else running). Run from the repository root.
source runs/common.sh
export OMP_NUM_THREADS=2
R_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps 120}"
nohup $PY examples/finetune_lifting.py ${R_COMMON/--downsample 2/--downsample 4} $AUG --virtual-camera-look-down 60 \
  --virtual-camera-look-up 20 --init-from pretrained/mpm-h36m-27f-lifting --max-steps 20000 --max-time ${MAX_TIME:-1500} \
  --resume --output-dir runs/s10-lift-tds4 > runs/s10/lift-tds4-resume.log 2>&1 &
