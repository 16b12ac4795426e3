# usage: bash docs/training_runs/s11/evaluate.sh   (from the repository root, once both completion runs stopped)
# S9 reports of both eleventh-session completion runs' final models, written where ship_completion.sh looks for them
# (docs/training_runs/s11/eval-<run>/), one run per thread: Table 3 (partial 2D->3D) with and without flip test,
# Table 4 (partial 3D->3D, given joints kept: what a 2D-only fine-tune costs the 3D task).
export OMP_NUM_THREADS=1; PY=.venv/bin/python
for run in completion-2d completion-2d-seq; do
  (
    F=docs/training_runs/s11/eval-$run; mkdir -p $F
    E="$PY examples/evaluate.py --subjects S9 --keypoints gt --frame-step 10 --no-progress --model runs/s11-$run"
    $E --completion 2d --json $F/eval-completion-2d.json > $F/eval-completion-2d.log 2>&1
    $E --completion 2d --flip-test --json $F/eval-completion-2d-flip.json > $F/eval-completion-2d-flip.log 2>&1
    $E --completion 3d --json $F/eval-completion-3d-kept.json > $F/eval-completion-3d-kept.log 2>&1
  ) &
done
wait
