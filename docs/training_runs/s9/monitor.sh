# usage: bash docs/training_runs/s9/monitor.sh  -> S9 (ground-truth 2D, every 50th frame) of every checkpoint of
# both arms of run-grow.sh not yet checked, appended to docs/training_runs/s9/monitor.jsonl (arm, step, mpjpe,
# p_mpjpe). Run from the repository root, now and then while the runs train, and once after.
export OMP_NUM_THREADS=1
OUT=docs/training_runs/s9/monitor.jsonl; touch $OUT
for arm in grown control; do
  # step 0: the default lifting model, which both arms start from (the grown one computes the same function)
  for ckpt in pretrained/mpm-h36m-27f-lifting-0 $(ls -d runs/s9-$arm/checkpoints/checkpoint-* 2>/dev/null | sort -V); do
    step=${ckpt##*-}; ckpt=${ckpt%-0}
    grep -q "\"arm\": \"$arm\", \"step\": $step," $OUT && continue
    .venv/bin/python examples/evaluate.py --model $ckpt --subjects S9 --keypoints gt --frame-step 50 --no-progress \
      --json /tmp/s9-monitor.json > /dev/null 2>&1 || continue
    python3 -c "import json; d = json.load(open('/tmp/s9-monitor.json')); print(json.dumps({'arm': '$arm', \
'step': $step, 'mpjpe': round(d['mpjpe'], 2), 'p_mpjpe': round(d['p_mpjpe'], 2)}))" >> $OUT
  done
done
tail -n 6 $OUT
