"""What a long window costs on short inputs: S9 cut into clips of a few seconds, each clip scored on its own.

    python docs/training_runs/s10/short_clips.py OUT.json MODEL [MODEL ...] [--lengths 100,250,500,0]
        [--frame-step 10] [--occlusions legs,none]

A model whose 27-frame window spans 313 source frames (tds 12) sees mostly edge padding in a 2-second clip
(windows read past a clip's ends repeat its first / last frame, as at the ends of any sequence). Each S9 sequence
(ground-truth 2D) is cut into consecutive clips of ``L`` frames at 50 fps (the last one shorter; ``0``: the whole
sequence), and every ``--frame-step``-th frame of every clip is scored. Completion models: partial 2D -> 3D
MPJPE (mm) per ``--occlusions`` row; lifting models: MPJPE. Prints a table and writes the JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mpm_hf import MPMConfig, MPMForPoseCompletion, MPMForPoseLifting
from mpm_hf.data.corpora import load_corpus
from mpm_hf.evaluation import evaluate_completion, evaluate_lifting, parse_occlusion_settings

FPS = 50.0


def cut(sequences: list[dict], length: int) -> list[dict]:
    """Each sequence cut into consecutive clips of ``length`` frames (``0``: kept whole); per-frame arrays only."""
    if length == 0:
        return sequences
    clips = []
    for sequence in sequences:
        frames = len(sequence["poses_3d"])
        for start in range(0, frames, length):
            clips.append({key: value[start:start + length] if key in ("keypoints_2d", "valid", "poses_3d") else value
                          for key, value in sequence.items()})
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data-dir", default="../shared/data/h36m")
    parser.add_argument("--lengths", default="100,250,500,0", help="clip lengths in frames at 50 fps (0: whole)")
    parser.add_argument("--frame-step", type=int, default=10)
    parser.add_argument("--occlusions", default="legs,none")
    args = parser.parse_args()
    sequences = load_corpus("h36m", args.data_dir, split="test", subjects=["S9"], keypoints="gt")
    lengths = [int(value) for value in args.lengths.split(",")]
    results = []
    for path in args.models:
        completion = MPMConfig.from_pretrained(path).architectures[0] == "MPMForPoseCompletion"
        model = (MPMForPoseCompletion if completion else MPMForPoseLifting).from_pretrained(path).eval()
        for length in lengths:
            clips = cut(sequences, length)
            if completion:
                scores = evaluate_completion(model, clips, "2d", parse_occlusion_settings(args.occlusions),
                                             frame_step=args.frame_step, progress=False)
            else:
                scores = {"mpjpe": evaluate_lifting(model, clips, frame_step=args.frame_step, progress=False)["mpjpe"]}
            row = {"model": path, "tds": model.config.downsample,
                   "window_seconds": round(((model.config.num_frames - 1) * model.config.downsample + 1) / FPS, 2),
                   "clip_frames": length, "clips": len(clips),
                   **{key: round(value, 2) for key, value in scores.items()}}
            print(json.dumps(row), flush=True)
            results.append(row)
    args.output.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
