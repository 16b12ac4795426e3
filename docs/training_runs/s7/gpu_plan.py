"""Plan the one GPU run of the seventh session from measurements taken on the GPU itself (run by gpu_run.sh).

``bench``: time one stage-II optimizer step (forward, backward, AdamW; bf16 autocast) of each candidate size on
random windows, and pick the largest whose projected stage-II windows reach ``--min-windows`` in ``--budget``
seconds, the data and augmentation overhead counted as ``--overhead`` (the smallest candidate when none does).
``schedule``: turn the chosen step time, the overhead measured in stage I and the seconds left into stage II's
``--max-steps`` and ``--lr-decay-steps`` (the learning rate decays by ``--final-lr-ratio`` over the planned steps,
as in the CPU recipe: 1e-3 -> 2.4e-5 over 18,500 steps).

Prints the flags as shell words on stdout; details go to stderr and the JSON files named.
"""

import argparse
import json
import math
import sys
import time

import torch

from mpm_hf import MPMForMaskedPoseModeling, MPMForPoseLifting
from mpm_hf.training.arguments import ModelArguments
from mpm_hf.training.tasks import LiftingStep, PretrainStep

# (hidden, intermediate, temporal layers), largest first; the last is the CPU-trained default's size
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # the CPU for a dry run of gpu_run.sh


def _synchronize() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


CANDIDATES = ((256, 512, 4), (256, 512, 3), (192, 384, 3), (128, 256, 3))


def _step_time(model_class, hidden: int, intermediate: int, layers: int, batch_size: int) -> float:
    """Seconds per optimizer step of the training task of ``model_class`` (lifting, or 2D-only stage I) on random
    windows, without the loop's data loading, augmentation and logging."""
    config = ModelArguments(num_frames=27, hidden_size=hidden, intermediate_size=intermediate, num_layers=layers,
                            dropout=0.0).to_config()
    model = model_class(config).to(DEVICE).train()
    task = LiftingStep() if model_class is MPMForPoseLifting else PretrainStep(use_3d=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = {"keypoints_2d": torch.randn(batch_size, 27, 17, 2, device=DEVICE) * 0.3,
             "poses_3d": torch.randn(batch_size, 27, 17, 3, device=DEVICE) * 0.3}
    generator = torch.Generator(device=DEVICE).manual_seed(0)

    def step() -> None:
        with torch.autocast(DEVICE, dtype=torch.bfloat16):
            loss, _ = task(model, batch, generator)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(4):
        step()
    _synchronize()
    start = time.perf_counter()
    for _ in range(10):
        step()
    _synchronize()
    return (time.perf_counter() - start) / 10


def bench(args) -> None:
    rows = []
    for hidden, intermediate, layers in CANDIDATES:
        seconds = _step_time(MPMForPoseLifting, hidden, intermediate, layers, args.batch_size)
        windows = args.budget / (seconds * args.overhead) * args.batch_size
        rows.append({"hidden": hidden, "intermediate": intermediate, "layers": layers, "step_s": seconds,
                     "projected_windows": windows})
        print(f"[plan] {hidden}/{intermediate}/{layers}: {seconds * 1e3:.1f} ms per step of {args.batch_size}, "
              f"{windows / 1e6:.2f} M windows in {args.budget:.0f} s", file=sys.stderr)
    chosen = next((row for row in rows if row["projected_windows"] >= args.min_windows), rows[-1])
    with open(args.json, "w") as handle:
        json.dump({"batch_size": args.batch_size, "rows": rows, "chosen": chosen}, handle, indent=2)
    print(f"--hidden-size {chosen['hidden']} --intermediate-size {chosen['intermediate']} "
          f"--num-layers {chosen['layers']}")


def schedule(args) -> None:
    plan = json.load(open(args.json))
    stage1 = json.load(open(args.stage1_summary))
    measured = stage1["wall_time_s"] / stage1["global_step"]  # a stage-I step of the chosen size, in the loop
    stage1_bench = _step_time(MPMForMaskedPoseModeling, plan["chosen"]["hidden"], plan["chosen"]["intermediate"],
                              plan["chosen"]["layers"], plan["batch_size"])
    overhead = max(1.0, measured / stage1_bench)
    step_s = plan["chosen"]["step_s"] * overhead
    # 10 % more steps than the time is expected to allow: --max-time ends the run, and a run cut short by it has
    # decayed its learning rate almost as far as planned, where one that reaches its steps early wastes the rest
    steps = max(100, int(1.1 * args.seconds / step_s))
    decay_steps = max(1, round(steps * math.log(0.97) / math.log(args.final_lr_ratio)))
    plan.update(stage1_step_s=measured, stage1_bench_step_s=stage1_bench, overhead=overhead,
                stage2_seconds=args.seconds, stage2_steps=steps, stage2_decay_steps=decay_steps)
    with open(args.json, "w") as handle:
        json.dump(plan, handle, indent=2)
    print(f"[plan] stage I {measured * 1e3:.1f} ms per step in the loop vs {stage1_bench * 1e3:.1f} ms bench: "
          f"overhead x{overhead:.2f}; stage II {steps} steps in {args.seconds:.0f} s, lr decay every "
          f"{decay_steps}", file=sys.stderr)
    print(f"--max-steps {steps} --lr-decay-steps {decay_steps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("bench")
    one.add_argument("--budget", type=float, required=True, help="stage-II seconds")
    one.add_argument("--batch-size", type=int, default=512)
    one.add_argument("--overhead", type=float, default=1.3)
    one.add_argument("--min-windows", type=float, default=5e6)
    one.add_argument("--json", required=True)
    two = commands.add_parser("schedule")
    two.add_argument("--json", required=True)
    two.add_argument("--stage1-summary", required=True)
    two.add_argument("--seconds", type=float, required=True)
    two.add_argument("--final-lr-ratio", type=float, default=0.03)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    bench(args) if args.command == "bench" else schedule(args)


if __name__ == "__main__":
    main()
