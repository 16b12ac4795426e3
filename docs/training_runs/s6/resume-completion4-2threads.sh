# completion from runs/s6/comp-init3 (runs/s6/make_comp_init.py: lifting base + ridge-fitted 3D head)
cd /work/main; source runs/s6/common2.sh
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 2e-4 --lr-decay 0.97 --lr-decay-steps 200}"
nohup $PY examples/finetune_completion.py $C_COMMON --virtual-camera-prob 0.5 --init-from runs/s6/comp-init3 \
  --modality both --part-prob 0.5 --random-count --spatial-mask-joints 6 --freeze-batch-norm \
  --max-steps 12000 --resume --output-dir runs/s6-completion4 >> runs/s6/completion4.log 2>&1 &
