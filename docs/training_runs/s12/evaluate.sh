# usage: bash docs/training_runs/s12/evaluate.sh   (from the repository root, once both resumed runs stopped)
# Makes the soup, chosen before any resumed model was evaluated (after the eleventh session's two final models,
# averaged, measured 2 legs 80.7 mm with flip test, between and below the two): the mean of the weights of the two
# resumed runs' last three checkpoints each (both runs fine-tuned from the same model, checkpoints 500 steps apart
# at lr ~3e-6: tail averaging within each run, a uniform soup across the two; scripts/average_checkpoints.py).
# Then writes S9 reports (ground-truth 2D, every 10th frame) of the two runs and the soup to
# docs/training_runs/s12/eval-<model>/: Table 3 (partial 2D->3D) with and without flip test, and Table 4 (partial
# 3D->3D, given joints kept: what the 2D-only fine-tune costs the 3D task). Two models at a time, one thread each.
export OMP_NUM_THREADS=1; PY=.venv/bin/python
latest() { ls -d runs/s11-$1/checkpoints/checkpoint-* | sort -V | tail -n $2; }  # RUN N: its N latest checkpoints
$PY scripts/average_checkpoints.py $(latest completion-2d 3) $(latest completion-2d-seq 3) --output runs/s12/soup
evaluate() {  # NAME MODEL
  F=docs/training_runs/s12/eval-$1; mkdir -p $F
  E="$PY examples/evaluate.py --subjects S9 --keypoints gt --frame-step 10 --no-progress --model $2"
  $E --completion 2d --json $F/eval-completion-2d.json > $F/eval-completion-2d.log 2>&1
  $E --completion 2d --flip-test --json $F/eval-completion-2d-flip.json > $F/eval-completion-2d-flip.log 2>&1
  $E --completion 3d --json $F/eval-completion-3d-kept.json > $F/eval-completion-3d-kept.log 2>&1
}
# the runs were stopped after their checkpoints 26000 and 25000 (the learning rate down to 2e-6, the monitor level
# over the last 3000 steps): their latest checkpoints are their final states
evaluate soup runs/s12/soup &
evaluate completion-2d $(latest completion-2d 1)
wait
evaluate completion-2d-seq $(latest completion-2d-seq 1)
