"""Parameters and FLOPs per module of an MPM lifting model (the paper's Table 5 comparison).

    python -m mpm_hf.info --num-frames 243 [--num-layers 4] [--hidden-size 256] [--model DIR]

FLOPs are counted by ``torch.utils.flop_counter`` on one window (batch 1, inference) and reported as
2 x multiply-accumulates, the convention of the paper's table (MPM: 7.8 M parameters, 2387 M FLOPs at 243 frames).
"""

from __future__ import annotations

import argparse
from collections import OrderedDict

import torch
from torch.utils.flop_counter import FlopCounterMode

from .configuration_mpm import MPMConfig
from .modeling_mpm import MPMForPoseLifting

GROUPS = OrderedDict(
    [
        ("2D encoder", ("mpm.encoder_2d",)),
        ("3D encoder (unused when lifting)", ("mpm.encoder_3d",)),
        ("shared spatial MLP", ("mpm.spatial_mlp",)),
        ("shared temporal transformer", ("mpm.temporal_transformer",)),
        ("strided transformer", ("strided_transformer",)),
        ("centre + sequence heads", ("centre_head", "sequence_head")),
        ("mask tokens", ("mpm.spatial_mask_token",)),
        ("refine", ("refine",)),
    ]
)


def count_parameters(model: torch.nn.Module) -> OrderedDict[str, int]:
    """Parameters per architectural group (see ``GROUPS``) plus ``"total"``."""
    counts: OrderedDict[str, int] = OrderedDict((name, 0) for name in GROUPS)
    for name, parameter in model.named_parameters():
        for group, prefixes in GROUPS.items():
            if name.startswith(prefixes):
                counts[group] += parameter.numel()
                break
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts


@torch.no_grad()
def count_flops(model: MPMForPoseLifting) -> OrderedDict[str, int]:
    """FLOPs of one inference window per group, and ``"total"``."""
    model.eval()
    inputs = torch.zeros(1, model.config.num_frames, model.config.num_joints, 2)
    counter = FlopCounterMode(display=False)
    with counter:
        model(poses=inputs)
    per_module = counter.get_flop_counts()
    counts: OrderedDict[str, int] = OrderedDict()
    for group, prefixes in GROUPS.items():
        keys = [f"MPMForPoseLifting.{prefix}" for prefix in prefixes]
        counts[group] = sum(int(sum(per_module.get(key, {}).values())) for key in keys)
    counts["total"] = int(counter.get_total_flops())
    return counts


def table(model: MPMForPoseLifting) -> str:
    parameters, flops = count_parameters(model), count_flops(model)
    lines = ["| module | parameters | FLOPs / window |", "|---|---:|---:|"]
    for group in [*GROUPS, "total"]:
        if group != "total" and parameters[group] == 0 and flops.get(group, 0) == 0:
            continue
        lines.append(f"| {group} | {parameters[group] / 1e6:.3f} M | {flops.get(group, 0) / 1e6:.1f} M |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a saved lifting model (overrides the size flags)")
    parser.add_argument("--num-frames", type=int, default=243)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--intermediate-size", type=int, default=512)
    args = parser.parse_args(argv)
    if args.model:
        model = MPMForPoseLifting.from_pretrained(args.model)
    else:
        config = MPMConfig(num_frames=args.num_frames, num_hidden_layers=args.num_layers,
                           hidden_size=args.hidden_size, intermediate_size=args.intermediate_size)
        model = MPMForPoseLifting(config)
    config = model.config
    print(f"MPM lifting, {config.num_frames} frames, {config.num_hidden_layers} temporal layers, "
          f"C={config.hidden_size}, FFN={config.intermediate_size}, strides {config.strides}")
    print("FLOPs = 2 x multiply-accumulates, batch 1, inference\n")
    print(table(model))


if __name__ == "__main__":
    main()
