"""Completion demo: a real Human3.6M S9 clip with a limb hidden, completed by MPM, beside the ground truth.

    python scripts/completion_demo.py --output docs/figures/completion-demo.gif

The limb (``--hide``, default the left arm) is hidden in every frame (tube masking, the paper's Table 4 setting)
of the 3D input (``--modality 3d``, partial 3D -> 3D) or of the 2D input (``--modality 2d``, partial 2D -> 3D);
the completion model predicts the whole sequence. The animation draws the ground truth (left) and the completion
(right) in the same box; the hidden joints are hollow orange rings with dashed bones. Prints the error of the
hidden joints and of all joints (mm). Needs ``../shared/data/h36m``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mpm_hf import MPMForPoseCompletion
from mpm_hf.completion import complete_sequence
from mpm_hf.data.h36m import load_h36m_arrays
from mpm_hf.defaults import default_model_path
from mpm_hf.masking import resolve_joints
from mpm_hf.visualization import render_comparison


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="completion model folder (default: the packaged one)")
    parser.add_argument("--data-dir", default="../shared/data/h36m")
    parser.add_argument("--action", default="Walking 1", help="S9 action (Walking 1)")
    parser.add_argument("--camera", type=int, default=0, help="camera index 0-3 (0)")
    parser.add_argument("--start", type=int, default=0, help="first frame (50 fps)")
    parser.add_argument("--frames", type=int, default=150, help="frames to render (150 = 3 s)")
    parser.add_argument("--hide", default="left_arm", help="body part hidden in every frame (left_arm)")
    parser.add_argument("--modality", choices=("2d", "3d"), default="3d")
    parser.add_argument("--output", type=Path, default=Path("outputs/completion-demo.gif"))
    parser.add_argument("--fps", type=float, default=25.0, help="frames per second of the animation (25)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    model_location = args.model or default_model_path("pose-completion")
    if model_location is None:
        parser.error("--model: this installation has no packaged completion model; name one")
    model = MPMForPoseCompletion.from_pretrained(model_location).eval()
    sequences = load_h36m_arrays(args.data_dir, subjects=["S9"], actions=[args.action])
    cameras = [s for s in sequences if s["action"] == args.action]
    if not cameras:
        parser.error(f"--action: S9 has no {args.action!r}")
    sequence = cameras[args.camera]
    frames = slice(args.start, args.start + args.frames)
    target = sequence["poses_3d"]
    source = sequence["poses_3d"] if args.modality == "3d" else sequence["keypoints_2d"]
    missing = None if args.modality == "3d" else ~sequence["valid"]
    # the whole sequence is completed (windows need context), the clip is rendered
    # the given joints as given, the model's output at the hidden ones (what pipeline("pose-completion") returns)
    completed = complete_sequence(model, source, missing=missing, occluded_joints=args.hide, keep_visible=True)
    hidden_joints = resolve_joints(args.hide, target.shape[1])
    errors = np.linalg.norm(completed[frames] - target[frames], axis=-1) * 1000
    result = {"hidden_joints_mm": float(errors[:, hidden_joints].mean()), "all_joints_mm": float(errors.mean())}
    print(f"S9 {args.action} camera {sequence['camera']}, frames {frames.start}-{frames.stop - 1}, "
          f"{args.hide} hidden ({args.modality} input): hidden joints {result['hidden_joints_mm']:.1f} mm, "
          f"all joints {result['all_joints_mm']:.1f} mm")
    hidden = np.zeros(target.shape[1], dtype=bool)
    hidden[hidden_joints] = True
    written = render_comparison(
        target[frames], completed[frames], args.output, hidden=hidden, fps=args.fps,
        titles=("ground truth", f"completed ({args.hide.replace('_', ' ')} hidden)"),
        title=f"MPM pose completion, Human3.6M S9 {args.action} ({args.modality.upper()} input)",
        progress=not args.no_progress,
    )
    print(f"wrote {written}")
    return result


if __name__ == "__main__":
    main()
