"""How much of the lifting error is the subject's size? MPJPE, N-MPJPE (each pose's scale fitted), P-MPJPE, and
MPJPE after one scale fitted for the whole subject, with the mean summed bone length of prediction and truth.

    python docs/training_runs/s8/scale_diagnostic.py MODEL FRAME_STEP SUBJECT [KEYPOINTS]   (from the repository root)

Centred windows on every FRAME_STEP-th frame of SUBJECT (S1, S5-S8: training subjects; S9: the test subject).
"""
import sys
import warnings

import numpy as np
import torch

from mpm_hf import MPMForPoseLifting
from mpm_hf.data.corpora import load_corpus
from mpm_hf.inference import lift_sequence
from mpm_hf.metrics import n_mpjpe, p_mpjpe

PARENTS = [0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]  # of joints 1..16 (Human3.6M-17)


def centre_predictions(model, subject: str, keypoints: str, step: int) -> tuple[np.ndarray, ...]:
    """Every ``step``-th frame of ``subject`` lifted by the paper's per-frame protocol (``lift_sequence``): the
    predictions and truths, ``(frames, 17, 3)`` metres, pelvis at 0, and the pelvis in camera coordinates
    ``(frames, 3)`` metres."""
    split = "test" if subject == "S9" else "train"
    predicted, target, root = [], [], []
    for sequence in load_corpus("h36m", "../shared/data/h36m", split=split, subjects=[subject], keypoints=keypoints):
        frames = np.arange(0, len(sequence["poses_3d"]), step)
        missing = ~np.asarray(sequence["valid"], dtype=bool) if "valid" in sequence else None
        predicted.append(lift_sequence(model, sequence["keypoints_2d"], missing, frames=frames))
        target.append(np.asarray(sequence["poses_3d"], dtype=np.float32)[frames])
        root.append(np.asarray(sequence["root_trajectory"], dtype=np.float64)[frames])
    target = np.concatenate(target)
    return np.concatenate(predicted), target - target[:, :1], np.concatenate(root)


def main() -> None:
    warnings.filterwarnings("ignore")
    model = MPMForPoseLifting.from_pretrained(sys.argv[1]).eval()
    subject, keypoints = sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "gt"
    predicted, target, _ = centre_predictions(model, subject, keypoints, int(sys.argv[2]))

    def error(poses: np.ndarray) -> float:
        return 1000 * float(np.linalg.norm(poses - target, axis=-1).mean())

    def bones(poses: np.ndarray) -> float:
        return float(np.linalg.norm(poses[:, 1:] - poses[:, PARENTS], axis=-1).sum(-1).mean())

    scale = float((predicted * target).sum() / (predicted * predicted).sum())
    pair = torch.from_numpy(predicted), torch.from_numpy(target)
    print(f"{subject} {keypoints}: {len(target)} frames, MPJPE {error(predicted):.1f}, "
          f"N-MPJPE {1000 * float(n_mpjpe(*pair).mean()):.1f}, P-MPJPE {1000 * float(p_mpjpe(*pair).mean()):.1f} mm; "
          f"one scale for the subject x{scale:.3f}: {error(predicted * scale):.1f} mm")
    print(f"summed bone length: predicted {bones(predicted):.3f} m, true {bones(target):.3f} m")


if __name__ == "__main__":
    main()
