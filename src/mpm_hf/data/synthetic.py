"""Synthetic Human3.6M-17 motion: a stand-in corpus for tests and for the demo when no real data is present.

Each sequence is a skeleton with human bone lengths whose limbs swing periodically (a walking-like gait with
random phase, amplitude and speed), turned by a random yaw, placed 4-6 m in front of a pinhole camera and
projected. It is not human motion data and no model quality claim rests on it; it exercises every code path with
poses of the right scale, units and joint order.
"""

from __future__ import annotations

import numpy as np

# Rest pose (metres, y up, x to the subject's left), Human3.6M-17 order.
_REST_POSE = np.array(
    [
        [0.00, 0.00, 0.0],  # pelvis
        [-0.13, 0.00, 0.0],  # right hip
        [-0.13, -0.45, 0.0],  # right knee
        [-0.13, -0.88, 0.0],  # right ankle
        [0.13, 0.00, 0.0],  # left hip
        [0.13, -0.45, 0.0],  # left knee
        [0.13, -0.88, 0.0],  # left ankle
        [0.00, 0.23, 0.0],  # spine
        [0.00, 0.48, 0.0],  # thorax
        [0.00, 0.58, 0.05],  # neck / nose
        [0.00, 0.70, 0.0],  # head
        [0.17, 0.46, 0.0],  # left shoulder
        [0.17, 0.18, 0.0],  # left elbow
        [0.17, -0.07, 0.0],  # left wrist
        [-0.17, 0.46, 0.0],  # right shoulder
        [-0.17, 0.18, 0.0],  # right elbow
        [-0.17, -0.07, 0.0],  # right wrist
    ],
    dtype=np.float64,
)

# (joint, pivot, phase sign): limbs rotate about the x axis around their pivot.
_SWINGS = [
    ((2, 3), 1, 1.0),  # right leg about the right hip
    ((5, 6), 4, -1.0),  # left leg about the left hip
    ((12, 13), 11, 1.0),  # left arm about the left shoulder
    ((15, 16), 14, -1.0),  # right arm about the right shoulder
]


def _rotation_x(angles: np.ndarray) -> np.ndarray:
    c, s = np.cos(angles), np.sin(angles)
    zeros, ones = np.zeros_like(angles), np.ones_like(angles)
    return np.stack([ones, zeros, zeros, zeros, c, -s, zeros, s, c], axis=-1).reshape(*angles.shape, 3, 3)


def synthetic_motion(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """One sequence ``(num_frames, 17, 3)`` in camera space (metres, x right, y down, z forward)."""
    time = np.arange(num_frames) / 50.0
    frequency = rng.uniform(0.6, 1.4)
    phase = rng.uniform(0, 2 * np.pi)
    poses = np.repeat(_REST_POSE[None], num_frames, axis=0) * rng.uniform(0.9, 1.1)
    for joints, pivot, sign in _SWINGS:
        amplitude = rng.uniform(0.2, 0.7)
        angle = sign * amplitude * np.sin(2 * np.pi * frequency * time + phase)
        rotation = _rotation_x(angle)  # (T, 3, 3)
        offsets = poses[:, list(joints)] - poses[:, pivot : pivot + 1]
        poses[:, list(joints)] = poses[:, pivot : pivot + 1] + np.einsum("tij,tkj->tki", rotation, offsets)
    yaw = rng.uniform(-np.pi, np.pi) + 0.3 * np.sin(2 * np.pi * 0.1 * time)
    c, s = np.cos(yaw), np.sin(yaw)
    rotation_y = np.stack(
        [c, np.zeros_like(c), s, np.zeros_like(c), np.ones_like(c), np.zeros_like(c), -s, np.zeros_like(c), c], -1
    ).reshape(-1, 3, 3)
    poses = np.einsum("tij,tkj->tki", rotation_y, poses)
    poses[..., 1:] *= -1  # y up -> camera y down: a half turn about x (negating y alone would mirror the body)
    root = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.2, 0.2), rng.uniform(4.0, 6.0)])
    return poses + root


def synthetic_sequences(
    num_sequences: int = 8,
    num_frames: int = 300,
    seed: int = 0,
    image_size: tuple[int, int] = (1000, 1000),
    focal_length: float = 1150.0,
) -> list[dict[str, np.ndarray]]:
    """Sequences with ``keypoints_2d (N, 17, 2)`` normalised screen coordinates, ``poses_3d (N, 17, 3)``
    root-relative metres and ``valid (N, 17)``, like one row of ``load_h36m_arrays``."""
    rng = np.random.default_rng(seed)
    width, height = image_size
    sequences = []
    for _ in range(num_sequences):
        camera_space = synthetic_motion(num_frames, rng)
        pixels = focal_length * camera_space[..., :2] / camera_space[..., 2:] + np.array([width, height]) / 2
        normalised = pixels / width * 2 - np.array([1, height / width])
        sequences.append(
            {
                "keypoints_2d": normalised.astype(np.float32),
                "poses_3d": (camera_space - camera_space[:, :1]).astype(np.float32),
                "valid": np.ones(camera_space.shape[:2], dtype=bool),
            }
        )
    return sequences
