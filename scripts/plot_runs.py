"""Overlay one logged value of several training runs (e.g. the pre-training ablation) in one PNG.

    python scripts/plot_runs.py --key loss_centre --output docs/figures/ablation.png \
        "no stage I=runs/a/logs/metrics.jsonl" "2D+3D stage I=runs/c/logs/metrics.jsonl@1000"

Each run is ``LABEL=PATH[@OFFSET]``: the ``metrics.jsonl`` a run's trackers wrote, and an optional step offset
added to its steps (the stage-I steps that came before a fine-tuning run, so that curves line up by total compute).
``--x minutes`` plots against wall time since each run's first logged record instead (runs of different step
times compared at equal compute; the offset is then ignored).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mpm_hf.visualization import plot_loss_curves


def read_values(path: Path, key: str, offset: int, x: str = "step") -> list[tuple[float, float]]:
    """``(x, value)`` pairs of ``key`` in a ``metrics.jsonl``: x is the step plus ``offset``, or (``x="minutes"``)
    the minutes since the file's first record with a time stamp."""
    values, start = [], None
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if x == "minutes" and "time" in record:
            start = record["time"] if start is None else start
        if key in record and "step" in record:
            if x == "minutes":
                if "time" not in record:
                    raise ValueError(f"{path}: a {key!r} record without a time stamp cannot be plotted by minutes")
                values.append(((record["time"] - start) / 60.0, float(record[key])))
            else:
                values.append((int(record["step"]) + offset, float(record[key])))
    if not values:
        raise ValueError(f"{path}: no {key!r} values logged")
    return values


def smoothed(values: list[tuple[float, float]], size: int) -> list[tuple[float, float]]:
    """Means of each ``size`` consecutive ``(x, value)`` pairs, at their last x (a shorter tail is dropped)."""
    if size < 1:
        raise ValueError(f"--smooth: expected at least 1, got {size}")
    return [(values[end - 1][0], sum(value for _, value in values[end - size:end]) / size)
            for end in range(size, len(values) + 1, size)]


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="LABEL=PATH[@OFFSET]")
    parser.add_argument("--key", default="loss_centre", help="logged value to plot (loss_centre)")
    parser.add_argument("--output", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--title", default=None)
    parser.add_argument("--ylabel", default=None, help="y-axis label (default: the key)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply values by this (1000: metres -> mm)")
    parser.add_argument("--smooth", type=int, default=1,
                        help="plot the mean of each N consecutive records (N = 1: every record)")
    parser.add_argument("--x", choices=("step", "minutes"), default="step",
                        help="x axis: step (plus offset) or wall-clock minutes since the run's first record")
    args = parser.parse_args(argv)
    history = {}
    for item in args.runs:
        label, _, location = item.partition("=")
        if not location:
            parser.error(f"run {item!r}: expected LABEL=PATH[@OFFSET]")
        path, _, offset = location.partition("@")
        values = read_values(Path(path), args.key, int(offset or 0), args.x)
        history[label] = [(step, value * args.scale) for step, value in smoothed(values, args.smooth)]
    xlabel = "step (stage I + stage II)" if args.x == "step" else "minutes of training"
    written = plot_loss_curves(history, args.output, title=args.title, xlabel=xlabel,
                               ylabel=args.ylabel or args.key)
    print(f"wrote {written}")
    return written


if __name__ == "__main__":
    main()
