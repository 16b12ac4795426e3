# Tenth session, second arm: the completion run of run-tds.sh with tds 12 (a 27-frame window spans 313 source
# frames, 6.3 s at 50 fps), the same recipe, one thread, 95 minutes. It replaced the lifting run of run-tds.sh
# (stopped at step 1500: 56.5 mm on the monitor against the default's 51.7) once tds 6 had shown the legs gain.
source runs/common.sh
mkdir -p runs/s10
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps 200}"
nohup $PY examples/finetune_completion.py ${C_COMMON/--downsample 2/--downsample 12} --virtual-camera-prob 0.5 \
  --init-from pretrained/mpm-h36m-27f-completion --modality both --part-prob 0.6 --part-weights legs=3,arms=1.5 \
  --random-count --spatial-mask-joints 6 --freeze-batch-norm --max-steps 20000 --max-time ${MAX_TIME:-5700} \
  --output-dir runs/s10-completion-tds12 > runs/s10/completion-tds12.log 2>&1 &
