set -e; cd /work/main; source runs/common.sh
LL="${COMMON/--subjects S1,S5,S6,S7,S8/--subjects S1}"
$PY examples/finetune_lifting.py $LL $AUG --max-steps 2500 --output-dir runs/s5-ll-a
$PY examples/finetune_lifting.py $LL $AUG --init-from runs/s4-stage1-2d3d --max-steps 1500 --output-dir runs/s5-ll-c
$PY examples/finetune_lifting.py $LL $AUG --init-from runs/s4-stage1-2d --max-steps 1500 --output-dir runs/s5-ll-b
