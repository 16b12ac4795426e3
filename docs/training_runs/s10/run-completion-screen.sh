# Tenth session, second completion arm: does the camera prior the window normalisation removes decide the legs?
# With both legs hidden the 2D shows no stance, and S9's worst rows are the seated actions (per action, shipped
# model, every 50th frame: Sitting 130, SittingDown 162 mm against Walking 78); in Human3.6M's fixed cameras a
# seated person's upper body sits lower in the image, which screen normalisation (the paper's and the release's)
# keeps and window normalisation discards. The tds-6 run's checkpoint-4000 with config.input_normalization set to
# "screen" (runs/s10/init-screen; its first layer now sees other inputs: 385 mm at step 0), the same recipe at lr
# 2e-4, one thread, to the end of the session. Run from the repository root.
source runs/common.sh
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 2e-4 --lr-decay 0.97 --lr-decay-steps 200}"
nohup $PY examples/finetune_completion.py ${C_COMMON/--downsample 2/--downsample 6} --virtual-camera-prob 0.5 \
  --init-from runs/s10/init-screen --modality both --part-prob 0.6 --part-weights legs=3,arms=1.5 \
  --random-count --spatial-mask-joints 6 --freeze-batch-norm --max-steps 20000 --max-time ${MAX_TIME:-4500} \
  --output-dir runs/s10-completion-screen > runs/s10/completion-screen.log 2>&1 &
