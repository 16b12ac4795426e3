set -e; cd /work/main; source runs/common.sh
while pgrep -f "runs/s5-lowlabel.sh" > /dev/null; do sleep 20; done
nohup $PY examples/finetune_completion.py $COMMON --virtual-camera-prob 0.5 --init-from runs/s4-stage1-2d3d --modality both --part-prob 0.5 --random-count --spatial-mask-joints 6 --lr 5e-4 --max-steps 20000 --resume --output-dir runs/s4-completion > runs/s5-completion.log 2>&1 &
for r in a b c; do bash runs/eval_arm.sh runs/s5-ll-$r s5-ll-$r; done
