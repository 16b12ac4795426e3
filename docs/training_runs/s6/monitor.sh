# usage: bash runs/s6/monitor.sh  -> quick S9 checks (every 50th frame) of the latest checkpoints of both runs
cd /work/main; export OMP_NUM_THREADS=1
L=$(ls -d runs/s6-lift-r/checkpoints/checkpoint-* | sort -V | tail -1)
C=$(ls -d runs/s6-completion4/checkpoints/checkpoint-* | sort -V | tail -1)
echo "== $L"; .venv/bin/python examples/evaluate.py --model $L --subjects S9 --keypoints gt --frame-step 50 --no-progress 2>/dev/null | grep -i "average\|mpjpe" | head -3
echo "== $C"; .venv/bin/python examples/evaluate.py --model $C --subjects S9 --keypoints gt --frame-step 50 --no-progress --completion 2d --occlusions none,random:1,legs,arms 2>/dev/null | tail -4
