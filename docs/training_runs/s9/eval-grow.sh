# Evaluate the two arms of run-grow.sh: S9 every 5th frame with ground-truth and Stacked-Hourglass 2D, and S9's
# 3D seen from above (viewpoints.py; the default they start from is in s8/viewpoints.json). Run from the
# repository root after both runs stopped.
source runs/common.sh
D=docs/training_runs/s9
for arm in grown control; do
  for kp in gt sh_pt_mpii; do
    $PY examples/evaluate.py --model runs/s9-$arm --subjects S9 --keypoints $kp --frame-step 5 \
      --json $D/eval-grow-$arm-${kp%%_*}-step5.json --no-progress > /dev/null &
  done
  wait
done
$PY docs/training_runs/s7/viewpoints.py $D/viewpoints.json runs/s9-grown runs/s9-control
