"""Accuracy of lifting video recorded at other frame rates than the model's (``fps=`` of the pipeline).

What is measured: Human3.6M sequences (default S9 "Walking", every camera, 50 fps) are subsampled to lower frame
rates (every 2nd frame: 25 fps, every 3rd: 16.7 fps) and lifted in the per-frame protocol three ways: at 50 fps
(the reference, scored on the same kept frames), at the lower rate *with* ``fps`` given (windows keep the frame
spacing the model was trained on: a whole-number step or resampling, :mod:`mpm_hf.frame_rate`), and *without* it
(the model's window step applied to the subsampled frames: windows span 2x / 3x the time it was trained on).
MPJPE / P-MPJPE in mm on the kept frames.

Usage::

    python benchmarks/bench_frame_rate.py --model pretrained/mpm-h36m-27f --threads 1 --json frame_rate.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_model import add_runtime_arguments, start_run, write_json  # noqa: E402
from bench_pipeline import add_model_source_arguments, build_model  # noqa: E402

from mpm_hf.data.h36m import load_h36m_arrays  # noqa: E402
from mpm_hf.inference import lift_sequence  # noqa: E402
from mpm_hf.metrics import MetricAccumulator  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/h36m"), help="Human3.6M folder")
    parser.add_argument("--subjects", default="S9", help="comma-separated subjects (S9)")
    parser.add_argument("--actions", default="Walking", help="comma-separated actions (Walking)")
    parser.add_argument("--keypoints", default="gt", help="2D source (gt)")
    parser.add_argument("--source-fps", type=float, default=50.0, help="frame rate of the data (50)")
    parser.add_argument("--subsample", default="2,3", help="comma-separated frame steps to test (2,3)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--model-fps", type=float, default=None,
                        help="frame rate the model was trained at, for checkpoints whose config records none")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    add_model_source_arguments(parser)
    add_runtime_arguments(parser)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser.parse_args(argv)


def score(model, sequences: list[dict], step: int, fps: float | None, batch_size: int) -> dict:
    accumulator = MetricAccumulator()
    for sequence in sequences:
        keypoints = sequence["keypoints_2d"][::step]
        missing = ~sequence["valid"][::step]
        predicted = lift_sequence(model, keypoints, missing, batch_size=batch_size, fps=fps)
        accumulator.update(predicted, sequence["poses_3d"][::step], actions=sequence["action"])
    summary = accumulator.summary()
    return {"mpjpe_mm": summary["mpjpe"], "p_mpjpe_mm": summary["p_mpjpe"], "num_frames": summary["num_frames"]}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    info = start_run(args, torch.device(args.device))
    sequences = load_h36m_arrays(args.data_dir, subjects=args.subjects.split(","), keypoints=args.keypoints,
                                 actions=args.actions.split(","))
    model, description = build_model(args)
    if args.model_fps is not None:
        model.config.fps = args.model_fps
    rows = []
    for step in (int(s) for s in args.subsample.split(",")):
        fps = args.source_fps / step
        started = time.perf_counter()
        reference = _kept_frames_reference(model, sequences, step, args.batch_size)
        with_fps = score(model, sequences, step, fps, args.batch_size)
        without = score(model, sequences, step, None, args.batch_size)
        rows.append({"step": step, "fps": fps, "reference_50fps": reference, "with_fps": with_fps,
                     "without_fps": without, "seconds": time.perf_counter() - started})
    print(f"# frame-rate benchmark, {info['date']}, torch {info['torch']}, {info['threads']} threads")
    print(f"model: {description} (trained at {getattr(model.config, 'fps', None)} fps, tds "
          f"{model.config.downsample})")
    print(f"data: Human3.6M {args.subjects} {args.actions}, {args.keypoints} 2D, {len(sequences)} sequences\n")
    print("| input fps | frames scored | at 50 fps, same frames (mm) | fps given (mm) | fps not given (mm) | "
          "fps given - 50 fps (mm) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['fps']:.1f} | {row['with_fps']['num_frames']} | {row['reference_50fps']['mpjpe_mm']:.2f} | "
              f"{row['with_fps']['mpjpe_mm']:.2f} | {row['without_fps']['mpjpe_mm']:.2f} | "
              f"{row['with_fps']['mpjpe_mm'] - row['reference_50fps']['mpjpe_mm']:+.2f} |")
    output = {"machine": info, "model": description, "subjects": args.subjects, "actions": args.actions,
              "keypoints": args.keypoints, "rows": rows}
    write_json(args, output)
    return output


def _kept_frames_reference(model, sequences: list[dict], step: int, batch_size: int) -> dict:
    """The model at the data's own rate, scored on the frames the subsampled input keeps."""
    accumulator = MetricAccumulator()
    for sequence in sequences:
        frames = np.arange(0, len(sequence["poses_3d"]), step)
        predicted = lift_sequence(model, sequence["keypoints_2d"], ~sequence["valid"], batch_size=batch_size,
                                  frames=frames)
        accumulator.update(predicted, sequence["poses_3d"][frames], actions=sequence["action"])
    summary = accumulator.summary()
    return {"mpjpe_mm": summary["mpjpe"], "p_mpjpe_mm": summary["p_mpjpe"], "num_frames": summary["num_frames"]}


if __name__ == "__main__":
    main()
