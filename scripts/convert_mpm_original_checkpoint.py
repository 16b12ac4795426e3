"""Convert a released MPM checkpoint (``.pth``) into a ``save_pretrained`` folder.

    python scripts/convert_mpm_original_checkpoint.py --checkpoint model_243.pth --task lifting \
        --num-frames 243 --num-layers 4 [--refine model_243_refine.pth] --output converted/mpm-h36m-243

``--task pretrain`` converts the stage-I ``MPMmask2`` model (-> ``MPMForMaskedPoseModeling``), ``--task lifting``
the stage-II ``Model`` (-> ``MPMForPoseLifting``). Unknown or missing tensors and shape mismatches stop the
conversion with one list of them (release names). ``--output`` must be a folder (created when missing), not a file.
Errors print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mpm_hf.conversion import convert_released_checkpoint, load_released_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="released .pth (state dict or a dict holding one)")
    parser.add_argument("--task", choices=("pretrain", "lifting"), required=True)
    parser.add_argument("--num-frames", type=int, default=243)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--refine", default=None, help="released refine module .pth (lifting only)")
    parser.add_argument("--downsample", type=int, default=None,
                        help="tds the model was trained with (default: 2 for 17-joint Human3.6M models, 1 for "
                             "16-joint 3DHP ones)")
    parser.add_argument("--output", required=True, help="output folder")
    args = parser.parse_args(argv)
    try:
        if Path(args.output).is_file():
            raise ValueError(f"--output {args.output}: expected a folder, got an existing file")
        state_dict = load_released_checkpoint(args.checkpoint)
        refine = load_released_checkpoint(args.refine) if args.refine else None
        if refine is not None and args.task != "lifting":
            raise ValueError("--refine: only the lifting model has a refine module")
        model, report = convert_released_checkpoint(
            state_dict, args.task, args.num_frames, args.num_layers, refine, downsample=args.downsample or 1
        )
        if args.downsample is None:  # the release's tds: Human3.6M 2, MPI-INF-3DHP 1
            model.config.downsample = 2 if model.config.num_joints == 17 else 1
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model.save_pretrained(args.output)
    print(f"converted {len(state_dict)} tensors -> {type(model).__name__} in {args.output}")
    if report.dropped:
        print(f"dropped {len(report.dropped)} tensors the release never uses in forward: {report.dropped}")
    if report.initialised:
        print(f"initialised {len(report.initialised)} tensors the release does not have: {report.initialised}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
