"""Completion init whose partial-2D->3D path starts as a lifter as good as the lifting model's sequence head.

mpm.* <- the lifting model (18,500 steps); decoder_2d <- the completion model's (10,500 steps); decoder_3d: its
transformer layer made the identity (attention out_proj and fc2 zeroed: the residual passes the tokens through),
the decoder's position embeddings zeroed, its LayerNorm's affine reset, and the head (BatchNorm + Linear) fitted by
ridge regression: centre-frame decoder features of training windows (S1, S5-S8, ground-truth 2D, 150 per sequence)
-> root-relative 3D, on the features standardised by the head's BatchNorm (its running statistics set to theirs).
"""
import sys
import warnings

import numpy as np
import torch

from mpm_hf import MPMForPoseCompletion, MPMForPoseLifting
from mpm_hf.data.corpora import load_corpus
from mpm_hf.windowing import centred_windows

warnings.filterwarnings("ignore")
comp = MPMForPoseCompletion.from_pretrained("runs/s4-completion/checkpoints/checkpoint-10500")
lift = MPMForPoseLifting.from_pretrained("runs/s4-lift-c/checkpoints/checkpoint-18500")
state, lifted = comp.state_dict(), lift.state_dict()
for key in state:
    if key.startswith("mpm."):
        state[key] = lifted[key].clone()
for key in list(state):
    if key.startswith("decoder.decoder_3d.layers.") and (".attention.out_proj." in key or ".feed_forward.fc2." in key):
        state[key].zero_()
state["decoder.position_embeddings"].zero_()
state["decoder.encoder_norm.weight"].fill_(1.0)
state["decoder.encoder_norm.bias"].zero_()
comp.load_state_dict(state)
comp.eval()

rng = np.random.default_rng(0)
features, targets = [], []
config = comp.config
for sequence in load_corpus("h36m", "../shared/data/h36m", split="train", subjects="S1,S5,S6,S7,S8".split(","),
                            keypoints="gt"):
    keypoints = np.asarray(sequence["keypoints_2d"], dtype=np.float32)
    poses = np.asarray(sequence["poses_3d"], dtype=np.float32)
    centres = rng.choice(len(keypoints), size=min(150, len(keypoints)), replace=False)
    index = centred_windows(len(keypoints), config.num_frames, config.downsample, centres=centres)
    with torch.no_grad():
        hidden = comp.mpm(torch.from_numpy(keypoints[index])).last_hidden_state
        features.append(comp.decoder.restore_frames(hidden, None)[:, config.num_frames // 2].numpy())
    targets.append((poses[centres] - poses[centres][:, :1]).reshape(len(centres), -1))
features, targets = np.concatenate(features).astype(np.float64), np.concatenate(targets).astype(np.float64)
# ridge regression on standardised features: the LayerNorm makes the features sum to zero (collinear with the
# bias), so plain least squares gives weights of norm ~6600 that blow up the first training steps
mean, std = features.mean(0), features.std(0)
standard = (features - mean) / std
offset = targets.mean(0)
ridge = float(sys.argv[2]) if len(sys.argv) > 2 else 100.0
weights = np.linalg.solve(standard.T @ standard + ridge * np.eye(standard.shape[1]), standard.T @ (targets - offset))
fitted = standard @ weights + offset
error = 1000 * np.linalg.norm((fitted - targets).reshape(len(targets), -1, 3), axis=-1).mean()
print(f"ridge head (lambda {ridge:g}): training MPJPE {error:.1f} mm over {len(targets)} windows, "
      f"weight norm {np.linalg.norm(weights):.2f}")

head = comp.decoder.decoder_3d.head  # BatchNorm standardises (its statistics: the features'), Linear = the fit
with torch.no_grad():
    head.batch_norm.running_mean.copy_(torch.from_numpy(mean))
    head.batch_norm.running_var.copy_(torch.from_numpy(std**2 - head.batch_norm.eps).clamp(min=1e-12))
    head.batch_norm.weight.fill_(1.0)
    head.batch_norm.bias.zero_()
    head.dense.weight.copy_(torch.from_numpy(weights.T))
    head.dense.bias.copy_(torch.from_numpy(offset))
comp.save_pretrained(sys.argv[1])
print("saved", sys.argv[1])
