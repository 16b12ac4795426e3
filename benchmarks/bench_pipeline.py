"""Throughput of the ``"pose-lifting"`` pipeline on one long sequence, in both modes, against a naive loop.

What is measured (frames of 3D output per second, end to end: input checks, conversion, windowing, the model,
stitching):

- **pipeline, sequence mode** (``mode="sequence"``): non-overlapping windows, the sequence head predicts all
  their frames; about ``T`` times fewer windows than frames; ``--batch-size`` windows per forward pass.
- **pipeline, per-frame mode** (``mode="per_frame"``, the paper's protocol): one window centred on every frame
  (``config.downsample`` frame step inside it, edge-replicated), the strided head predicts its centre;
  ``--batch-size`` windows per forward pass.
- **naive loop**: what a straightforward script does: a Python loop over the output frames, one centred window
  per frame, ``model(poses=window[None])`` with batch 1 under ``torch.inference_mode``, keep the centre frame.
  Too slow for the whole sequence, so it is timed on ``--naive-frames`` centres spread evenly over it and its
  frames/s is **extrapolated** (its cost is the same for every frame). Its outputs are checked against the
  per-frame pipeline's at the same frames (they must agree to float rounding).

Per-frame mode with a 243-frame model is also slow on a CPU: ``--per-frame-frames N`` times it on the first
``N`` frames only and extrapolates (its cost is linear in the number of frames); the output says so.

Each figure is the median of ``--repeats`` timed runs, the variants interleaved in rotating order inside each
repeat (as in ``bench_model.py``). "x naive" is the median over repeats of the paired ratio (naive seconds per
frame / variant seconds per frame, same repeat).

Usage::

    python benchmarks/bench_pipeline.py --threads 1                       # 27-frame small config, 10,000 frames
    python benchmarks/bench_pipeline.py --num-frames 243 --per-frame-frames 512 --naive-frames 100 --threads 1
    python benchmarks/bench_pipeline.py --model pretrained/mpm-h36m-27f --input keypoints.npz --json out.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_model import add_runtime_arguments, start_run, write_json  # noqa: E402
from transformers import pipeline  # noqa: E402

import mpm_hf  # noqa: E402, F401  (registers the "pose-lifting" pipeline)
from mpm_hf.data.synthetic import synthetic_sequences  # noqa: E402
from mpm_hf.modeling_mpm import MPMConfig, MPMForPoseLifting  # noqa: E402

TARGET_SEQUENCE_X_NAIVE = 100.0

# Random-initialised configurations (the timings do not depend on the weights).
CONFIGS = {
    # the shipped small 27-frame configuration (pretrained/mpm-h36m-27f, runs/lifting-*-27f)
    27: dict(num_frames=27, hidden_size=128, intermediate_size=256, num_hidden_layers=3, downsample=2),
    # the released 243-frame configuration (MPMConfig defaults: 256 channels, FFN 512, 4 layers, strides [3] * 5)
    243: dict(num_frames=243),
}


def add_model_source_arguments(parser: argparse.ArgumentParser) -> None:
    """``--num-frames`` (a random-initialised configuration), ``--model`` (a saved one) and ``--fuse``."""
    parser.add_argument(
        "--num-frames",
        type=int,
        choices=sorted(CONFIGS),
        default=27,
        help="window length of the random-initialised config (27: shipped small, 243: released)",
    )
    parser.add_argument("--model", type=Path, default=None, help="a saved MPMForPoseLifting folder instead")
    parser.add_argument("--fuse", action="store_true", help="model.fuse() first")


def build_model(args: argparse.Namespace) -> tuple[MPMForPoseLifting, str]:
    if args.model is not None:
        model = MPMForPoseLifting.from_pretrained(args.model)
        description = f"{args.model}"
    else:
        torch.manual_seed(args.seed)
        model = MPMForPoseLifting(MPMConfig(**CONFIGS[args.num_frames]))
        description = f"random init, {args.num_frames}-frame config"
    model.to(args.device).eval()
    if args.fuse:
        model.fuse()
        description += ", fused"
    c = model.config
    description += (
        f" (T={c.num_frames}, hidden {c.hidden_size}, FFN {c.intermediate_size}, {c.num_hidden_layers} layers, "
        f"strides {c.strides}, downsample {c.downsample})"
    )
    return model, description


def load_keypoints(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    if args.input is None:
        keypoints = synthetic_sequences(num_sequences=1, num_frames=args.frames, seed=args.seed)[0]["keypoints_2d"]
        return keypoints, f"synthetic, {args.frames} frames (seed {args.seed})"
    with np.load(args.input, allow_pickle=False) as data:
        key = "keypoints_2d" if "keypoints_2d" in data.files else data.files[0]
        keypoints = np.asarray(data[key], dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[2] != 2:
        raise SystemExit(
            f"--input: expected an array (frames, joints, 2) of normalised keypoints, got {keypoints.shape}"
        )
    keypoints = keypoints[: args.frames]
    return keypoints, f"{args.input}[{key!r}], first {len(keypoints)} frames"


def naive_loop(model: MPMForPoseLifting, keypoints: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """One centred window per output frame, batch 1 (the loop a user would write without the batched helpers)."""
    config = model.config
    window, step = config.num_frames, config.downsample
    device = next(model.parameters()).device
    offsets = (np.arange(window) - window // 2) * step
    outputs = []
    with torch.inference_mode():
        for centre in centres:
            index = np.clip(centre + offsets, 0, len(keypoints) - 1)
            poses = torch.from_numpy(keypoints[index])[None].to(device)
            outputs.append(model(poses=poses).poses_3d[0, 0].cpu().numpy())
    return np.stack(outputs)


def time_variants(
    runs: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Seconds of every run in each repeat, interleaved in rotating order; also the last output of each."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    outputs: dict[str, object] = {}
    names = list(runs)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            outputs[name] = runs[name]()
            samples[name].append(time.perf_counter() - start)
    return samples, outputs


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=10_000, help="length of the sequence (10000)")
    add_model_source_arguments(parser)
    parser.add_argument(
        "--input",
        type=Path,
        default=None,
        help="npz with 'keypoints_2d' (frames, 17, 2) normalised screen coordinates (default synthetic)",
    )
    parser.add_argument("--batch-size", type=int, default=256, help="windows per forward pass of the pipeline (256)")
    parser.add_argument("--naive-frames", type=int, default=200, help="frames the naive loop is timed on (200)")
    parser.add_argument(
        "--per-frame-frames",
        type=int,
        default=None,
        help="time per-frame mode on the first N frames only and extrapolate (default: all)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (3)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the model runs (cpu)")
    add_runtime_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--check-tolerance-mm", type=float, default=0.01, help="max |naive - per-frame pipeline| allowed, mm (0.01)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    info = start_run(args, device)

    model, model_description = build_model(args)
    keypoints, input_description = load_keypoints(args)
    num_frames = len(keypoints)
    window, step = model.config.num_frames, model.config.downsample
    lifter = pipeline("pose-lifting", model=model, device=device)

    per_frame_frames = min(args.per_frame_frames or num_frames, num_frames)
    naive_centres = np.unique(np.linspace(0, num_frames - 1, min(args.naive_frames, num_frames)).round().astype(int))
    notes = [
        f"naive loop: timed on {len(naive_centres)} of {num_frames} frames (centres spread evenly), frames/s "
        "extrapolated to the whole sequence (same cost per frame)",
    ]
    if per_frame_frames < num_frames:
        notes.append(
            f"pipeline per_frame: timed on the first {per_frame_frames} of {num_frames} frames, frames/s "
            "extrapolated to the whole sequence (one window per frame: cost linear in frames)"
        )

    def run_pipeline(mode: str, frames: int) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            return lifter(keypoints[:frames], normalized=True, mode=mode, batch_size=args.batch_size)["poses_3d"]

        return run

    runs = {
        "pipeline sequence": run_pipeline("sequence", num_frames),
        "pipeline per_frame": run_pipeline("per_frame", per_frame_frames),
        "naive loop (batch 1)": lambda: naive_loop(model, keypoints, naive_centres),
    }
    timed_frames = {
        "pipeline sequence": num_frames,
        "pipeline per_frame": per_frame_frames,
        "naive loop (batch 1)": len(naive_centres),
    }
    # Warm-up (first-call allocations, pipeline set-up) on a short piece.
    warm = min(num_frames, 4 * window * step)
    lifter(keypoints[:warm], normalized=True, mode="sequence", batch_size=args.batch_size)
    lifter(keypoints[:warm], normalized=True, mode="per_frame", batch_size=args.batch_size)
    naive_loop(model, keypoints, naive_centres[:3])

    samples, outputs = time_variants(runs, args.repeats)
    info["load_average_end"] = os.getloadavg()

    # Correctness: the naive loop and the per-frame pipeline compute the same centred windows.
    reach = (window // 2) * step
    covered = (
        naive_centres < per_frame_frames
        if per_frame_frames == num_frames
        else (naive_centres + reach < per_frame_frames)
    )
    pipeline_poses = outputs["pipeline per_frame"]
    if covered.any():
        difference_mm = 1000.0 * float(
            np.abs(outputs["naive loop (batch 1)"][covered] - pipeline_poses[naive_centres[covered]]).max()
        )
    else:
        difference_mm = float("nan")
    if not difference_mm <= args.check_tolerance_mm and covered.any():
        raise RuntimeError(f"naive loop and per-frame pipeline disagree: max |difference| {difference_mm:.4g} mm")

    seconds_per_frame = {name: [s / timed_frames[name] for s in samples[name]] for name in runs}
    naive = "naive loop (batch 1)"
    rows = []
    for name in runs:
        median = statistics.median(samples[name])
        paired = statistics.median(
            n / v for n, v in zip(seconds_per_frame[naive], seconds_per_frame[name], strict=True)
        )
        rows.append(
            {
                "variant": name,
                "frames_timed": timed_frames[name],
                "extrapolated": timed_frames[name] < num_frames,
                "seconds_median": median,
                "samples_s": samples[name],
                "frames_per_s": timed_frames[name] / median,
                "best_frames_per_s": timed_frames[name] / min(samples[name]),
                "seconds_for_sequence": median * num_frames / timed_frames[name],
                "x_naive": paired,
            }
        )
    by_name = {row["variant"]: row for row in rows}
    sequence_x = by_name["pipeline sequence"]["x_naive"]
    per_frame_x = by_name["pipeline per_frame"]["x_naive"]

    print(
        f"# pose-lifting pipeline benchmark, {info['date']}, {info.get('cpu', '')}, torch {info['torch']}, "
        f"{info['threads']} threads, device {device} {info.get('gpu', '')}, "
        f"load average {info['load_average_start'][0]:.2f} -> {info['load_average_end'][0]:.2f}"
    )
    print(f"model: {model_description}")
    print(f"input: {input_description}; pipeline batch size {args.batch_size} windows; {args.repeats} repeats\n")
    print("| variant | frames timed | s (median) | frames/s (median) | best | s for the whole sequence | x naive |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        mark = " (extrapolated)" if row["extrapolated"] else ""
        print(
            f"| {row['variant']} | {row['frames_timed']} | {row['seconds_median']:.3f} | "
            f"{row['frames_per_s']:.1f}{mark} | {row['best_frames_per_s']:.1f} | "
            f"{row['seconds_for_sequence']:.1f}{mark} | {row['x_naive']:.1f} |"
        )
    status = "met" if sequence_x >= TARGET_SEQUENCE_X_NAIVE else "NOT met"
    print(
        f"\nsequence mode / naive: {sequence_x:.1f}x (target >= {TARGET_SEQUENCE_X_NAIVE:.0f}x: {status}); "
        f"per-frame mode / naive: {per_frame_x:.1f}x"
    )
    print(
        f"check: naive loop vs per-frame pipeline at {int(covered.sum())} frames: max |difference| "
        f"{difference_mm:.2g} mm"
    )
    for note in notes:
        print(f"note: {note}")

    result = {
        "machine": info,
        "model": model_description,
        "input": input_description,
        "num_frames": num_frames,
        "rows": rows,
        "sequence_x_naive": sequence_x,
        "per_frame_x_naive": per_frame_x,
        "target_sequence_x_naive": TARGET_SEQUENCE_X_NAIVE,
        "target_met": sequence_x >= TARGET_SEQUENCE_X_NAIVE,
        "check_max_difference_mm": difference_mm,
        "check_frames": int(covered.sum()),
        "notes": notes,
    }
    write_json(args, result)
    return result


if __name__ == "__main__":
    main()
