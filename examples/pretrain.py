"""Stage I: masked pose modeling (masked 2D + masked 3D modelling, optional masked 2D->3D lifting).

    accelerate launch examples/pretrain.py --data-dir ../shared/data/h36m --num-frames 243 --output-dir runs/stage1

Runs the same on one CPU (``python examples/pretrain.py``), one GPU, several GPUs or nodes (``accelerate launch``).
Every paper hyper-parameter is a flag defaulting to the paper (lr 1e-4, 15 epochs, batch 1024, r_s = 5 joints,
r_t = 60 %, lambda_m2m = 2, lambda_m3m = 3); ``--config FILE.yaml`` sets defaults from a file.
"""

from dataclasses import dataclass, field

from accelerate.utils import set_seed
from transformers import HfArgumentParser

from mpm_hf import MPMForMaskedPoseModeling
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
from mpm_hf.training.tasks import PretrainStep


@dataclass
class PretrainArguments:
    """What stage I trains on top of masked 2D modelling."""

    _argument_group_name = "stage I"

    masked_lift: bool = field(default=False, metadata={
        "help": "add the masked 2D->3D lifting loss (needs paired 2D/3D, as in the release)"})
    paired: bool = field(default=False, metadata={
        "help": "use the 3D of the same window for the 3D branch (release: unpaired)"})
    rotate_3d: bool = field(default=False, metadata={
        "help": "turn every 3D clip of the 3D branch by a random yaw (and a small pitch): 3D needs no detector, so "
                "every rotation is a new sample"})
    no_3d: bool = field(default=False, metadata={
        "help": "masked 2D modelling only (no 3D branch, no lifting): the 2D-only pre-training arm"})
    init_from: str | None = field(default=None, metadata={
        "help": "continue from a saved MPM folder or Hub repo"})


def build_parser() -> HfArgumentParser:
    return HfArgumentParser(
        (ModelArguments, DataArguments, training_arguments(learning_rate=1e-4, epochs=15), PretrainArguments),
        description=__doc__, formatter_class=HelpFormatter,
    )


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args, stage_args = parse_arguments(build_parser(), argv)
    # everything the flags decide is built (and checked) before the data, which takes minutes to load
    training = training_args.to_training_config()
    step = PretrainStep(noise=data_args.detector_noise(), masked_lift=stage_args.masked_lift,
                        unpaired=not stage_args.paired, cameras=data_args.virtual_cameras(),
                        rotate_3d=stage_args.rotate_3d, use_3d=not stage_args.no_3d)
    set_seed(training_args.seed)  # the same initial weights on every process and every run
    model = build_model(MPMForMaskedPoseModeling, model_args, data_args, init_from=stage_args.init_from)
    dataset = build_windows(data_args, model.config.num_frames)
    summary = train(model, dataset, step, training, collate_fn=collate_windows,
                    run_config={"stage": "pretrain", "num_windows": len(dataset)})
    print(f"[mpm-hf] stage I done: {summary['global_step']} steps in {summary['wall_time_s']:.0f} s -> "
          f"{training_args.output_dir}")
    return summary


if __name__ == "__main__":
    keep_freed_memory()  # reuse activation memory between batches (see mpm_hf.runtime)
    main()
