"""The eleventh session's monitor as a figure: S9 partial 2D -> 3D MPJPE with both legs, both arms and nothing
hidden, per checkpoint of the two 2D-only fine-tunes of the shipped completion model.

    python docs/training_runs/s11/plot_monitor.py docs/figures/completion-s11.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"completion-2d": "2D only, centre-frame loss (the paper's)",
          "completion-2d-seq": "2D only, + every frame's loss"}
PANELS = (("legs_2d", "both legs hidden", 80.0), ("arms_2d", "both arms hidden", 95.0),
          ("none_2d", "nothing hidden", None))


def main() -> None:
    rows = [json.loads(line) for line in Path(__file__).with_name("monitor.jsonl").read_text().splitlines()]
    figure, axes = plt.subplots(1, len(PANELS), figsize=(15, 4), sharex=True)
    for run, label in LABELS.items():
        points = sorted((row["step"], row) for row in rows if row["run"] == run)
        steps = [step for step, _ in points]
        for axis, (key, _, _) in zip(axes, PANELS, strict=True):
            axis.plot(steps, [row[key] for _, row in points], marker="o", markersize=3, label=label)
    for axis, (_, title, target) in zip(axes, PANELS, strict=True):
        if target is not None:
            axis.axhline(target, color="red", linestyle="--", linewidth=1, label="issue target (all frames)")
        axis.set_title(f"S9, ground-truth 2D, every 50th frame: {title}", fontsize=9)
        axis.set_xlabel("fine-tuning steps from the shipped completion model (step 0)")
        axis.set_ylabel("MPJPE (mm)")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(sys.argv[1], dpi=110)
    print(f"wrote {sys.argv[1]}")


if __name__ == "__main__":
    main()
