"""Average the weights of several states of one training run into one model folder.

    python scripts/average_checkpoints.py runs/completion/checkpoints/checkpoint-{9000,9500,10000} runs/completion \
        --output runs/completion-averaged

Each FOLDER is a ``save_pretrained`` folder (a run's final model or one of its ``checkpoints/checkpoint-N``
states); the output gets the last folder's config and the mean weights (:mod:`mpm_hf.training.averaging`), loaded
into the head the last folder's config names. Errors print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mpm_hf import modeling_mpm
from mpm_hf.configuration_mpm import MPMConfig
from mpm_hf.training.averaging import average_checkpoints


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", metavar="FOLDER", help="save_pretrained folders of one run")
    parser.add_argument("--output", required=True, help="the folder to write")
    args = parser.parse_args(argv)
    absent = [folder for folder in args.folders if not (Path(folder) / "config.json").is_file()]
    if absent:
        print(f"average_checkpoints: error: FOLDER: no config.json in {absent[0]}", file=sys.stderr)
        return 2
    try:
        config = MPMConfig.from_pretrained(args.folders[-1])
        name = (config.architectures or ["MPMModel"])[0]
        model = average_checkpoints(getattr(modeling_mpm, name), args.folders)
    except (OSError, ValueError, AttributeError) as error:
        print(f"average_checkpoints: error: {error}", file=sys.stderr)
        return 2
    model.save_pretrained(args.output)
    print(f"wrote {args.output}: {name}, the mean of {len(args.folders)} states")
    return 0


if __name__ == "__main__":
    sys.exit(main())
