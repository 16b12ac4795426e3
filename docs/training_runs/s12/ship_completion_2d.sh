# usage: bash docs/training_runs/s12/ship_completion_2d.sh   (from the repository root, after evaluate.sh and the
# all-frames check below): the soup (runs/s12/soup) shipped as the partial 2D completion model
# (pretrained/mpm-h36m-27f-completion-2d and the packaged copy) with its card and eval_results.json: Table 3 partial
# 2D->3D with and without flip test (S9, every 10th frame, ground truth), and both legs hidden on every S9 frame
# with flip test, measured by:
#   python examples/evaluate.py --subjects S9 --keypoints gt --frame-step 1 --model runs/s12/soup --completion 2d \
#     --occlusions legs --flip-test --json docs/training_runs/s12/eval-soup/eval-completion-2d-flip-legs-all-frames.json
set -x; PY=.venv/bin/python
F=docs/training_runs/s12/eval-soup
$PY scripts/ship_model.py runs/s12/soup pretrained/mpm-h36m-27f-completion-2d --fps 50 \
  --repo-id mpm-hf/mpm-h36m-27f-completion-2d --base-model mpm-hf/mpm-h36m-27f-completion \
  --training docs/training_runs/s12/completion-2d.training.json \
  --results $F/eval-completion-2d.json $F/eval-completion-2d-flip.json $F/eval-completion-2d-flip-legs-all-frames.json
mkdir -p src/mpm_hf/default_models/completion-2d
cp pretrained/mpm-h36m-27f-completion-2d/{config.json,model.safetensors,checksums.json} \
  src/mpm_hf/default_models/completion-2d/
echo done
