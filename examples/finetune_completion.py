"""Stage II: pose completion, partial 2D->3D (``--modality 2d``), partial 3D->3D (``--modality 3d``) or both in one
model (``--modality both``: half of every batch each).

    accelerate launch examples/finetune_completion.py --init-from runs/stage1 --modality 3d \
        --data-dir ../shared/data/h36m --output-dir runs/completion3d

Hidden joints are tube masks (the same joints in every frame): random joints (``--spatial-mask-joints``; with
``--random-count``, 1 to that many per window), the paper's body parts in a ``--part-prob`` fraction of the
windows, or always the named body parts of ``--occlude`` (left_arm, right_leg, legs, arms, ...), fed through the
learned mask token.
"""

from dataclasses import dataclass, field
from typing import Literal

from accelerate.utils import set_seed
from transformers import HfArgumentParser

from mpm_hf import MPMForPoseCompletion
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
from mpm_hf.training.tasks import CompletionStep


@dataclass
class CompletionArguments:
    init_from: str | None = field(default=None, metadata={
        "help": "stage-I folder / Hub repo; omitted: from scratch"})
    modality: Literal["2d", "3d", "both"] = field(default="3d", metadata={
        "help": "what the partial input is: 2D keypoints, 3D poses, or half of every batch each"})
    occlude: str = field(default="", metadata={
        "help": "comma-separated body parts to hide (default: random)"})
    part_prob: float = field(default=0.0, metadata={
        "help": "fraction of windows hiding one of the paper's body parts (limbs, both legs/arms, ...)"})
    part_weights: str = field(default="", metadata={
        "help": "relative frequency of --part-prob's body parts, e.g. legs=3,arms=1.5 (the rest 1; default uniform)"})
    random_count: bool = field(default=False, metadata={
        "help": "hide 1 .. --spatial-mask-joints random joints per window (default: exactly that many)"})


def build_parser() -> HfArgumentParser:
    return HfArgumentParser(
        (ModelArguments, DataArguments, training_arguments(learning_rate=1e-4, epochs=40), CompletionArguments),
        description=__doc__, formatter_class=HelpFormatter,
    )


def main(argv: list[str] | None = None) -> dict:
    model_args, data_args, training_args, completion_args = parse_arguments(build_parser(), argv)
    # everything the flags decide is built (and checked: --occlude's body parts) before the data, which takes
    # minutes to load
    training = training_args.to_training_config()
    set_seed(training_args.seed)  # the same initial weights on every process and every run
    model = build_model(MPMForPoseCompletion, model_args, data_args, init_from=completion_args.init_from)
    occluded = tuple(part.strip() for part in completion_args.occlude.split(",") if part.strip())
    part_weights = _parse_weights(completion_args.part_weights)
    step = CompletionStep(completion_args.modality, num_masked=model.config.spatial_mask_num_joints,
                          occluded=occluded, part_prob=completion_args.part_prob,
                          fixed_count=not completion_args.random_count, cameras=data_args.virtual_cameras(),
                          part_weights=part_weights)
    dataset = build_windows(data_args, model.config.num_frames)
    summary = train(model, dataset, step, training, collate_fn=collate_windows,
                    run_config={"stage": f"completion_{completion_args.modality}", "num_windows": len(dataset)})
    print(f"[mpm-hf] completion done: {summary['global_step']} steps -> {training_args.output_dir}")
    return summary


def _parse_weights(text: str) -> dict[str, float]:
    """``legs=3,arms=1.5`` -> ``{"legs": 3.0, "arms": 1.5}``; ``ValueError`` naming the flag on another shape."""
    weights = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--part-weights: expected part=weight items such as legs=3, got {item!r}") from None
    return weights


if __name__ == "__main__":
    keep_freed_memory()  # reuse activation memory between batches (see mpm_hf.runtime)
    main()
