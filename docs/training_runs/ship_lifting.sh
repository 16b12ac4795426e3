# usage: bash docs/training_runs/ship_lifting.sh RUN TRAINING_JSON REPORTS   (from the repository root, after
# training stopped): the model's reports on all S9 frames (ground-truth and Stacked-Hourglass 2D, with and without
# flip test, fast mode, lifting with occluded 2D), written to the folder REPORTS, then RUN shipped as the default
# lifting model (pretrained/mpm-h36m-27f-lifting and the packaged copy) with its card and eval_results.json.
set -x; export OMP_NUM_THREADS=1; PY=.venv/bin/python
L=$1; T=$2; F=$3; mkdir -p $F
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
  --base-model mpm-hf/mpm-h36m-27f-stage1 --training $T \
  --results $F/eval-gt.json $F/eval-sh.json $F/eval-gt-flip.json $F/eval-sh-flip.json $F/eval-gt-fast.json \
  $F/eval-sh-fast.json $F/eval-lifting-completion-2d.json
cp pretrained/mpm-h36m-27f-lifting/{config.json,model.safetensors,checksums.json} src/mpm_hf/default_models/lifting/
echo done
