"""Overlay one logged value of several training runs (e.g. the pre-training ablation) in one PNG.

    python scripts/plot_runs.py --key loss_centre --output docs/figures/ablation.png \
        "no stage I=runs/a/logs/metrics.jsonl" "2D+3D stage I=runs/c/logs/metrics.jsonl@1000"

Each run is ``LABEL=PATH[@OFFSET]``: the ``metrics.jsonl`` a run's trackers wrote, and an optional step offset
added to its steps (the stage-I steps that came before a fine-tuning run, so that curves line up by total compute).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mpm_hf.visualization import plot_loss_curves


def read_values(path: Path, key: str, offset: int) -> list[tuple[int, float]]:
    values = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if key in record and "step" in record:
            values.append((int(record["step"]) + offset, float(record[key])))
    if not values:
        raise ValueError(f"{path}: no {key!r} values logged")
    return values


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="LABEL=PATH[@OFFSET]")
    parser.add_argument("--key", default="loss_centre", help="logged value to plot (loss_centre)")
    parser.add_argument("--output", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--title", default=None)
    parser.add_argument("--ylabel", default=None, help="y-axis label (default: the key)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply values by this (1000: metres -> mm)")
    args = parser.parse_args(argv)
    history = {}
    for item in args.runs:
        label, _, location = item.partition("=")
        if not location:
            parser.error(f"run {item!r}: expected LABEL=PATH[@OFFSET]")
        path, _, offset = location.partition("@")
        values = read_values(Path(path), args.key, int(offset or 0))
        history[label] = [(step, value * args.scale) for step, value in values]
    written = plot_loss_curves(history, args.output, title=args.title, xlabel="step (stage I + stage II)",
                               ylabel=args.ylabel or args.key)
    print(f"wrote {written}")
    return written


if __name__ == "__main__":
    main()
