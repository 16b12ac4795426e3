# Eleventh session: two fine-tunes of the shipped completion model (tds 6, 27 frames spanning 3.1 s), one thread
# each, both at once, --max-time each. Both start from pretrained/mpm-h36m-27f-completion with the tenth
# session's recipe (lr 1e-4 x0.97 every 200 steps, tube masks, frozen batch norm) and differ from it as follows:
#   2d-only: --modality 2d (the release's separate partial 2D->3D setting): every window is a 2D one, where the
#            shipped model spends half of each batch on partial 3D->3D.
#   2d-seq:  the same 2D-only run with --loss-weight-completion-sequence 1: every frame's MPJPE added to the
#            centre frame's (the paper trains partial 2D->3D on the centre frame alone; 27 times the supervised
#            poses per window, as lifting's sequence loss). Started 5 minutes after 2d-only (SEQ_ONLY=1).
# (A third arm, --modality both with more limb masks, part-prob 0.8 and legs=5,arms=2, was stopped after 4 minutes
# for 2d-seq: the seventh session had found that lever spent.)
# Run from the repository root.
source runs/common.sh
mkdir -p runs/s11
C_COMMON="${COMMON/--lr 1e-3 --lr-decay 0.97 --lr-decay-steps 150/--lr 1e-4 --lr-decay 0.97 --lr-decay-steps 200}"
C_COMMON="${C_COMMON/--downsample 2/--downsample 6} --virtual-camera-prob 0.5 --init-from pretrained/mpm-h36m-27f-completion"
C_COMMON="$C_COMMON --random-count --spatial-mask-joints 6 --freeze-batch-norm --max-steps 30000 --max-time ${MAX_TIME:-7800}"
[ -n "$SEQ_ONLY" ] || nohup $PY examples/finetune_completion.py $C_COMMON --modality 2d --part-prob 0.6 \
  --part-weights legs=3,arms=1.5 --output-dir runs/s11-completion-2d > runs/s11/completion-2d.log 2>&1 &
nohup $PY examples/finetune_completion.py $C_COMMON --modality 2d --part-prob 0.6 --part-weights legs=3,arms=1.5 \
  --loss-weight-completion-sequence 1 --output-dir runs/s11-completion-2d-seq > runs/s11/completion-2d-seq.log 2>&1 &
