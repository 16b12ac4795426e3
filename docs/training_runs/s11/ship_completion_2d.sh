# usage: bash docs/training_runs/s11/ship_completion_2d.sh RUN TRAINING_JSON REPORTS   (from the repository root,
# after training stopped and docs/training_runs/s11/evaluate.sh wrote REPORTS): RUN shipped as the partial 2D
# completion model (pretrained/mpm-h36m-27f-completion-2d and the packaged copy) with its card and
# eval_results.json: Table 3 partial 2D->3D with and without flip test (S9, every 10th frame, ground truth).
set -x; PY=.venv/bin/python
C=$1; T=$2; F=$3
$PY scripts/ship_model.py $C pretrained/mpm-h36m-27f-completion-2d --fps 50 \
  --repo-id mpm-hf/mpm-h36m-27f-completion-2d --base-model mpm-hf/mpm-h36m-27f-completion --training $T \
  --results $F/eval-completion-2d.json $F/eval-completion-2d-flip.json
mkdir -p src/mpm_hf/default_models/completion-2d
cp pretrained/mpm-h36m-27f-completion-2d/{config.json,model.safetensors,checksums.json} \
  src/mpm_hf/default_models/completion-2d/
echo done
