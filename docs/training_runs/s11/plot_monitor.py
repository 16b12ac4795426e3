"""The eleventh session's monitor as a figure: S9 partial 2D -> 3D MPJPE with both legs, both arms and nothing
hidden, per checkpoint of the two 2D-only fine-tunes of the shipped completion model; with more monitor files
(the twelfth session's resumed runs), their points continue the curves, drawn hollow.

    python docs/training_runs/s11/plot_monitor.py docs/figures/completion-s11.png
    python docs/training_runs/s11/plot_monitor.py docs/figures/completion-s12.png docs/training_runs/s11/monitor.jsonl \
        docs/training_runs/s12/monitor.jsonl
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
    monitors = [Path(path) for path in sys.argv[2:]] or [Path(__file__).with_name("monitor.jsonl")]
    parts = [[json.loads(line) for line in path.read_text().splitlines()] for path in monitors]
    later = {(row["run"], row["step"]) for part in parts[1:] for row in part}
    rows = [row for part in parts for row in part]
    figure, axes = plt.subplots(1, len(PANELS), figsize=(15, 4), sharex=True)
    for run, label in LABELS.items():
        points = sorted((row["step"], row) for row in rows if row["run"] == run)
        steps = [step for step, _ in points]
        for axis, (key, _, _) in zip(axes, PANELS, strict=True):
            values = [row[key] for _, row in points]
            (line,) = axis.plot(steps, values, marker="o", markersize=3, label=label)
            resumed = [(step, value) for step, value in zip(steps, values, strict=True) if (run, step) in later]
            if resumed:
                axis.plot(*zip(*resumed, strict=True), linestyle="none", marker="o", markersize=5,
                          markerfacecolor="white", color=line.get_color(), label=f"{label}: resumed")
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
