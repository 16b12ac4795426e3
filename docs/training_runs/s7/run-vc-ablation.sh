# Does the virtual-camera augmentation cost MPJPE in Human3.6M's own cameras? The default lifting model fine-tuned
# 2000 steps (lr 2e-4, fresh optimizer) with --virtual-camera-prob 0.5 (as trained: the control) and 0 (none).
cd /work/main; source runs/common.sh
R_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 2e-4 --lr-decay 0.97 --lr-decay-steps 150}"
NOISE="--noise-std 0.004 --noise-outlier-prob 0.01 --noise-drop-prob 0.05 --noise-tube-drop-prob 0.3 --noise-tube-drop-joints 2"
for prob in 0.5 0; do
  nohup $PY examples/finetune_lifting.py $R_COMMON $NOISE --virtual-camera-prob $prob \
    --init-from pretrained/mpm-h36m-27f-lifting --max-steps 2000 --output-dir runs/s7-vc-$prob \
    > runs/s7/vc-$prob.log 2>&1 &
done
