"""Re-estimate a lifting model's BatchNorm statistics over many training batches ("precise BatchNorm").

    python docs/training_runs/s9/precise_batch_norm.py MODEL OUT --batches 200 [data flags of the training run]

Training keeps BatchNorm running statistics as an exponential average with momentum 0.1, so a saved model's
statistics are those of its last ~10 batches: on the ninth session's control run, S9 (every 50th frame) went
51.3 -> 53.5 mm between its checkpoints at steps 9000 and 9250 at lr 1e-5. Here every BatchNorm's statistics are
reset and recomputed as a plain average over ``--batches`` batches drawn and augmented exactly as in training
(``LiftingStep``: virtual cameras, detector noise, dropped joints), with the weights unchanged.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import torch
from transformers import HfArgumentParser

from mpm_hf import MPMForPoseLifting
from mpm_hf.data.windows import collate_windows
from mpm_hf.training.arguments import DataArguments
from mpm_hf.training.datasets import build_windows
from mpm_hf.training.tasks import LiftingStep


@dataclass
class PreciseArguments:
    model: str = field(metadata={"help": "lifting model folder"})
    output: str = field(metadata={"help": "folder to save the model with re-estimated statistics"})
    batches: int = field(default=200, metadata={"help": "training batches to average the statistics over"})
    batch_size: int = field(default=256)
    seed: int = field(default=0)


def main(argv: list[str] | None = None) -> None:
    args, data_args = HfArgumentParser((PreciseArguments, DataArguments)).parse_args_into_dataclasses(argv)
    model = MPMForPoseLifting.from_pretrained(args.model)
    step = LiftingStep(noise=data_args.detector_noise(), cameras=data_args.virtual_cameras())
    dataset = build_windows(data_args, model.config.num_frames)
    norms = [module for module in model.modules() if isinstance(module, torch.nn.BatchNorm1d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over every batch seen
    model.train()
    generator = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for index in range(args.batches):
            rows = torch.randint(len(dataset), (args.batch_size,), generator=generator).tolist()
            batch = collate_windows(dataset.__getitems__(rows))
            step(model, batch, torch.Generator().manual_seed(args.seed * 100_003 + index))
    for norm in norms:
        norm.momentum = model.config.batch_norm_momentum
    model.eval().save_pretrained(args.output)
    print(f"re-estimated {len(norms)} BatchNorms over {args.batches} x {args.batch_size} windows -> {args.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
