# usage: bash docs/training_runs/s12/monitor.sh -> S9 (ground-truth 2D, every 50th frame) partial 2D->3D MPJPE with
# both legs, both arms and nothing hidden, of every 1000th-step checkpoint of resume-completion.sh not yet checked,
# appended to docs/training_runs/s12/monitor.jsonl (the eleventh session's points are in ../s11/monitor.jsonl).
# Run from the repository root at least every 10 minutes (a run keeps its last three checkpoints, 500 steps apart).
export OMP_NUM_THREADS=1
OUT=docs/training_runs/s12/monitor.jsonl; touch $OUT
EVAL=".venv/bin/python examples/evaluate.py --subjects S9 --keypoints gt --frame-step 50 --no-progress"
for run in completion-2d completion-2d-seq; do
  for ckpt in $(ls -d runs/s11-$run/checkpoints/checkpoint-* 2>/dev/null | sort -V); do
    step=${ckpt##*-}
    [ $((step % 1000)) = 0 ] && [ $step -gt 13450 ] || continue
    grep -q "\"run\": \"$run\", \"step\": $step," $OUT && continue
    $EVAL --model $ckpt --completion 2d --occlusions legs,arms,none --json /tmp/s12-monitor.json > /dev/null 2>&1 || continue
    python3 -c "import json; d = json.load(open('/tmp/s12-monitor.json'))['mpjpe_by_occlusion']; \
print(json.dumps({'run': '$run', 'step': $step, **{k + '_2d': round(v, 2) for k, v in d.items()}}))" >> $OUT
  done
done
tail -n 6 $OUT
