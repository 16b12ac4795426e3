# usage: bash runs/s5-final.sh LIFT_CKPT COMPLETION_CKPT   (after the training processes are stopped)
set -x; cd /work/main; export OMP_NUM_THREADS=1; PY=.venv/bin/python; F=runs/final5; mkdir -p $F
L=$1; C=$2
E="$PY examples/evaluate.py --subjects S9 --no-progress"
# 1. the per-frame protocol on all S9 frames, GT and SH 2D (and with flip test)
$E --model $L --keypoints gt --json $F/eval-gt.json > $F/eval-gt.log 2>&1 &
$E --model $L --keypoints sh_pt_mpii --json $F/eval-sh.json > $F/eval-sh.log 2>&1
wait
# 2. completion tables (every 10th frame) and the fast mode's accuracy
$E --model $C --keypoints gt --completion 3d --frame-step 10 --json $F/eval-completion-3d-kept.json > $F/eval-c3dk.log 2>&1 &
$E --model $C --keypoints gt --completion 2d --frame-step 10 --json $F/eval-completion-2d.json > $F/eval-c2d.log 2>&1
wait
$E --model $C --keypoints gt --completion 3d --no-keep-visible --frame-step 10 --json $F/eval-completion-3d.json > $F/eval-c3d.log 2>&1 &
$E --model $L --keypoints gt --completion 2d --frame-step 10 --json $F/eval-lifting-completion-2d.json > $F/eval-l2d.log 2>&1
$E --model $L --keypoints gt --mode sequence --json $F/eval-gt-fast.json > $F/eval-gt-fast.log 2>&1
$E --model $L --keypoints sh_pt_mpii --mode sequence --json $F/eval-sh-fast.json > $F/eval-sh-fast.log 2>&1
wait
# 3. alone on the machine: the fast mode against the per-frame protocol, one process, all S9 frames
$PY benchmarks/bench_eval.py --model $L --threads 1 --margins 2,4 --json $F/fast_mode.json > $F/fast_mode.log 2>&1
# 4. flip test (paper's test-time augmentation) and the frame-rate benchmark
$E --model $L --keypoints gt --flip-test --json $F/eval-gt-flip.json > $F/eval-gt-flip.log 2>&1 &
$E --model $L --keypoints sh_pt_mpii --flip-test --json $F/eval-sh-flip.json > $F/eval-sh-flip.log 2>&1 &
$PY benchmarks/bench_frame_rate.py --model $L --threads 1 --json $F/frame_rate.json > $F/frame_rate.log 2>&1
wait
echo done
