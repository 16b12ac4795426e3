"""Stage I: masked pose modeling (masked 2D + masked 3D modelling, optional masked 2D->3D lifting).

    accelerate launch examples/pretrain.py --data-dir ../shared/data/h36m --num-frames 243 --output-dir runs/stage1

Runs the same on one CPU (``python examples/pretrain.py``), one GPU, several GPUs or nodes (``accelerate launch``).
Every paper hyper-parameter is a flag defaulting to the paper (lr 1e-4, 15 epochs, batch 1024, r_s = 5 joints,
r_t = 60 %, lambda_m2m = 2, lambda_m3m = 3); ``--config FILE.yaml`` sets defaults from a file.
"""

from __future__ import annotations

import argparse

from accelerate.utils import set_seed

from mpm_hf import MPMForMaskedPoseModeling
from mpm_hf.data.windows import collate_windows
from mpm_hf.runtime import keep_freed_memory
from mpm_hf.training.arguments import (
    add_data_arguments,
    add_model_arguments,
    add_training_arguments,
    build_model,
    cameras_from_args,
    noise_from_args,
    parse_with_config,
    training_config_from_args,
)
from mpm_hf.training.datasets import build_windows
from mpm_hf.training.loop import train
from mpm_hf.training.tasks import PretrainStep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    add_data_arguments(parser)
    add_training_arguments(parser, learning_rate=1e-4, epochs=15)
    group = parser.add_argument_group("stage I")
    group.add_argument("--masked-lift", action="store_true",
                       help="add the masked 2D->3D lifting loss (needs paired 2D/3D, as in the release)")
    group.add_argument("--paired", dest="unpaired", action="store_false",
                       help="use the 3D of the same window for the 3D branch (release: unpaired)")
    group.add_argument("--rotate-3d", action="store_true",
                       help="turn every 3D clip of the 3D branch by a random yaw (and a small pitch): 3D needs no "
                            "detector, so every rotation is a new sample")
    group.add_argument("--no-3d", dest="use_3d", action="store_false",
                       help="masked 2D modelling only (no 3D branch, no lifting): the 2D-only pre-training arm")
    group.add_argument("--init-from", default=None, help="continue from a saved MPM folder or Hub repo")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = parse_with_config(build_parser(), argv)
    # everything the flags decide is built (and checked) before the data, which takes minutes to load
    training = training_config_from_args(args)
    step = PretrainStep(noise=noise_from_args(args), masked_lift=args.masked_lift, unpaired=args.unpaired,
                        cameras=cameras_from_args(args), rotate_3d=args.rotate_3d, use_3d=args.use_3d)
    set_seed(args.seed)  # the same initial weights on every process and every run
    model = build_model(MPMForMaskedPoseModeling, args)
    dataset = build_windows(args, model.config.num_frames)
    summary = train(model, dataset, step, training, collate_fn=collate_windows,
                    run_config={"stage": "pretrain", "num_windows": len(dataset)})
    print(f"[mpm-hf] stage I done: {summary['global_step']} steps in {summary['wall_time_s']:.0f} s -> "
          f"{args.output_dir}")
    return summary


if __name__ == "__main__":
    keep_freed_memory()  # reuse activation memory between batches (see mpm_hf.runtime)
    main()
