"""Does the lifting model predict poses in the viewing ray's frame? Window normalisation hides where the person is
in the image, so the model cannot know the angle between the optical axis and the ray through the pelvis. Each
S9 prediction is turned from the ray's frame to the camera's (the smallest rotation taking the optical axis onto
the ray) and scored, overall and by ray angle.

    python docs/training_runs/s8/ray_diagnostic.py MODEL FRAME_STEP [KEYPOINTS]   (from the repository root)
"""
import sys
import warnings

import numpy as np
from scale_diagnostic import centre_predictions  # this folder's (the script's folder is on sys.path)
from scipy.spatial.transform import Rotation

from mpm_hf import MPMForPoseLifting


def main() -> None:
    warnings.filterwarnings("ignore")
    model = MPMForPoseLifting.from_pretrained(sys.argv[1]).eval()
    step, keypoints = int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "gt"
    predicted, target, rays = centre_predictions(model, "S9", keypoints, step)
    predicted, target = predicted.astype(np.float64), target.astype(np.float64)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    axis = np.cross([0.0, 0.0, 1.0], rays)
    angle = np.arccos(np.clip(rays[:, 2], -1, 1))
    rotation = Rotation.from_rotvec(axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)
                                    * angle[:, None]).as_matrix()
    turned = np.einsum("nij,nkj->nki", rotation, predicted)
    raw = 1000 * np.linalg.norm(predicted - target, axis=-1).mean(-1)
    rotated = 1000 * np.linalg.norm(turned - target, axis=-1).mean(-1)
    degrees = np.degrees(angle)
    print(f"S9 {keypoints}: ray angle mean {degrees.mean():.1f}, max {degrees.max():.1f} deg; "
          f"MPJPE {raw.mean():.1f} mm, turned to the ray {rotated.mean():.1f} mm")
    for low, high in ((0, 5), (5, 10), (10, 15), (15, 90)):
        rows = (degrees >= low) & (degrees < high)
        if rows.any():
            print(f"  ray {low}-{high} deg: {rows.sum()} frames, MPJPE {raw[rows].mean():.1f}, "
                  f"turned {rotated[rows].mean():.1f} mm")


if __name__ == "__main__":
    main()
