# Sixth session, first launch (14:35): (1) the lifting warm restart (stopped at step 8,375, not shipped: see
# docs/training.md); (2) a first completion run from the lifting base with the old completion decoder (stopped at
# step 2575: its 2D->3D path did not improve; replaced by make_comp_init.py + run-completion4.sh).
# runs/common.sh holds COMMON and AUG as in docs/training.md.
# Session 6 runs: (1) lifting warm restart from the shipped 18,500-step model, (2) completion from the lifting base.
cd /work/main; source runs/common.sh
L_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 2e-4 --lr-decay 0.97 --lr-decay-steps 200}"
nohup $PY examples/finetune_lifting.py $L_COMMON $AUG --init-from runs/s4-lift-c/checkpoints/checkpoint-18500 \
  --max-steps 12000 --output-dir runs/s6-lift-r > runs/s6/lift-r.log 2>&1 &
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 3e-4 --lr-decay 0.97 --lr-decay-steps 200}"
nohup $PY examples/finetune_completion.py $C_COMMON --virtual-camera-prob 0.5 --init-from runs/s6/comp-init \
  --modality both --part-prob 0.5 --random-count --spatial-mask-joints 6 \
  --max-steps 12000 --output-dir runs/s6-completion > runs/s6/completion.log 2>&1 &
