"""Stage II: pose completion, partial 2D->3D (``--modality 2d``), partial 3D->3D (``--modality 3d``) or both in one
model (``--modality both``: half of every batch each).

    accelerate launch examples/finetune_completion.py --init-from runs/stage1 --modality 3d \
        --data-dir ../shared/data/h36m --output-dir runs/completion3d

Hidden joints are tube masks (the same joints in every frame): random joints (``--spatial-mask-joints``; with
``--random-count``, 1 to that many per window), the paper's body parts in a ``--part-prob`` fraction of the
windows, or always the named body parts of ``--occlude`` (left_arm, right_leg, legs, arms, ...), fed through the
learned mask token.
"""

from __future__ import annotations

import argparse

from accelerate.utils import set_seed

from mpm_hf import MPMForPoseCompletion
from mpm_hf.data.windows import collate_windows
from mpm_hf.runtime import keep_freed_memory
from mpm_hf.training.arguments import (
    add_data_arguments,
    add_model_arguments,
    add_training_arguments,
    build_model,
    cameras_from_args,
    parse_with_config,
    training_config_from_args,
)
from mpm_hf.training.datasets import build_windows
from mpm_hf.training.loop import train
from mpm_hf.training.tasks import CompletionStep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    add_data_arguments(parser)
    add_training_arguments(parser, learning_rate=1e-4, epochs=40)
    parser.add_argument("--init-from", default=None, help="stage-I folder / Hub repo; omitted: from scratch")
    parser.add_argument("--modality", choices=("2d", "3d", "both"), default="3d")
    parser.add_argument("--occlude", default="", help="comma-separated body parts to hide (default: random)")
    parser.add_argument("--part-prob", type=float, default=0.0,
                        help="fraction of windows hiding one of the paper's body parts (limbs, both legs/arms, ...)")
    parser.add_argument("--random-count", action="store_true",
                        help="hide 1 .. --spatial-mask-joints random joints per window (default: exactly that many)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = parse_with_config(build_parser(), argv)
    # everything the flags decide is built (and checked: --occlude's body parts) before the data, which takes
    # minutes to load
    training = training_config_from_args(args)
    set_seed(args.seed)  # the same initial weights on every process and every run
    model = build_model(MPMForPoseCompletion, args)
    occluded = tuple(part.strip() for part in args.occlude.split(",") if part.strip())
    step = CompletionStep(args.modality, num_masked=model.config.spatial_mask_num_joints, occluded=occluded,
                          part_prob=args.part_prob, fixed_count=not args.random_count,
                          cameras=cameras_from_args(args))
    dataset = build_windows(args, model.config.num_frames)
    summary = train(model, dataset, step, training, collate_fn=collate_windows,
                    run_config={"stage": f"completion_{args.modality}", "num_windows": len(dataset)})
    print(f"[mpm-hf] completion done: {summary['global_step']} steps -> {args.output_dir}")
    return summary


if __name__ == "__main__":
    keep_freed_memory()  # reuse activation memory between batches (see mpm_hf.runtime)
    main()
