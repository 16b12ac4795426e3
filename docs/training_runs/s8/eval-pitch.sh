# Evaluate the two arms of run-pitch.sh (and the default for the viewpoints): S9 every 5th frame with ground-truth
# and Stacked-Hourglass 2D, and S9's 3D seen from above (viewpoints.py). Run from the repository root.
source runs/common.sh
export OMP_NUM_THREADS=2
D=docs/training_runs/s8
for arm in wide control; do
  for kp in gt sh_pt_mpii; do
    $PY examples/evaluate.py --model runs/s8-pitch-$arm --subjects S9 --keypoints $kp --frame-step 5 \
      --json $D/eval-pitch-$arm-${kp%%_*}-step5.json --no-progress > /dev/null
  done
done
$PY docs/training_runs/s7/viewpoints.py $D/viewpoints.json pretrained/mpm-h36m-27f-lifting runs/s8-pitch-wide \
  runs/s8-pitch-control
