"""Partial 2D -> 3D with both legs hidden, per S9 action: where the legs error is.

    python docs/training_runs/s10/legs_by_action.py OUT.json MODEL [MODEL ...] [--frame-step 50] [--flip-test]

Ground-truth 2D, every ``--frame-step``-th frame, centre-frame MPJPE over all joints (mm), with both legs hidden
and with nothing hidden, per action (the two recordings of an action pooled). Prints one line per model and action
and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from mpm_hf import MPMForPoseCompletion
from mpm_hf.data.corpora import load_corpus
from mpm_hf.evaluation import evaluate_completion

ROWS = {"legs": (("legs",), 0), "none": ((), 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data-dir", default="../shared/data/h36m")
    parser.add_argument("--frame-step", type=int, default=50)
    parser.add_argument("--flip-test", action="store_true")
    args = parser.parse_args()
    groups = defaultdict(list)
    for sequence in load_corpus("h36m", args.data_dir, split="test", subjects=["S9"], keypoints="gt"):
        groups[sequence["action"].split(" ")[0]].append(sequence)
    results = {}
    for path in args.models:
        model = MPMForPoseCompletion.from_pretrained(path).eval()
        results[path] = {}
        for action, sequences in sorted(groups.items()):
            scores = evaluate_completion(model, sequences, "2d", ROWS, frame_step=args.frame_step, progress=False,
                                         flip_test=args.flip_test)
            results[path][action] = {key: round(value, 1) for key, value in scores.items()}
            print(path, action, results[path][action], flush=True)
    args.output.write_text(json.dumps({"frame_step": args.frame_step, "flip_test": args.flip_test,
                                       "mpjpe_by_action": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
