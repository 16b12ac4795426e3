# usage: bash docs/training_runs/ship_completion.sh RUN TRAINING_JSON REPORTS   (from the repository root, after
# training stopped): the model's S9 reports (every 10th frame, ground truth: Table 4 partial 3D->3D with the given
# joints kept and with every joint from the model, Table 3 partial 2D->3D), written to the folder REPORTS, then RUN
# shipped as the completion model (pretrained/mpm-h36m-27f-completion and the packaged copy) with its card and
# eval_results.json.
set -x; export OMP_NUM_THREADS=1; PY=.venv/bin/python
C=$1; T=$2; F=$3; mkdir -p $F
E="$PY examples/evaluate.py --subjects S9 --keypoints gt --frame-step 10 --no-progress --model $C"
$E --completion 3d --json $F/eval-completion-3d-kept.json > $F/eval-completion-3d-kept.log 2>&1 &
$E --completion 3d --no-keep-visible --json $F/eval-completion-3d.json > $F/eval-completion-3d.log 2>&1
wait
$E --completion 2d --json $F/eval-completion-2d.json > $F/eval-completion-2d.log 2>&1
$PY scripts/ship_model.py $C pretrained/mpm-h36m-27f-completion --fps 50 --repo-id mpm-hf/mpm-h36m-27f-completion \
  --base-model mpm-hf/mpm-h36m-27f-lifting --training $T \
  --results $F/eval-completion-3d-kept.json $F/eval-completion-3d.json $F/eval-completion-2d.json
cp pretrained/mpm-h36m-27f-completion/{config.json,model.safetensors,checksums.json} src/mpm_hf/default_models/completion/
echo done
