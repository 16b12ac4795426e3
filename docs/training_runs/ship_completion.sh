# usage: bash docs/training_runs/ship_completion.sh RUN TRAINING_JSON REPORTS   (from the repository root, after
# training stopped): the model's S9 reports (every 10th frame, ground truth; docs/training_runs/s10/evaluate.sh
# writes the same files, and reports already in REPORTS are kept), then RUN shipped as the completion model
# (pretrained/mpm-h36m-27f-completion and the packaged copy) with its card and eval_results.json: Table 4 partial
# 3D->3D with the given joints kept and with every joint from the model, Table 3 partial 2D->3D with and without
# flip test.
set -x; export OMP_NUM_THREADS=1; PY=.venv/bin/python
C=$1; T=$2; F=$3; mkdir -p $F
E="$PY examples/evaluate.py --subjects S9 --keypoints gt --frame-step 10 --no-progress --model $C"
report() { local name=$1; shift; [ -f $F/$name.json ] || $E "$@" --json $F/$name.json > $F/$name.log 2>&1; }
report eval-completion-3d-kept --completion 3d &
report eval-completion-3d --completion 3d --no-keep-visible
wait
report eval-completion-2d --completion 2d &
report eval-completion-2d-flip --completion 2d --flip-test
wait
$PY scripts/ship_model.py $C pretrained/mpm-h36m-27f-completion --fps 50 --repo-id mpm-hf/mpm-h36m-27f-completion \
  --base-model mpm-hf/mpm-h36m-27f-lifting --training $T \
  --results $F/eval-completion-3d-kept.json $F/eval-completion-3d.json $F/eval-completion-2d.json \
  $F/eval-completion-2d-flip.json
cp pretrained/mpm-h36m-27f-completion/{config.json,model.safetensors,checksums.json} src/mpm_hf/default_models/completion/
echo done
