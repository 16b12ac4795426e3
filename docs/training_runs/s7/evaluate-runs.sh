# Evaluates each seventh-session CPU run once its final model is written (S9; reports in runs/s7/).
cd /work/main; export OMP_NUM_THREADS=1
PY=.venv/bin/python
wait_for() { while [ ! -f "$1/train_summary.json" ]; do sleep 30; done; }
(
  wait_for runs/s7-completion-legs
  $PY examples/evaluate.py --model runs/s7-completion-legs --subjects S9 --keypoints gt --frame-step 10 \
    --completion 2d --no-progress --json runs/s7/eval-completion-legs-2d.json
  $PY examples/evaluate.py --model runs/s7-completion-legs --subjects S9 --keypoints gt --frame-step 10 \
    --completion 3d --no-progress --json runs/s7/eval-completion-legs-3d-kept.json
) > runs/s7/eval-completion.log 2>&1 &
(
  for prob in 0 0.5; do
    wait_for runs/s7-vc-$prob
    for kp in gt sh_pt_mpii; do
      $PY examples/evaluate.py --model runs/s7-vc-$prob --subjects S9 --keypoints $kp --frame-step 5 --no-progress \
        --json runs/s7/eval-vc-$prob-$kp-step5.json
    done
    $PY docs/training_runs/s6/camera_invariance.py runs/s7-vc-$prob runs/s7/invariance-vc-$prob.json
  done
) > runs/s7/eval-vc.log 2>&1 &
