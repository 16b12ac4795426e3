# Is the default lifting model limited by its size? Two fine-tunes at equal wall time (MAX_TIME seconds of
# training each, both at once, one thread each), identical but for the model:
#   (grown)   the default grown to 5 temporal layers, FFN 512, spatial MLP 512 (2.65 M parameters) by
#             docs/training_runs/s9/grow_model.py: the same function at step 0, capacity added;
#   (control) the default itself (1.21 M parameters).
# The recipe is the eighth session's (lr 1e-4, fresh optimizer, cameras looking down up to 60 degrees); the lr
# decays x0.97 every DECAY steps, chosen from the measured step times (control 0.67 s, grown 1.17 s a step on an
# idle thread) so that both end near 1e-5. Run from the repository root.
source runs/common.sh
MAX_TIME=${MAX_TIME:-6600}
$PY docs/training_runs/s9/grow_model.py pretrained/mpm-h36m-27f-lifting runs/s9/grow-c --add-layers 2 \
  --intermediate-size 512 --spatial-hidden-size 512
for arm in "grown runs/s9/grow-c 80" "control pretrained/mpm-h36m-27f-lifting 130"; do
  set -- $arm
  R_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps $3}"
  nohup $PY examples/finetune_lifting.py $R_COMMON $AUG --virtual-camera-look-down 60 --virtual-camera-look-up 20 \
    --init-from $2 --max-steps 20000 --max-time $MAX_TIME --output-dir runs/s9-$1 > runs/s9/$1.log 2>&1 &
done
