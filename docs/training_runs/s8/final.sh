# usage: bash docs/training_runs/s8/final.sh RUN   (the chosen arm, after training stopped): the shipped model's
# reports on all S9 frames, then ship it as the default lifting model (pretrained/ and the packaged copy)
set -x; export OMP_NUM_THREADS=1; PY=.venv/bin/python; F=runs/final8; mkdir -p $F
L=$1
E="$PY examples/evaluate.py --subjects S9 --no-progress --model $L"
$E --keypoints gt --json $F/eval-gt.json > $F/eval-gt.log 2>&1 &
$E --keypoints sh_pt_mpii --json $F/eval-sh.json > $F/eval-sh.log 2>&1
wait
$E --keypoints gt --flip-test --json $F/eval-gt-flip.json > $F/eval-gt-flip.log 2>&1 &
$E --keypoints sh_pt_mpii --flip-test --json $F/eval-sh-flip.json > $F/eval-sh-flip.log 2>&1
wait
$E --keypoints gt --mode sequence --json $F/eval-gt-fast.json > $F/eval-gt-fast.log 2>&1 &
$E --keypoints sh_pt_mpii --mode sequence --json $F/eval-sh-fast.json > $F/eval-sh-fast.log 2>&1
$E --keypoints gt --completion 2d --frame-step 10 --json $F/eval-lifting-completion-2d.json > $F/eval-l2d.log 2>&1
wait
$PY scripts/ship_model.py $L pretrained/mpm-h36m-27f-lifting --fps 50 --repo-id mpm-hf/mpm-h36m-27f-lifting \
  --base-model mpm-hf/mpm-h36m-27f-stage1 --training docs/training_runs/s8/lifting.training.json \
  --results $F/eval-gt.json $F/eval-sh.json $F/eval-gt-flip.json $F/eval-sh-flip.json $F/eval-gt-fast.json \
  $F/eval-sh-fast.json $F/eval-lifting-completion-2d.json
cp pretrained/mpm-h36m-27f-lifting/{config.json,model.safetensors,checksums.json} src/mpm_hf/default_models/lifting/
echo done
