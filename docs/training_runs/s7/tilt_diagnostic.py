"""Where the lifting error is: the body's forward tilt (pitch of the pelvis->thorax axis in camera coordinates).

    python docs/training_runs/s7/tilt_diagnostic.py MODEL [FRAME_STEP]

S9 with ground-truth 2D, every FRAME_STEP-th frame (default 20): MPJPE, P-MPJPE, the mean signed and absolute
error of the spine's pitch (degrees, the angle of pelvis->thorax in the camera's y-z plane) and of its roll (x-y
plane), and the MPJPE after turning each prediction's pitch to the truth's (rotation about the camera's x axis
through the pelvis): what a model that knew the camera's elevation would gain.
"""
import sys
import warnings

import numpy as np
import torch

from mpm_hf import MPMForPoseLifting
from mpm_hf.data.corpora import load_corpus
from mpm_hf.inference import lift_sequence
from mpm_hf.metrics import p_mpjpe

warnings.filterwarnings("ignore")
model = MPMForPoseLifting.from_pretrained(sys.argv[1]).eval()
step = int(sys.argv[2]) if len(sys.argv) > 2 else 20
predicted, target = [], []
for sequence in load_corpus("h36m", "../shared/data/h36m", split="test", subjects=["S9"], keypoints="gt"):
    frames = np.arange(0, len(sequence["poses_3d"]), step)
    predicted.append(lift_sequence(model, sequence["keypoints_2d"], frames=frames))  # centred windows, pelvis at 0
    target.append(np.asarray(sequence["poses_3d"], dtype=np.float32)[frames])
predicted, target = np.concatenate(predicted), np.concatenate(target)


def angles(poses):
    spine = poses[:, 8] - poses[:, 0]  # thorax - pelvis (H36M-17: 8 = thorax)
    pitch = np.degrees(np.arctan2(spine[:, 2], -spine[:, 1]))  # toward the camera's depth axis; y points down
    roll = np.degrees(np.arctan2(spine[:, 0], -spine[:, 1]))
    return pitch, roll


pitch_p, roll_p = angles(predicted)
pitch_t, roll_t = angles(target)
delta = np.radians(pitch_t - pitch_p)  # turn the prediction about the camera x axis by this
c, s = np.cos(delta), np.sin(delta)
rotation = np.zeros((len(delta), 3, 3))
rotation[:, 0, 0] = 1
rotation[:, 1, 1], rotation[:, 1, 2], rotation[:, 2, 1], rotation[:, 2, 2] = c, s, -s, c
# y' = c y + s z, z' = -s y + c z rotates (y, z) by -delta in the (y, z) plane; pick the sign that reduces the error
turned_a = np.einsum("nij,nkj->nki", rotation, predicted)
turned_b = np.einsum("nji,nkj->nki", rotation, predicted)
error = lambda p: 1000 * float(np.mean(np.linalg.norm(p - target, axis=-1)))  # noqa: E731
print(f"frames {len(target)}  MPJPE {error(predicted):.1f}  P-MPJPE "
      f"{1000 * float(p_mpjpe(torch.from_numpy(predicted), torch.from_numpy(target)).mean()):.1f} mm")
print(f"spine pitch: truth mean {pitch_t.mean():.1f} deg, prediction mean {pitch_p.mean():.1f}; signed error "
      f"{(pitch_p - pitch_t).mean():+.1f}, absolute {np.abs(pitch_p - pitch_t).mean():.1f} deg")
print(f"spine roll: signed error {(roll_p - roll_t).mean():+.1f}, absolute {np.abs(roll_p - roll_t).mean():.1f} deg")
print(f"MPJPE with the pitch set to the truth's: {min(error(turned_a), error(turned_b)):.1f} mm")
