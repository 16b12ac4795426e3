"""Stage II: 2D->3D lifting, from a stage-I checkpoint (``--init-from``) or from scratch.

    accelerate launch examples/finetune_lifting.py --init-from runs/stage1 --data-dir ../shared/data/h36m \
        --output-dir runs/lifting

Defaults are the paper's (lr 1.6e-3 (the release README uses 7e-4), 40 epochs on Human3.6M, batch 1024, lr x 0.97
per epoch, lambda_ft = lambda_ft-seq = 1, flip augmentation). Detector-like 2D noise and dropped joints
(``--noise-*``) make the model hold up on real detections; dropped joints are fed through the mask token.
"""

from dataclasses import dataclass, field

from accelerate.utils import set_seed
from transformers import HfArgumentParser

from mpm_hf import MPMForPoseLifting
from mpm_hf.data.windows import collate_windows
from mpm_hf.runtime import keep_freed_memory
from mpm_hf.training.arguments import (
    DataArguments,
    HelpFormatter,
    ModelArguments,
    build_model,
    parse_arguments,
    training_arguments,
)
from mpm_hf.training.datasets import build_windows
from mpm_hf.training.loop import train
from mpm_hf.training.tasks import LiftingStep


@dataclass
class LiftingArguments:
    init_from: str | None = field(default=None, metadata={
        "help": "stage-I (or lifting) folder / Hub repo; omitted: train from scratch"})


def build_parser() -> HfArgumentParser:
    return HfArgumentParser(
        (ModelArguments, DataArguments, training_arguments(learning_rate=1.6e-3, epochs=40), LiftingArguments),
        description=__doc__, formatter_class=HelpFormatter,
    )


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args, lifting_args = parse_arguments(build_parser(), argv)
    # everything the flags decide is built (and checked) before the data, which takes minutes to load
    training = training_args.to_training_config()
    step = LiftingStep(noise=data_args.detector_noise(), cameras=data_args.virtual_cameras())
    set_seed(training_args.seed)  # the same initial weights on every process and every run
    model = build_model(MPMForPoseLifting, model_args, data_args, init_from=lifting_args.init_from)
    dataset = build_windows(data_args, model.config.num_frames)
    summary = train(model, dataset, step, training, collate_fn=collate_windows,
                    run_config={"stage": "lifting", "init_from": lifting_args.init_from or "scratch",
                                "num_windows": len(dataset)})
    print(f"[mpm-hf] lifting done: {summary['global_step']} steps in {summary['wall_time_s']:.0f} s -> "
          f"{training_args.output_dir}")
    return summary


if __name__ == "__main__":
    keep_freed_memory()  # reuse activation memory between batches (see mpm_hf.runtime)
    main()
