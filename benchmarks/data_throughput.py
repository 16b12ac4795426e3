"""Data-pipeline throughput: Human3.6M training windows per second via ``PoseWindows`` + ``DataLoader``.

What is measured:

- **load**: seconds to read the training subjects (S1, S5, S6, S7, S8; ground-truth 2D, projected and
  cached on the first run) with :func:`mpm_hf.data.h36m.load_h36m_arrays`, and to build
  :class:`mpm_hf.data.windows.PoseWindows` (one window centred on every frame).
- **fetch**: windows/s of a shuffled ``torch.utils.data.DataLoader`` that fetches each batch with one
  ``__getitems__`` call (``collate_fn=collate_windows``): ``--batches`` timed batches of ``--batch-size``
  windows of ``--num-frames`` frames (2D + 3D + validity), after ``--warmup`` untimed ones. The median
  batch time is reported besides the mean, since the machine may be shared.
- **memory**: peak resident set of the process (``ru_maxrss``), and the resident set after loading and
  after building the windows (``psutil``, when installed).

Usage::

    python benchmarks/data_throughput.py --batches 20 --json data_throughput.json
    python benchmarks/data_throughput.py --data-dir /path/to/h36m --num-frames 243 --batch-size 1024
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from mpm_hf.data.h36m import TRAIN_SUBJECTS, load_h36m_arrays
from mpm_hf.data.windows import PoseWindows, collate_windows

REPO_ROOT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    shared = os.environ.get("MPM_SHARED_DATA")
    return (Path(shared) if shared else REPO_ROOT.parent / "shared" / "data") / "h36m"


def current_rss_mib() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="Human3.6M folder")
    parser.add_argument("--batches", type=int, default=20, help="timed batches (20)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first (2)")
    parser.add_argument("--num-frames", type=int, default=243, help="window length (243)")
    parser.add_argument("--batch-size", type=int, default=1024, help="windows per batch (1024)")
    parser.add_argument("--downsample", type=int, default=1, help="frame step inside a window (1)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (0)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    if args.batches < 1 or args.batch_size < 1 or args.warmup < 0:
        parser.error("--batches and --batch-size must be >= 1, --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    start = time.perf_counter()
    sequences = load_h36m_arrays(args.data_dir, TRAIN_SUBJECTS, keypoints="gt")
    load_s = time.perf_counter() - start
    rss_loaded = current_rss_mib()

    start = time.perf_counter()
    windows = PoseWindows.from_sequences(sequences, num_frames=args.num_frames, downsample=args.downsample)
    windows_s = time.perf_counter() - start
    del sequences  # the windows hold their own concatenated copy
    rss_windows = current_rss_mib()

    loader = DataLoader(
        windows,
        batch_size=args.batch_size,
        shuffle=True,
        collate_fn=collate_windows,
        num_workers=args.num_workers,
        generator=torch.Generator().manual_seed(0),
    )
    batch_times, batch_bytes = [], 0
    iterator = iter(loader)
    for step in range(args.warmup + args.batches):
        start = time.perf_counter()
        batch = next(iterator)
        elapsed = time.perf_counter() - start
        if step >= args.warmup:
            batch_times.append(elapsed)
            batch_bytes = sum(v.numel() * v.element_size() for v in batch.values())
    total = sum(batch_times)

    results = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "torch": torch.__version__,
        },
        "config": {
            "data_dir": str(args.data_dir),
            "subjects": list(TRAIN_SUBJECTS),
            "keypoints": "gt",
            "num_frames": args.num_frames,
            "batch_size": args.batch_size,
            "downsample": args.downsample,
            "num_workers": args.num_workers,
            "batches": args.batches,
            "warmup": args.warmup,
        },
        "frames": int(windows.sequence_lengths.sum()),
        "sequences": len(windows.sequence_lengths),
        "windows": len(windows),
        "load_s": load_s,
        "build_windows_s": windows_s,
        "windows_per_s": args.batches * args.batch_size / total,
        "batches_per_s": args.batches / total,
        "median_batch_ms": 1000 * statistics.median(batch_times),
        "mean_batch_ms": 1000 * total / args.batches,
        "batch_mib": batch_bytes / 2**20,
        "rss_after_load_mib": rss_loaded,
        "rss_after_windows_mib": rss_windows,
        "peak_rss_mib": peak_rss_mib(),
    }
    print_table(results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return results


def print_table(r: dict) -> None:
    c = r["config"]

    def mib(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.0f}"

    print(
        f"# Data throughput, {r['date']}, {r['machine']['cpus']} CPUs, load average "
        f"{r['machine']['load_average'][0]:.2f}, torch {r['machine']['torch']}\n"
    )
    print(
        f"Human3.6M {', '.join(c['subjects'])} (GT 2D): {r['sequences']} sequences, {r['frames']:,} frames, "
        f"{r['windows']:,} windows of {c['num_frames']} frames (downsample {c['downsample']})\n"
    )
    rows = [
        ("load arrays (s)", f"{r['load_s']:.2f}"),
        ("build PoseWindows (s)", f"{r['build_windows_s']:.3f}"),
        (f"batch of {c['batch_size']} (MiB)", f"{r['batch_mib']:.1f}"),
        ("median batch (ms)", f"{r['median_batch_ms']:.1f}"),
        ("mean batch (ms)", f"{r['mean_batch_ms']:.1f}"),
        ("**windows/s**", f"**{r['windows_per_s']:,.0f}**"),
        ("batches/s", f"{r['batches_per_s']:.2f}"),
        ("RSS after load (MiB)", mib(r["rss_after_load_mib"])),
        ("RSS after windows (MiB)", mib(r["rss_after_windows_mib"])),
        ("peak RSS (MiB)", mib(r["peak_rss_mib"])),
    ]
    print("| measure | value |\n|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"\n{c['batches']} timed batches after {c['warmup']} warm-up, {c['num_workers']} workers.")


if __name__ == "__main__":
    main()
