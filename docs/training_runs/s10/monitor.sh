# usage: bash docs/training_runs/s10/monitor.sh -> S9 (ground-truth 2D, every 50th frame) of every checkpoint of
# run-tds.sh, run-completion-tds12.sh and run-completion-screen.sh not yet checked, appended to docs/training_runs/s10/monitor.jsonl: the lifting run's MPJPE / P-MPJPE,
# the completion run's partial 2D->3D MPJPE with both legs hidden and with nothing hidden. Step 0 is the shipped
# model the run starts from, read with the run's tds. Run from the repository root now and then, and once after.
export OMP_NUM_THREADS=1
OUT=docs/training_runs/s10/monitor.jsonl; touch $OUT
EVAL=".venv/bin/python examples/evaluate.py --subjects S9 --keypoints gt --frame-step 50 --no-progress"
for run in lift-tds4 completion-tds6 completion-tds12 completion-screen; do
  tds=${run##*tds}; [ $run = completion-screen ] && tds=6
  case $run in lift*) start=pretrained/mpm-h36m-27f-lifting;; *screen) start=runs/s10/init-screen;;
    *) start=pretrained/mpm-h36m-27f-completion;; esac
  for ckpt in $start-0 $(ls -d runs/s10-$run/checkpoints/checkpoint-* 2>/dev/null | sort -V); do
    step=${ckpt##*-}; ckpt=${ckpt%-0}
    grep -q "\"run\": \"$run\", \"step\": $step," $OUT && continue
    case $run in
      lift*) $EVAL --model $ckpt --downsample $tds --json /tmp/s10-monitor.json > /dev/null 2>&1 || continue
        python3 -c "import json; d = json.load(open('/tmp/s10-monitor.json')); print(json.dumps({'run': '$run', \
'step': $step, 'mpjpe': round(d['mpjpe'], 2), 'p_mpjpe': round(d['p_mpjpe'], 2)}))" >> $OUT;;
      *) $EVAL --model $ckpt --downsample $tds --completion 2d --occlusions legs,none --json /tmp/s10-monitor.json \
          > /dev/null 2>&1 || continue
        python3 -c "import json; d = json.load(open('/tmp/s10-monitor.json'))['mpjpe_by_occlusion']; \
print(json.dumps({'run': '$run', 'step': $step, 'legs_2d': round(d['legs'], 2), 'none_2d': round(d['none'], 2)}))" >> $OUT;;
    esac
  done
done
tail -n 6 $OUT
