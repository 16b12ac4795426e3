# usage: bash runs/s5-ship.sh LIFT_CKPT COMPLETION_CKPT  (after runs/s5-final.sh wrote runs/final5/*.json)
set -e; cd /work/main; export OMP_NUM_THREADS=1; PY=.venv/bin/python; F=runs/final5
$PY scripts/ship_model.py $1 pretrained/mpm-h36m-27f-lifting --fps 50 --repo-id mpm-hf/mpm-h36m-27f-lifting \
  --base-model mpm-hf/mpm-h36m-27f-stage1 --training docs/training_runs/s5/lifting.training.json \
  --results $F/eval-gt.json $F/eval-sh.json $F/eval-gt-flip.json $F/eval-sh-flip.json $F/eval-gt-fast.json \
  $F/eval-sh-fast.json $F/eval-lifting-completion-2d.json
$PY scripts/ship_model.py $2 pretrained/mpm-h36m-27f-completion --fps 50 --repo-id mpm-hf/mpm-h36m-27f-completion \
  --base-model mpm-hf/mpm-h36m-27f-stage1 --training docs/training_runs/s5/completion.training.json \
  --results $F/eval-completion-3d-kept.json $F/eval-completion-3d.json $F/eval-completion-2d.json
for task in lifting completion; do
  mkdir -p src/mpm_hf/default_models/$task
  cp pretrained/mpm-h36m-27f-$task/{config.json,model.safetensors,checksums.json} src/mpm_hf/default_models/$task/
done
