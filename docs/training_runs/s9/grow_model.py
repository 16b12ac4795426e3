"""Grow a trained MPM model folder into a larger one computing the same function (``mpm_hf.training.growth``).

    python docs/training_runs/s9/grow_model.py SRC DST [--add-layers 2] [--intermediate-size 512]
        [--spatial-hidden-size 512]

The grown model is checked against the source on random input (eval mode) before it is saved.
"""

from __future__ import annotations

import argparse
import sys

import torch

import mpm_hf
from mpm_hf import MPMConfig
from mpm_hf.training.growth import grow_model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    parser.add_argument("destination")
    parser.add_argument("--add-layers", type=int, default=0)
    parser.add_argument("--intermediate-size", type=int, default=None)
    parser.add_argument("--spatial-hidden-size", type=int, default=None)
    args = parser.parse_args(argv)

    config = MPMConfig.from_pretrained(args.source)
    model = getattr(mpm_hf, config.architectures[0]).from_pretrained(args.source).eval()
    sizes = {"num_hidden_layers": config.num_hidden_layers + args.add_layers}
    if args.intermediate_size is not None:
        sizes["intermediate_size"] = args.intermediate_size
    if args.spatial_hidden_size is not None:
        sizes["spatial_hidden_size"] = args.spatial_hidden_size
    grown = grow_model(model, **sizes)

    keypoints = torch.randn(4, config.num_frames, config.num_joints, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        difference = (model(0.3 * keypoints).poses_3d - grown(0.3 * keypoints).poses_3d).abs().max().item()
    print(f"parameters {model.num_parameters():,} -> {grown.num_parameters():,}; max |difference| {difference:.2e}")
    if difference > 1e-5:
        sys.exit(f"the grown model does not reproduce the source (max difference {difference})")
    grown.save_pretrained(args.destination)


if __name__ == "__main__":
    main()
