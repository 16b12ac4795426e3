"""The tenth session's monitor as a figure: S9 partial 2D -> 3D MPJPE with both legs hidden, per checkpoint.

    python docs/training_runs/s10/plot_monitor.py docs/figures/completion-s10-legs.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"completion-tds6": "window normalisation, tds 6 (3.1 s)",
          "completion-tds12": "window normalisation, tds 12 (6.3 s)",
          "completion-screen": "screen normalisation, tds 6 (from the tds-6 run's step 4000)"}
OFFSET = {"completion-screen": 4000}  # the screen run continues the tds-6 run's checkpoint-4000


def main() -> None:
    rows = [json.loads(line) for line in Path(__file__).with_name("monitor.jsonl").read_text().splitlines()]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for run, label in LABELS.items():
        points = sorted((row["step"] + OFFSET.get(run, 0), row) for row in rows
                        if row["run"] == run and not (run in OFFSET and row["step"] == 0))
        if not points:
            continue
        steps = [step for step, _ in points]
        for axis, key in zip(axes, ("legs_2d", "none_2d"), strict=True):
            axis.plot(steps, [row[key] for _, row in points], marker="o", markersize=3, label=label)
    for axis, title in zip(axes, ("both legs hidden", "nothing hidden"), strict=True):
        axis.axhline(98.4 if title.startswith("both") else 57.4, color="grey", linestyle=":",
                     label="shipped model (tds 2)")
        axis.set_title(f"S9, ground-truth 2D, every 50th frame: {title}")
        axis.set_xlabel("fine-tuning steps from the shipped completion model")
        axis.set_ylabel("MPJPE (mm)")
        axis.grid(alpha=0.3)
    axes[0].axhline(80.0, color="red", linestyle="--", linewidth=1, label="issue target (all frames)")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(sys.argv[1], dpi=110)
    print(f"wrote {sys.argv[1]}")


if __name__ == "__main__":
    main()
