"""Inference speed of the ONNX export against torch, and the accuracy cost of bf16, for a lifting model.

What is measured, for the shipped model (``--model``, default ``pretrained/mpm-h36m-27f``) on the CPU:

- **windows/s** (one 2D window of ``num_frames`` frames -> its 3D, both heads) at each ``--batch-sizes`` (default
  1 and 64) of four variants: ``torch fp32`` (the model as loaded, ``eval()`` + ``torch.inference_mode``),
  ``torch fp32 fused`` (after ``model.fuse()``: the same BatchNorm folding the export does), ``onnxruntime fp32``
  (``mpm_hf.export.export_onnx`` -> onnxruntime's CPU provider, ``intra_op_num_threads`` = torch's threads, graph
  optimisations on) and ``torch bf16`` (``torch.autocast("cpu", dtype=torch.bfloat16)``). Each timed sample repeats
  the call to fill ``--min-time`` seconds; the variants are interleaved in rotating order inside each of the
  ``--repeats`` repeats (``bench_model.time_variants``). "x torch fp32" is the median over repeats of the paired
  ratio (torch fp32 time / variant time in the same repeat), so every ratio comes from this one run.
- **max |diff|**: the largest difference (mm) of each variant's centre-frame output from torch fp32's on the timed
  batch (random windows).
- **S9 accuracy** (when ``--data-dir`` holds Human3.6M): protocol #1 / #2 (MPJPE / P-MPJPE, mm) of torch fp32 and
  torch bf16 on subject S9, ground-truth 2D, every ``--frame-step``-th frame (one window centred on each,
  ``mpm_hf.evaluation.evaluate_lifting``, the paper's per-frame protocol); skipped with a note when the data is
  absent or with ``--no-accuracy``.

Usage::

    python benchmarks/bench_export.py --threads 1 --repeats 3 --min-time 0.2 --frame-step 100
    python benchmarks/bench_export.py --batch-sizes 1,16,64,256 --json results/export.json
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_model import add_runtime_arguments, parse_ints, start_run, time_variants, write_json  # noqa: E402

from mpm_hf.data.h36m import load_h36m_arrays  # noqa: E402
from mpm_hf.evaluation import evaluate_lifting  # noqa: E402
from mpm_hf.export import export_onnx  # noqa: E402
from mpm_hf.modeling_mpm import MPMForPoseLifting  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
BASELINE = "torch fp32"
VARIANTS = (BASELINE, "torch fp32 fused", "onnxruntime fp32", "torch bf16")


def torch_run(
    model: MPMForPoseLifting, poses: torch.Tensor, mask: torch.Tensor, bf16: bool
) -> Callable[[], np.ndarray]:
    def run() -> np.ndarray:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            return model(poses, spatial_mask=mask).poses_3d.float().numpy()

    return run


def onnx_run(
    session: onnxruntime.InferenceSession, poses: torch.Tensor, mask: torch.Tensor
) -> Callable[[], np.ndarray]:
    feeds = {"poses": poses.numpy(), "spatial_mask": mask.numpy()}

    def run() -> np.ndarray:
        return session.run(["poses_3d"], feeds)[0]

    return run


def onnx_session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])


def bench_speed(
    model: MPMForPoseLifting, session: onnxruntime.InferenceSession, args: argparse.Namespace
) -> list[dict]:
    fused = copy.deepcopy(model).fuse()
    config = model.config
    generator = torch.Generator().manual_seed(0)
    rows = []
    for batch in args.batch_sizes:
        poses = 0.3 * torch.randn(batch, config.num_frames, config.num_joints, 2, generator=generator)
        mask = torch.zeros(batch, config.num_frames, config.num_joints, dtype=torch.bool)
        runs = {
            BASELINE: torch_run(model, poses, mask, bf16=False),
            "torch fp32 fused": torch_run(fused, poses, mask, bf16=False),
            "onnxruntime fp32": onnx_run(session, poses, mask),
            "torch bf16": torch_run(model, poses, mask, bf16=True),
        }
        reference = runs[BASELINE]()
        difference_mm = {name: 1000.0 * float(np.abs(run() - reference).max()) for name, run in runs.items()}
        timings = time_variants(runs, torch.device("cpu"), args.repeats, args.min_time, args.warmup)
        _, baseline_samples, _ = timings[BASELINE]
        for name in VARIANTS:
            seconds, samples, iterations = timings[name]
            rows.append({
                "batch_size": batch,
                "variant": name,
                "windows_per_s": batch / seconds,
                "best_windows_per_s": batch / min(samples),
                "samples_windows_per_s": [batch / s for s in samples],
                "iterations_per_sample": iterations,
                "x_torch_fp32": statistics.median(b / s for b, s in zip(baseline_samples, samples, strict=True)),
                "max_difference_mm": difference_mm[name],
            })
            print(format_speed_row(rows[-1]), flush=True)
    return rows


def bench_accuracy(model: MPMForPoseLifting, args: argparse.Namespace) -> tuple[list[dict], str | None]:
    """S9 protocol #1/#2 of torch fp32 and bf16, or no rows and the reason."""
    if not args.accuracy:
        return [], "S9 accuracy skipped (--no-accuracy)"
    if not (args.data_dir / "data_3d_h36m.npz").is_file():
        return [], f"S9 accuracy skipped: no Human3.6M at {args.data_dir}"
    sequences = load_h36m_arrays(args.data_dir, subjects=["S9"], keypoints="gt")
    rows = []
    for name, autocast in ((BASELINE, contextlib.nullcontext()),
                           ("torch bf16", torch.autocast("cpu", dtype=torch.bfloat16))):
        with autocast:
            result = evaluate_lifting(model, sequences, mode="per_frame", batch_size=args.eval_batch_size,
                                      frame_step=args.frame_step, progress=False)
        rows.append({"variant": name, "mpjpe_mm": result["mpjpe"], "p_mpjpe_mm": result["p_mpjpe"],
                     "frames": int(result["num_frames"]), "seconds": result["wall_time_s"]})
    return rows, None


SPEED_HEADER = (
    "| batch | variant | windows/s (median) | best | x torch fp32 | max abs diff vs torch fp32 (mm) |\n"
    "|---:|---|---:|---:|---:|---:|"
)


def format_speed_row(row: dict) -> str:
    return (
        f"| {row['batch_size']} | {row['variant']} | {row['windows_per_s']:.1f} | {row['best_windows_per_s']:.1f} | "
        f"{row['x_torch_fp32']:.2f} | {row['max_difference_mm']:.2g} |"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "pretrained" / "mpm-h36m-27f",
                        help="a saved MPMForPoseLifting folder (pretrained/mpm-h36m-27f)")
    parser.add_argument("--batch-sizes", type=parse_ints, default=[1, 64], help="windows per call (1,64)")
    parser.add_argument("--repeats", type=int, default=5, help="timed samples per figure (5)")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per timed sample (0.5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before timing (2)")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset of the export (default: torch's)")
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "h36m",
                        help="Human3.6M folder for the S9 accuracy (../shared/data/h36m)")
    parser.add_argument("--frame-step", type=int, default=20, help="S9: evaluate every k-th frame (20)")
    parser.add_argument("--eval-batch-size", type=int, default=256, help="S9: windows per forward pass (256)")
    parser.add_argument("--no-accuracy", dest="accuracy", action="store_false", help="skip the S9 accuracy")
    add_runtime_arguments(parser)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if not args.batch_sizes or min(args.batch_sizes) < 1:
        parser.error(f"--batch-sizes: expected positive integers, got {args.batch_sizes}")
    if args.repeats < 1 or args.frame_step < 1:
        parser.error("--repeats and --frame-step: expected positive integers")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = torch.device("cpu")
    info = start_run(args, device)
    info["onnxruntime"] = onnxruntime.__version__
    model = MPMForPoseLifting.from_pretrained(args.model).eval()
    c = model.config
    print(
        f"# ONNX export benchmark, {info['date']}, {info.get('cpu', '')}, torch {info['torch']}, onnxruntime "
        f"{info['onnxruntime']}, {info['threads']} threads"
    )
    print(f"model: {args.model} (T={c.num_frames}, hidden {c.hidden_size}, {c.num_hidden_layers} layers, "
          f"strides {c.strides}, downsample {c.downsample}, input_normalization {c.input_normalization})")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = export_onnx(model, Path(folder) / "model.onnx", opset=args.opset)
        export_seconds = time.perf_counter() - start
        onnx_megabytes = path.stat().st_size / 2**20
        print(f"export: {export_seconds:.1f} s (with its onnxruntime check), {onnx_megabytes:.1f} MiB\n")
        session = onnx_session(path, torch.get_num_threads())
        print(SPEED_HEADER)
        speed = bench_speed(model, session, args)

    accuracy, skipped = bench_accuracy(model, args)
    info["load_average_end"] = os.getloadavg()
    print(f"\n## Summary (load average {info['load_average_start'][0]:.2f} -> {info['load_average_end'][0]:.2f})\n")
    print(SPEED_HEADER)
    for row in speed:
        print(format_speed_row(row))
    if accuracy:
        print(f"\nHuman3.6M S9, ground-truth 2D, per-frame protocol, every {args.frame_step}th frame "
              f"({accuracy[0]['frames']} frames):\n")
        print("| variant | MPJPE (mm) | P-MPJPE (mm) | s |\n|---|---:|---:|---:|")
        for row in accuracy:
            print(f"| {row['variant']} | {row['mpjpe_mm']:.2f} | {row['p_mpjpe_mm']:.2f} | {row['seconds']:.1f} |")
        delta = accuracy[1]["mpjpe_mm"] - accuracy[0]["mpjpe_mm"]
        print(f"\nbf16 - fp32: {delta:+.2f} mm MPJPE")
    else:
        print(f"\n{skipped}")

    result = {"machine": info, "export_seconds": export_seconds, "onnx_mib": onnx_megabytes, "speed": speed,
              "accuracy": accuracy, "accuracy_skipped": skipped}
    write_json(args, result)
    return result


if __name__ == "__main__":
    main()
