# Does a wider virtual-camera elevation cost MPJPE in Human3.6M's cameras, and what does it buy from above?
# The default lifting model fine-tuned with a fresh optimizer (lr 1e-4, x0.97 every 120 steps), 9000 steps (the
# --max-time guard was not reached): (wide) virtual cameras looking down up to 60 degrees, (control) up to 20 as
# before. Both use the eighth session's yaw-then-pitch order. Run from the repository root.
# pretrained/mpm-h36m-27f-lifting was then the seventh session's default (runs/s4-lift-c/checkpoints/checkpoint-18500);
# since this session it is the wide arm.
source runs/common.sh
R_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps 120}"
for arm in "wide 60" "control 20"; do
  set -- $arm
  nohup $PY examples/finetune_lifting.py $R_COMMON $AUG --virtual-camera-look-down $2 --virtual-camera-look-up 20 \
    --init-from pretrained/mpm-h36m-27f-lifting --max-steps 9000 --max-time ${MAX_TIME:-6300} \
    --output-dir runs/s8-pitch-$1 > runs/s8/pitch-$1.log 2>&1 &
done
