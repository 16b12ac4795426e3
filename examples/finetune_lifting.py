"""Stage II: 2D->3D lifting, from a stage-I checkpoint (``--init-from``) or from scratch.

    accelerate launch examples/finetune_lifting.py --init-from runs/stage1 --data-dir ../shared/data/h36m \
        --output-dir runs/lifting

Defaults are the paper's (lr 1.6e-3 (the release README uses 7e-4), 40 epochs on Human3.6M, batch 1024, lr x 0.97
per epoch, lambda_ft = lambda_ft-seq = 1, flip augmentation). Detector-like 2D noise and dropped joints
(``--noise-*``) make the model hold up on real detections; dropped joints are fed through the mask token.
"""

from __future__ import annotations

import argparse

from accelerate.utils import set_seed

from mpm_hf import MPMForPoseLifting
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
from mpm_hf.training.tasks import LiftingStep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    add_data_arguments(parser)
    add_training_arguments(parser, learning_rate=1.6e-3, epochs=40)
    parser.add_argument("--init-from", default=None,
                        help="stage-I (or lifting) folder / Hub repo; omitted: train from scratch")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = parse_with_config(build_parser(), argv)
    # everything the flags decide is built (and checked) before the data, which takes minutes to load
    training = training_config_from_args(args)
    step = LiftingStep(noise=noise_from_args(args), cameras=cameras_from_args(args))
    set_seed(args.seed)  # the same initial weights on every process and every run
    model = build_model(MPMForPoseLifting, args)
    dataset = build_windows(args, model.config.num_frames)
    summary = train(model, dataset, step, training, collate_fn=collate_windows,
                    run_config={"stage": "lifting", "init_from": args.init_from or "scratch",
                                "num_windows": len(dataset)})
    print(f"[mpm-hf] lifting done: {summary['global_step']} steps in {summary['wall_time_s']:.0f} s -> "
          f"{args.output_dir}")
    return summary


if __name__ == "__main__":
    keep_freed_memory()  # reuse activation memory between batches (see mpm_hf.runtime)
    main()
