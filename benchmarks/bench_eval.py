"""Wall time of the Human3.6M evaluation (``mpm_hf.evaluation.evaluate_lifting``) in both lifting modes.

What is measured: ``evaluate_lifting(model, sequences, mode, ...)`` over every (action, camera) sequence of the
chosen subjects (default S9, ground-truth 2D), every ``--frame-step``-th frame (default 1: all frames), in
``"per_frame"`` mode (the paper's protocol: one centred window per evaluated frame, strided head) and
``"sequence"`` mode (the fast mode: windows tiling each sequence at the model's frame step, sequence head; one row
per ``--margins`` value, the context positions shared by neighbouring windows). Reported per mode: frames evaluated
(scored),
frames lifted (the work done: one window per evaluated frame in per-frame mode; every frame of each sequence in
sequence mode, whatever the frame step), lifting seconds (the ``lift_sequence`` calls: the speed-up compares
these), the evaluation call's wall time (with the scoring, which costs the same in both modes; data loading
excluded and reported separately), frames lifted per second, and the MPJPE / P-MPJPE the call returned
(meaningless for a random-initialised model: they only show the call ran).

When the full evaluation is too slow (the 243-frame model in per-frame mode on a CPU), ``--fraction F`` runs it
on an evenly spread subset of the sequences holding about ``F`` of the frames and extrapolates the seconds to all
frames (the cost per frame is the same across sequences); the output says so. One run per mode (an
evaluation is long; run the script again for a second sample).

Usage::

    python benchmarks/bench_eval.py --threads 1                                    # 27-frame config, S9, all frames
    python benchmarks/bench_eval.py --num-frames 243 --fraction 0.02 --threads 1   # extrapolated
    python benchmarks/bench_eval.py --model pretrained/mpm-h36m-27f --json eval.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_model import add_runtime_arguments, start_run, write_json  # noqa: E402
from bench_pipeline import add_model_source_arguments, build_model  # noqa: E402

from mpm_hf.data.h36m import load_h36m_arrays  # noqa: E402
from mpm_hf.evaluation import evaluate_lifting  # noqa: E402
from mpm_hf.inference import default_margin  # noqa: E402


def select_fraction(sequences: list[dict], fraction: float) -> list[dict]:
    """Every k-th sequence, k = round(1 / fraction) (at least one sequence)."""
    if fraction >= 1:
        return sequences
    step = max(1, round(1 / fraction))
    return sequences[step // 2 :: step] or sequences[:1]


def count_frames(sequences: list[dict], frame_step: int) -> int:
    return sum(len(range(0, len(s["poses_3d"]), frame_step)) for s in sequences)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("../shared/data/h36m"),
        help="Human3.6M folder (data_3d_h36m.npz, h36m_cameras.json) (../shared/data/h36m)",
    )
    parser.add_argument("--subjects", default="S9", help="comma-separated subjects (S9)")
    parser.add_argument("--keypoints", default="gt", help="2D source: gt or a data_2d_h36m_<name>.npz name (gt)")
    add_model_source_arguments(parser)
    parser.add_argument("--modes", default="per_frame,sequence", help="per_frame and/or sequence")
    parser.add_argument("--margins", default="default",
                        help="sequence mode: comma-separated margins (context positions per side), or 'default' "
                             "(num_frames // 12)")
    parser.add_argument("--frame-step", type=int, default=1, help="evaluate every k-th frame (1 = all)")
    parser.add_argument(
        "--fraction",
        type=float,
        default=1.0,
        help="evaluate about this fraction of the sequences and extrapolate the time (1.0)",
    )
    parser.add_argument("--batch-size", type=int, default=512, help="windows per forward pass (512)")
    parser.add_argument("--flip-test", action="store_true", help="flip test-time augmentation (2x the work)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the model runs (cpu)")
    add_runtime_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    for mode in args.modes:
        if mode not in ("per_frame", "sequence"):
            parser.error(f"--modes: expected per_frame and/or sequence, got {mode!r}")
    args.margins = [None if m == "default" else int(m) for m in args.margins.split(",") if m]
    if not 0 < args.fraction <= 1:
        parser.error(f"--fraction: expected 0 < F <= 1, got {args.fraction}")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    info = start_run(args, device)

    subjects = [s for s in args.subjects.split(",") if s]
    start = time.perf_counter()
    sequences = load_h36m_arrays(args.data_dir, subjects=subjects, keypoints=args.keypoints)
    load_seconds = time.perf_counter() - start
    total_frames = count_frames(sequences, args.frame_step)
    selected = select_fraction(sequences, args.fraction)
    selected_frames = count_frames(selected, args.frame_step)
    all_frames = count_frames(sequences, 1)
    selected_all_frames = count_frames(selected, 1)
    model, model_description = build_model(args)

    # Warm-up: one short sequence piece per mode (first-call allocations).
    warm = [{k: (v[: 4 * model.config.num_frames] if isinstance(v, np.ndarray) else v) for k, v in selected[0].items()}]
    for mode in args.modes:
        evaluate_lifting(model, warm, mode=mode, batch_size=args.batch_size, progress=False)

    runs = [(mode, margin) for mode in args.modes for margin in (args.margins if mode == "sequence" else [None])]
    rows = []
    for mode, margin in runs:
        result = evaluate_lifting(
            model,
            selected,
            mode=mode,
            flip_test=args.flip_test,
            batch_size=args.batch_size,
            frame_step=args.frame_step,
            progress=False,
            margin=margin,
        )
        seconds = result["lift_time_s"]
        evaluated = int(result["num_frames"])
        # Per-frame mode runs one window per evaluated frame; sequence mode lifts every frame of each sequence
        # whatever the frame step. "Lifted" counts the frames the work was done for.
        lifted = evaluated if mode == "per_frame" else selected_all_frames
        rate = lifted / seconds
        full_work = total_frames if mode == "per_frame" else all_frames
        rows.append(
            {
                "mode": mode,
                "margin": default_margin(model.config.num_frames) if margin is None and mode == "sequence" else margin,
                "sequences": len(selected),
                "frames_evaluated": evaluated,
                "frames_lifted": lifted,
                "seconds": seconds,
                "seconds_with_scoring": result["wall_time_s"],
                "frames_lifted_per_s": rate,
                "extrapolated": lifted < full_work,
                "seconds_all_frames": full_work / rate,
                "mpjpe_mm": result["mpjpe"],
                "p_mpjpe_mm": result["p_mpjpe"],
            }
        )
    per_frame_rate = next((row["frames_lifted_per_s"] for row in rows if row["mode"] == "per_frame"), None)
    for row in rows:
        row["speedup_vs_per_frame"] = row["frames_lifted_per_s"] / per_frame_rate if per_frame_rate else None
    info["load_average_end"] = os.getloadavg()

    print(
        f"# evaluation benchmark, {info['date']}, {info.get('cpu', '')}, torch {info['torch']}, "
        f"{info['threads']} threads, device {device} {info.get('gpu', '')}, "
        f"load average {info['load_average_start'][0]:.2f} -> {info['load_average_end'][0]:.2f}"
    )
    print(f"model: {model_description}")
    print(
        f"data: Human3.6M {','.join(subjects)}, {args.keypoints} 2D, {len(sequences)} sequences, {total_frames} frames "
        f"(frame step {args.frame_step}); loaded in {load_seconds:.1f} s (not in the times below); "
        f"batch {args.batch_size} windows; flip test {'on' if args.flip_test else 'off'}\n"
    )
    print(
        "| mode | margin | sequences | frames evaluated | frames lifted | lifting s | with scoring s | frames lifted/s "
        "| x per-frame "
        f"| s for the whole evaluation (frame step {args.frame_step}) | MPJPE (mm) | P-MPJPE (mm) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        mark = " (extrapolated)" if row["extrapolated"] else ""
        margin = "-" if row["margin"] is None else row["margin"]
        speedup = "-" if row["speedup_vs_per_frame"] is None else f"{row['speedup_vs_per_frame']:.1f}"
        print(
            f"| {row['mode']} | {margin} | {row['sequences']} | {row['frames_evaluated']} | {row['frames_lifted']} | "
            f"{row['seconds']:.1f} | {row['seconds_with_scoring']:.1f} | {row['frames_lifted_per_s']:.0f} | "
            f"{speedup} | "
            f"{row['seconds_all_frames']:.1f}{mark} | {row['mpjpe_mm']:.2f} | {row['p_mpjpe_mm']:.2f} |"
        )
    if any(row["extrapolated"] for row in rows):
        print(
            f"\nnote: evaluated {len(selected)} of {len(sequences)} sequences ({selected_frames} of {total_frames} "
            "frames at this frame step); the whole-evaluation seconds are extrapolated (same cost per frame)"
        )
    if args.frame_step > 1 and "sequence" in args.modes and "per_frame" in args.modes:
        print(
            "note: sequence mode lifts every frame of a sequence whatever --frame-step (it scores every k-th); "
            f"per-frame mode runs one window per evaluated frame. All {all_frames} frames in per-frame mode "
            "would take about "
            + ", ".join(
                f"{all_frames / row['frames_lifted_per_s']:.0f} s" for row in rows if row["mode"] == "per_frame"
            )
        )
    if args.model is None:
        print("note: random-initialised model: the MPJPE figures only show that the evaluation ran")

    output = {
        "machine": info,
        "model": model_description,
        "subjects": subjects,
        "sequences": len(sequences),
        "total_frames": total_frames,
        "all_frames_step_1": all_frames,
        "load_seconds": load_seconds,
        "rows": rows,
    }
    write_json(args, output)
    return output


if __name__ == "__main__":
    main()
