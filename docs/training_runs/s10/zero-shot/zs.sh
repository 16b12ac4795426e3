# The shipped lifting and completion models read with a larger frame step inside the window (tds) than they were
# trained with, no fine-tuning (S9, ground-truth 2D, every 50th frame). Run from the repository root.
source runs/common.sh
for t in 2 4 6; do
  $PY examples/evaluate.py --model pretrained/mpm-h36m-27f-lifting --subjects S9 --keypoints gt --frame-step 50 --downsample $t --no-progress --json docs/training_runs/s10/zero-shot/zs-lift-tds$t.json > docs/training_runs/s10/zero-shot/zs-lift-tds$t.log 2>&1 &
  $PY examples/evaluate.py --model pretrained/mpm-h36m-27f-completion --subjects S9 --keypoints gt --completion 2d --occlusions legs,none --frame-step 50 --downsample $t --no-progress --json docs/training_runs/s10/zero-shot/zs-comp-tds$t.json > docs/training_runs/s10/zero-shot/zs-comp-tds$t.log 2>&1
  wait
done
