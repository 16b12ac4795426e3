set -e; cd /work/main; source runs/common.sh
$PY examples/finetune_lifting.py $COMMON $AUG --init-from runs/s4-stage1-2d3d --max-steps 20000 --resume --output-dir runs/s4-lift-c
