"""Throughput benchmark of MPM 2D->3D lifting: ours (``mpm_hf``) against the released design
(``reference_mpm``).

What is measured, per window length (27 / 81 / 243 frames, the release's layer counts 3 / 3 / 4), dtype
(fp32, bf16 autocast) and batch size:

- **inference**: ``eval()`` + ``torch.inference_mode``; ours unfused, ours after ``fuse()`` (BatchNorm folded
  into the Linears) and optionally ours fused + ``torch.compile``; the reference in ``eval()``.
- **training**: one step = forward, centre + sequence MPJPE loss, backward, Adam(amsgrad) step (the release's
  optimiser; ours uses torch's fused implementation of it, as ``mpm_hf.training`` does), batch 32 by default.
- windows/s: median (and best) of ``--repeats`` timed samples; the models are interleaved inside each repeat,
  in rotating order, so that background load hits all of them alike. "x reference" is the median over repeats
  of the paired ratio (reference time / model time in the same repeat).
- FLOPs per window counted once per configuration with ``torch.utils.flop_counter.FlopCounterMode``
  (convention: 1 multiply-add = 2 FLOPs; only matrix products, convolutions and attention are counted), the
  achieved GFLOP/s and its fraction of the machine's fp32 matmul peak, measured in the same run (best of N
  square sgemms, at the start and at the end of the run).
- peak memory of one batch: on CPU the growth of the resident set (``VmHWM`` after resetting it through
  ``/proc/self/clear_refs``; ``ru_maxrss`` growth where that is not possible); on CUDA
  ``torch.cuda.max_memory_allocated`` above the memory allocated before the batch.

It also prints a per-module parameter / FLOP breakdown of the 243-frame model (the paper's Table 5 figures).

Usage::

    python benchmarks/bench_model.py --quick --frames 27,243 --dtypes fp32
    python benchmarks/bench_model.py --full-sweep --json results.json
    python benchmarks/bench_model.py --device cuda --dtypes fp32,bf16 --compile
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import ctypes
import datetime
import gc
import json
import math
import os
import platform
import resource
import socket
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_mpm import RELEASED_STRIDES, ReferenceMPMLift  # noqa: E402

from mpm_hf.modeling_mpm import MPMConfig, MPMForPoseLifting  # noqa: E402
from mpm_hf.runtime import flush_denormals, keep_freed_memory  # noqa: E402
from mpm_hf.training.loop import FUSED_OPTIMIZER_DEVICES  # noqa: E402

# Temporal layers of the released stage-II models (README commands: -f 27/81 --layers 3, -f 243 --layers 4).
RELEASED_LAYERS = {27: 3, 81: 3, 243: 4}
NUM_JOINTS = 17
REFERENCE = "reference"
FULL_SWEEP = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
PAPER_TABLE5 = {"params_m": 7.8, "flops_m": 2387.0}


# ----------------------------------------------------------------------------------------------------------
# Timing, memory, FLOPs
# ----------------------------------------------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, dtype: str) -> contextlib.AbstractContextManager:
    if dtype == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def measure_matmul_peak(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    """Best GFLOP/s of ``repeats`` square ``size``^3 matrix products (2 * size^3 FLOPs each)."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    torch.mm(a, b, out=out)
    best = math.inf
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def _read_status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _release_free_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def peak_memory_mib(run: Callable[[], None], device: torch.device) -> float:
    """Memory one call of ``run`` needs above what was held before it, in MiB (see the module docstring)."""
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    _release_free_memory()
    try:
        before = _read_status_kib("VmRSS")
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # reset VmHWM (the peak RSS) to the current RSS
        run()
        return (_read_status_kib("VmHWM") - before) / 1024
    except (OSError, KeyError):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def _cpu_flash_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_flash_sdpa_backward_flop(
    grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs
) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


# FlopCounterMode (torch 2.13) has formulas for the CUDA SDPA kernels but not for the CPU flash kernel, so
# without these every attention product of ours would count as zero on CPU.
SDPA_CPU_FLOPS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_sdpa_flop,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: (_cpu_flash_sdpa_backward_flop),
}


def flop_counter() -> FlopCounterMode:
    return FlopCounterMode(display=False, custom_mapping=SDPA_CPU_FLOPS)


# ----------------------------------------------------------------------------------------------------------
# Models and steps
# ----------------------------------------------------------------------------------------------------------


def build_ours(frames: int, layers: int, device: torch.device, seed: int = 0) -> MPMForPoseLifting:
    torch.manual_seed(seed)
    config = MPMConfig(num_frames=frames, num_hidden_layers=layers, num_joints=NUM_JOINTS)
    return MPMForPoseLifting(config).to(device)


def build_reference(frames: int, layers: int, device: torch.device, seed: int = 0) -> ReferenceMPMLift:
    torch.manual_seed(seed)
    return ReferenceMPMLift(
        layers=layers,
        channel=256,
        d_hid=512,
        frames=frames,
        n_joints=NUM_JOINTS,
        stride_num=RELEASED_STRIDES[frames],
    ).to(device)


def mpjpe(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(prediction - target, dim=-1).mean()


def lifting_loss(model: torch.nn.Module, poses: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Stage-II loss (centre MPJPE + sequence MPJPE), through each model's own interface."""
    if isinstance(model, ReferenceMPMLift) or isinstance(getattr(model, "_orig_mod", None), ReferenceMPMLift):
        centre, sequence = model(poses)
        middle = poses.shape[1] // 2
        return mpjpe(centre, labels[:, middle : middle + 1]) + mpjpe(sequence, labels)
    return model(poses, labels=labels).loss


def inference_step(model: torch.nn.Module, poses: torch.Tensor, device: torch.device, dtype: str) -> Callable:
    def run() -> None:
        with torch.inference_mode(), autocast(device, dtype):
            model(poses)

    return run


def training_step(
    model: torch.nn.Module, poses: torch.Tensor, labels: torch.Tensor, device: torch.device, dtype: str,
    fused_optimizer: bool = False,
) -> Callable:
    # ours: the fused Adam that mpm_hf.training.loop.build_optimizer uses on CPU / CUDA; the reference: the
    # release's torch.optim.Adam(amsgrad=True) as it is written there
    fused = {"fused": True} if fused_optimizer and device.type in FUSED_OPTIMIZER_DEVICES else {}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, amsgrad=True, **fused)

    def run() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, dtype):
            loss = lifting_loss(model, poses, labels)
        loss.backward()
        optimizer.step()

    return run


def centre_and_sequence(output) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(output, tuple):
        return output
    return output.poses_3d, output.sequence_poses_3d


def check_compiled(eager: torch.nn.Module, compiled: torch.nn.Module, poses: torch.Tensor, tolerance: float) -> float:
    """Largest absolute output difference of the compiled model; raises when above ``tolerance``."""
    with torch.inference_mode():
        expected = centre_and_sequence(eager(poses))
        actual = centre_and_sequence(compiled(poses))
    difference = max((a - e).abs().max().item() for a, e in zip(actual, expected, strict=True))
    if not difference <= tolerance:
        raise RuntimeError(f"torch.compile changed the outputs: max |difference| {difference:.3g} > {tolerance}")
    return difference


@dataclass
class Variant:
    name: str
    model: torch.nn.Module
    flops_model: torch.nn.Module  # the eager module the FLOPs are counted on


def inference_variants(
    frames: int, layers: int, device: torch.device, compiled: bool, tolerance: float, notes: list[str]
) -> list[Variant]:
    ours = build_ours(frames, layers, device).eval()
    fused = copy.deepcopy(ours).fuse()
    reference = build_reference(frames, layers, device).eval()
    variants = [
        Variant("ours", ours, ours),
        Variant("ours+fuse", fused, fused),
        Variant(REFERENCE, reference, reference),
    ]
    if compiled:
        model = torch.compile(fused)
        probe = torch.randn(4, frames, NUM_JOINTS, 2, device=device)
        difference = check_compiled(fused, model, probe, tolerance)
        notes.append(f"{frames} frames: torch.compile(ours+fuse) max |output difference| {difference:.2e}")
        variants.insert(2, Variant("ours+fuse+compile", model, fused))
    return variants


def training_variants(frames: int, layers: int, device: torch.device, compiled: bool) -> list[Variant]:
    ours = build_ours(frames, layers, device).train()
    reference = build_reference(frames, layers, device).train()
    variants = [Variant("ours", ours, ours), Variant(REFERENCE, reference, reference)]
    if compiled:
        eager = build_ours(frames, layers, device).train()
        variants.insert(1, Variant("ours+compile", torch.compile(eager), eager))
    return variants


def count_flops_per_window(variant: Variant, mode: str, frames: int, device: torch.device) -> float:
    """FLOPs of one window, from one counted pass at batch 2 (BatchNorm needs more than one sample)."""
    batch = 2
    poses = torch.randn(batch, frames, NUM_JOINTS, 2, device=device)
    model = variant.flops_model
    if mode == "inference":
        with torch.inference_mode(), flop_counter() as counter:
            model(poses)
    else:
        model = copy.deepcopy(model)  # keep the timed model's BatchNorm statistics and gradients untouched
        labels = torch.randn(batch, frames, NUM_JOINTS, 3, device=device)
        with flop_counter() as counter:
            lifting_loss(model, poses, labels).backward()
    return counter.get_total_flops() / batch


# ----------------------------------------------------------------------------------------------------------
# The benchmark loop
# ----------------------------------------------------------------------------------------------------------


@dataclass
class Row:
    frames: int
    layers: int
    mode: str
    dtype: str
    batch_size: int
    model: str
    windows_per_s: float
    samples: list[float] = field(default_factory=list)
    iterations_per_sample: int = 1
    best_windows_per_s: float | None = None
    ratio_to_reference: float | None = None
    ratio_of_medians: float | None = None
    gflop_per_window: float | None = None
    gflop_per_s: float | None = None
    fraction_of_fp32_peak: float | None = None
    peak_memory_mib: float | None = None


def time_variants(
    runs: dict[str, Callable[[], None]], device: torch.device, repeats: int, min_time_s: float, warmup: int
) -> dict[str, tuple[float, list[float], int]]:
    """Median seconds per call of each run; calls are interleaved, in rotating order, inside each repeat."""
    iterations = {}
    for name, run in runs.items():
        for _ in range(warmup):
            run()
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        iterations[name] = max(1, math.ceil(min_time_s / max(time.perf_counter() - start, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            synchronize(device)
            start = time.perf_counter()
            for _ in range(iterations[name]):
                runs[name]()
            synchronize(device)
            samples[name].append((time.perf_counter() - start) / iterations[name])
    return {name: (statistics.median(samples[name]), samples[name], iterations[name]) for name in names}


def bench_config(
    frames: int,
    layers: int,
    mode: str,
    dtypes: list[str],
    batch_sizes: list[int],
    args: argparse.Namespace,
    device: torch.device,
    fp32_peak: float,
    notes: list[str],
) -> list[Row]:
    if mode == "inference":
        variants = inference_variants(frames, layers, device, args.compile, args.compile_tolerance, notes)
    else:
        variants = training_variants(frames, layers, device, args.compile)
    flops = {v.name: count_flops_per_window(v, mode, frames, device) for v in variants}
    rows = []
    for dtype in dtypes:
        for batch in batch_sizes:
            poses = torch.randn(batch, frames, NUM_JOINTS, 2, device=device)
            labels = torch.randn(batch, frames, NUM_JOINTS, 3, device=device)
            if mode == "inference":
                runs = {v.name: inference_step(v.model, poses, device, dtype) for v in variants}
            else:
                runs = {v.name: training_step(v.model, poses, labels, device, dtype,
                                              fused_optimizer=v.name != REFERENCE) for v in variants}
            warmup = args.warmup + (2 if args.compile else 0)
            timings = time_variants(runs, device, args.repeats, args.min_time, warmup)
            reference_seconds, reference_samples, _ = timings[REFERENCE]
            for variant in variants:
                seconds, samples, iterations = timings[variant.name]
                rate = batch / seconds
                # Paired ratio: each repeat's reference time over this model's, then the median (robust to
                # load that changes between repeats).
                paired = statistics.median(r / s for r, s in zip(reference_samples, samples, strict=True))
                gflop_per_s = flops[variant.name] * rate / 1e9
                rows.append(
                    Row(
                        frames=frames,
                        layers=layers,
                        mode=mode,
                        dtype=dtype,
                        batch_size=batch,
                        model=variant.name,
                        windows_per_s=rate,
                        samples=[batch / s for s in samples],
                        iterations_per_sample=iterations,
                        best_windows_per_s=batch / min(samples),
                        ratio_to_reference=paired,
                        ratio_of_medians=reference_seconds / seconds,
                        gflop_per_window=flops[variant.name] / 1e9,
                        gflop_per_s=gflop_per_s,
                        fraction_of_fp32_peak=gflop_per_s / fp32_peak,
                        peak_memory_mib=peak_memory_mib(runs[variant.name], device) if args.memory else None,
                    )
                )
                print(format_row(rows[-1]), flush=True)
    return rows


# ----------------------------------------------------------------------------------------------------------
# Breakdown (paper Table 5)
# ----------------------------------------------------------------------------------------------------------

OURS_GROUPS = {
    "2D encoder": ["mpm.encoder_2d"],
    "spatial MLP": ["mpm.spatial_mlp"],
    "temporal transformer": ["mpm.temporal_transformer"],
    "strided transformer": ["strided_transformer"],
    "heads (sequence + centre)": ["sequence_head", "centre_head"],
}
REFERENCE_GROUPS = {
    "2D encoder": ["encoder2d"],
    "spatial MLP": ["shared_layers_spatial"],
    "temporal transformer": ["shared_layers_temporal"],
    "strided transformer": ["Transformer_reduce"],
    "heads (sequence + centre)": ["fcn_1", "fcn"],
}


def _parameters_under(model: torch.nn.Module, prefixes: list[str]) -> int:
    return sum(p.numel() for name, p in model.named_parameters() if any(name.startswith(f + ".") for f in prefixes))


def _module_flops(counts: dict, model: torch.nn.Module, prefixes: list[str]) -> int:
    root = type(model).__name__
    return sum(sum(counts.get(f"{root}.{prefix}", {}).values()) for prefix in prefixes)


def breakdown(frames: int, layers: int, device: torch.device) -> dict:
    """Parameters and forward FLOPs per window, per module group, of ours and of the reference."""
    result = {
        "frames": frames,
        "layers": layers,
        "flop_convention": "2 FLOPs per multiply-add (FLOPs = 2 x MACs)",
    }
    poses = torch.randn(1, frames, NUM_JOINTS, 2, device=device)
    for name, model, groups in (
        ("ours", build_ours(frames, layers, device).eval(), OURS_GROUPS),
        (REFERENCE, build_reference(frames, layers, device).eval(), REFERENCE_GROUPS),
    ):
        with torch.inference_mode(), flop_counter() as counter:
            model(poses)
        counts = counter.get_flop_counts()
        table = {
            group: {
                "params": _parameters_under(model, prefixes),
                "flops": _module_flops(counts, model, prefixes),
            }
            for group, prefixes in groups.items()
        }
        total_params = sum(p.numel() for p in model.parameters())
        grouped = sum(entry["params"] for entry in table.values())
        table["other (not used by the lifting forward)"] = {"params": total_params - grouped, "flops": 0}
        table["total"] = {"params": total_params, "flops": counter.get_total_flops()}
        result[name] = table
    return result


def print_breakdown(result: dict) -> None:
    print(
        f"\n## Per-module breakdown, {result['frames']} frames, {result['layers']} layers "
        f"(one window; {result['flop_convention']}; matmul/conv/attention FLOPs only)\n"
    )
    print("| module | ours params (M) | ours MFLOPs | reference params (M) | reference MFLOPs | share of FLOPs |")
    print("|---|---:|---:|---:|---:|---:|")
    ours, reference = result["ours"], result[REFERENCE]
    total = ours["total"]["flops"]
    for group in ours:
        o, r = ours[group], reference[group]
        print(
            f"| {group} | {o['params'] / 1e6:.3f} | {o['flops'] / 1e6:.1f} | {r['params'] / 1e6:.3f} | "
            f"{r['flops'] / 1e6:.1f} | {100 * o['flops'] / total:.1f} % |"
        )
    print(
        f"\nPaper (Table 5): {PAPER_TABLE5['params_m']} M parameters, "
        f"{PAPER_TABLE5['flops_m']:.0f} M FLOPs per window."
        f" Ours: {ours['total']['params'] / 1e6:.2f} M, {total / 1e6:.0f} M FLOPs = {total / 2e6:.0f} M MACs."
        " Ours counts encoder_3d and the spatial mask tokens (stage I, unused by lifting) under 'other'; the"
        " reference counts the released Encoder.norm LayerNorms (never applied) there."
    )


# ----------------------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------------------

HEADER = (
    "| frames | layers | mode | dtype | batch | model | windows/s (median) | best | x reference "
    "| GFLOP/window | GFLOP/s | % fp32 peak | peak mem (MiB) |\n"
    "|---:|---:|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
)


def format_row(row: Row) -> str:
    memory = f"{row.peak_memory_mib:.0f}" if row.peak_memory_mib is not None else "-"
    return (
        f"| {row.frames} | {row.layers} | {row.mode} | {row.dtype} | {row.batch_size} | {row.model} | "
        f"{row.windows_per_s:.1f} | {row.best_windows_per_s:.1f} | {row.ratio_to_reference:.2f} | "
        f"{row.gflop_per_window:.3f} | "
        f"{row.gflop_per_s:.1f} | {100 * row.fraction_of_fp32_peak:.0f} % | {memory} |"
    )


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """``--threads``, ``--default-allocator`` and ``--keep-denormals``, shared by the benchmarks."""
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--default-allocator", action="store_true",
                        help="leave glibc malloc as it is (default: mpm_hf.runtime.keep_freed_memory(), as the "
                             "mpm-hf command line and scripts do; applies to every variant of the run)")
    parser.add_argument("--keep-denormals", action="store_true",
                        help="compute with denormal floats (default: mpm_hf.runtime.flush_denormals(), as "
                             "mpm_hf.training does on CPU; applies to every variant of the run)")


def start_run(args: argparse.Namespace, device: torch.device) -> dict:
    """Apply the runtime arguments and return the machine description with the load average at the start."""
    if args.threads:
        torch.set_num_threads(args.threads)
    info = machine_info(device)
    info["keep_freed_memory"] = False if args.default_allocator else keep_freed_memory()
    info["flush_denormals"] = False if args.keep_denormals else flush_denormals()
    info["load_average_start"] = os.getloadavg()
    return info


def write_json(args: argparse.Namespace, result: dict) -> None:
    """Write a benchmark's result, with its arguments under ``"args"``, to ``--json PATH`` (when given)."""
    if args.json:
        record = {"machine": result.get("machine")}
        record["args"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        record.update(result)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2))
        print(f"\nwrote {args.json}")


def machine_info(device: torch.device) -> dict:
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as cpuinfo:
            info["cpu"] = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
                platform.processor(),
            )
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def parse_ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=parse_ints, default=[27, 81, 243], help="window lengths (27,81,243)")
    parser.add_argument(
        "--layers",
        type=parse_ints,
        default=None,
        help="temporal layers per window length (default: the release's, 27/81 -> 3, 243 -> 4)",
    )
    parser.add_argument(
        "--batch-sizes",
        type=parse_ints,
        default=None,
        help="inference batch sizes (default 1,32,256; --quick 1,32)",
    )
    parser.add_argument("--full-sweep", action="store_true", help=f"inference batch sizes {FULL_SWEEP}")
    parser.add_argument("--train-batch-sizes", type=parse_ints, default=[32], help="training batch sizes (32)")
    parser.add_argument("--modes", default="inference,training", help="inference,training")
    parser.add_argument("--dtypes", default="fp32,bf16", help="fp32 and/or bf16 (autocast)")
    parser.add_argument("--repeats", type=int, default=None, help="timed samples per figure (default 7; --quick 3)")
    parser.add_argument(
        "--min-time",
        type=float,
        default=None,
        help="seconds per timed sample; calls are repeated to fill it (default 0.5; --quick 0.25)",
    )
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls before timing (1)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and batch sizes")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    add_runtime_arguments(parser)
    parser.add_argument("--compile", action="store_true", help="add torch.compile(ours) (outputs checked first)")
    parser.add_argument("--compile-tolerance", type=float, default=1e-4)
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the peak-memory call")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false")
    parser.add_argument("--peak-size", type=int, default=2048, help="side of the square sgemm for the peak (2048)")
    parser.add_argument("--peak-repeats", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    args.dtypes = [d for d in args.dtypes.split(",") if d]
    for mode in args.modes:
        if mode not in ("inference", "training"):
            parser.error(f"--modes: expected inference and/or training, got {mode!r}")
    for dtype in args.dtypes:
        if dtype not in ("fp32", "bf16"):
            parser.error(f"--dtypes: expected fp32 and/or bf16, got {dtype!r}")
    for frames in args.frames:
        if frames not in RELEASED_STRIDES:
            parser.error(f"--frames: expected one of {sorted(RELEASED_STRIDES)}, got {frames}")
    if args.layers is None:
        args.layers = [RELEASED_LAYERS.get(f, 3) for f in args.frames]
    elif len(args.layers) != len(args.frames):
        parser.error(f"--layers: expected one value per frame count ({len(args.frames)}), got {len(args.layers)}")
    if args.batch_sizes is None:
        args.batch_sizes = FULL_SWEEP if args.full_sweep else ([1, 32] if args.quick else [1, 32, 256])
    args.repeats = args.repeats or (3 if args.quick else 7)
    args.min_time = args.min_time or (0.25 if args.quick else 0.5)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    info = start_run(args, device)
    notes: list[str] = []

    peaks = {"fp32_start": measure_matmul_peak(device, torch.float32, args.peak_size, args.peak_repeats)}
    if "bf16" in args.dtypes:
        peaks["bf16_start"] = measure_matmul_peak(device, torch.bfloat16, args.peak_size, args.peak_repeats)
    print(
        f"# MPM lifting benchmark, {info['date']}, {info.get('cpu', '')} {info.get('gpu', '')}, "
        f"torch {info['torch']}, {info['threads']} threads, device {device}"
    )
    print(f"fp32 matmul peak ({args.peak_size}^3, best of {args.peak_repeats}): {peaks['fp32_start']:.1f} GFLOP/s\n")
    print(HEADER)

    rows: list[Row] = []
    for frames, layers in zip(args.frames, args.layers, strict=True):
        for mode in args.modes:
            batch_sizes = args.batch_sizes if mode == "inference" else args.train_batch_sizes
            rows += bench_config(
                frames, layers, mode, args.dtypes, batch_sizes, args, device, peaks["fp32_start"], notes
            )

    # The peak is measured again at the end; fractions use the best figure of the run.
    peaks["fp32_end"] = measure_matmul_peak(device, torch.float32, args.peak_size, args.peak_repeats)
    if "bf16" in args.dtypes:
        peaks["bf16_end"] = measure_matmul_peak(device, torch.bfloat16, args.peak_size, args.peak_repeats)
    fp32_peak = max(peaks["fp32_start"], peaks["fp32_end"])
    for row in rows:
        row.fraction_of_fp32_peak = row.gflop_per_s / fp32_peak
    info["load_average_end"] = os.getloadavg()

    print(
        f"\n## Summary (fp32 matmul peak {fp32_peak:.1f} GFLOP/s: "
        f"best of start {peaks['fp32_start']:.1f} and "
        f"end {peaks['fp32_end']:.1f}; load average {info['load_average_start'][0]:.2f} -> "
        f"{info['load_average_end'][0]:.2f})"
    )
    if "bf16" in args.dtypes:
        bf16_peak = max(peaks["bf16_start"], peaks["bf16_end"])
        print(f"bf16 matmul peak {bf16_peak:.1f} GFLOP/s (bf16 rows still report the fraction of the fp32 peak)")
    print()
    print(HEADER)
    for row in rows:
        print(format_row(row))
    for note in notes:
        print(f"\n{note}")

    result = {
        "machine": info,
        "matmul_peak_gflops": peaks,
        "fp32_peak_gflops": fp32_peak,
        "rows": [asdict(r) for r in rows],
        "notes": notes,
    }
    if args.breakdown:
        frames = 243 if 243 in args.frames else max(args.frames)
        result["breakdown"] = breakdown(frames, args.layers[args.frames.index(frames)], device)
        print_breakdown(result["breakdown"])
    write_json(args, result)
    return result


if __name__ == "__main__":
    main()
