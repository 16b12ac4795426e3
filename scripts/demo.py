"""The main job end to end: lift real 2D keypoints to 3D with the default model, animate, and evaluate it.

    python scripts/demo.py            # what `make demo` runs

1. ``pipeline("pose-lifting")``: the packaged default lifting model (or ``--model``).
2. Lifts the real in-the-wild HRNet sequence in ``../shared/data/inthewild/`` (or, when that folder is absent, a
   sequence the package generates), writes ``outputs/demo/poses_3d.npz`` and ``outputs/demo/animation.gif``.
3. Evaluates the model on a subsample of Human3.6M S9 (when ``../shared/data/h36m`` exists) with ground-truth 2D
   and with the real Stacked-Hourglass detections (whose neck/nose joint is missing: fed masked), and prints
   MPJPE / P-MPJPE in millimetres (per-frame centred-window protocol).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
INTHEWILD_IMAGE_SIZE = (1280, 720)  # the HRNet sample's person box is centred on a 1280x720 frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a lifting model folder (default: the packaged default)")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--output-dir", default=str(REPO_ROOT / "outputs" / "demo"))
    parser.add_argument("--frame-step", type=int, default=10, help="S9 subsample: every n-th frame")
    parser.add_argument("--max-frames", type=int, default=92, help="frames in the animation")
    args = parser.parse_args(argv)

    from transformers import pipeline

    from mpm_hf import MPMForPoseLifting
    from mpm_hf.data.synthetic import synthetic_sequences
    from mpm_hf.runtime import keep_freed_memory
    from mpm_hf.visualization import render_animation

    keep_freed_memory()  # reuse activation memory between batches (see mpm_hf.runtime)
    started = time.time()
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    from mpm_hf.defaults import default_model_path

    location = args.model or default_model_path("pose-lifting")
    if location is None or not Path(location).is_dir():
        print(f"error: no lifting model at {location} (the packaged default is missing: pass --model)", file=sys.stderr)
        return 1
    model = MPMForPoseLifting.from_pretrained(location).eval()
    lifter = pipeline("pose-lifting", model=model)
    print(f"[demo] model {location}: {model.config.num_frames} frames, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, input normalisation "
          f"{model.config.input_normalization!r}")

    data_dir = Path(args.data_dir)
    wild = data_dir / "inthewild" / "mhformer_demo_sample_video_keypoints.npz"
    if wild.is_file():
        keypoints = np.load(wild)["reconstruction"][0]
        result = lifter(keypoints, image_size=INTHEWILD_IMAGE_SIZE, keypoint_format="h36m", flip_test=True)
        source = f"{wild} (real HRNet keypoints, {len(keypoints)} frames)"
        keypoints_2d = result["keypoints_2d"]
    else:
        sequence = synthetic_sequences(num_sequences=1, num_frames=120, seed=7)[0]
        keypoints = sequence["keypoints_2d"]
        result = lifter(keypoints, normalized=True, flip_test=True)
        source = "a generated sequence (../shared/data/inthewild is absent)"
        keypoints_2d = keypoints
    np.savez(output_dir / "poses_3d.npz", poses_3d=result["poses_3d"], keypoints_2d=keypoints_2d,
             missing=result["missing"], joint_names=np.array(result["joint_names"]))
    animation = render_animation(result["poses_3d"], keypoints_2d, output_dir / "animation.gif", fps=25,
                                 max_frames=args.max_frames, title="MPM lifting", progress=False,
                                 missing=result["missing"])
    print(f"[demo] lifted {source} -> {output_dir / 'poses_3d.npz'}, animation {animation}")

    summary = {"input": source, "poses_3d": str(output_dir / "poses_3d.npz"), "animation": str(animation)}
    h36m = data_dir / "h36m"
    if (h36m / "data_3d_h36m.npz").is_file():
        from mpm_hf.data.h36m import load_h36m_arrays
        from mpm_hf.evaluation import evaluate_lifting

        for keypoints_name, label in (("gt", "ground-truth 2D"), ("sh_pt_mpii", "Stacked-Hourglass detections")):
            sequences = load_h36m_arrays(h36m, subjects=("S9",), keypoints=keypoints_name)
            report = evaluate_lifting(model, sequences, mode="per_frame", frame_step=args.frame_step,
                                      progress=False)
            summary[keypoints_name] = {k: report[k] for k in ("mpjpe", "p_mpjpe", "num_frames")}
            print(f"[demo] S9, {label}: MPJPE {report['mpjpe']:.1f} mm, P-MPJPE {report['p_mpjpe']:.1f} mm "
                  f"({report['num_frames']} frames, every {args.frame_step}th, centred windows)")
    else:
        print(f"[demo] {h36m} not found: skipping the Human3.6M evaluation")
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"[demo] done in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
