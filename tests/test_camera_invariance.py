"""Lifting does not depend on the camera's intrinsics, the image size, or the person's scale and position.

The same 3D seen through other intrinsics moves every pixel by ``u' = a (u - c) + c'`` (focal length scaled by
``a``, principal point moved, canvas resized): a model with ``input_normalization="window"`` must give the same
3D. Checked exactly on a random model, and on real Human3.6M S9 poses with the packaged default model.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mpm_hf import MPMConfig, MPMForPoseLifting
from mpm_hf.defaults import default_model_path
from mpm_hf.metrics import mpjpe
from mpm_hf.pipelines import MPMPoseLiftingPipeline

# (name, focal scale, principal-point shift in pixels, canvas scale)
VARIANTS = [
    ("focal x0.4", 0.4, (0.0, 0.0), 1.0),
    ("focal x4", 4.0, (0.0, 0.0), 4.0),
    ("principal point moved", 1.0, (-300.0, 180.0), 1.0),
    ("canvas 2x", 1.0, (500.0, 500.0), 2.0),
    ("focal x2.5, off-centre", 2.5, (900.0, -200.0), 3.0),
]


def pinhole(points: np.ndarray, focal: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Camera-space metres ``(..., 3)`` -> pixels ``(..., 2)``."""
    return focal * points[..., :2] / points[..., 2:] + centre


def test_window_normalised_models_are_exactly_invariant():
    torch.manual_seed(0)
    model = MPMForPoseLifting(MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                        num_hidden_layers=1, input_normalization="window")).eval()
    pipe = MPMPoseLiftingPipeline(model=model, device="cpu")
    rng = np.random.default_rng(0)
    points = rng.normal(scale=0.3, size=(30, 17, 3)) + (0.2, 0.1, 4.5)
    reference = pipe(pinhole(points, np.array([1000.0, 1000.0]), np.array([500.0, 500.0])),
                     image_size=(1000, 1000))["poses_3d"]
    for _, scale, shift, canvas in VARIANTS:
        size = (int(1000 * canvas), int(1000 * canvas))
        pixels = pinhole(points, 1000.0 * scale * np.ones(2), np.array([500.0, 500.0]) * canvas + shift)
        np.testing.assert_allclose(pipe(pixels, image_size=size)["poses_3d"], reference, atol=2e-5)
        np.testing.assert_allclose(pipe(pixels)["poses_3d"], reference, atol=2e-5)  # without image_size


@pytest.mark.shared_data
def test_default_model_on_s9_through_other_cameras(shared_data_dir):
    folder = default_model_path("pose-lifting")
    if folder is None:
        pytest.skip("no packaged default lifting model")
    from mpm_hf.data.h36m import load_h36m_arrays

    model = MPMForPoseLifting.from_pretrained(folder).eval()
    pipe = MPMPoseLiftingPipeline(model=model, device="cpu")
    sequences = load_h36m_arrays(shared_data_dir / "h36m", subjects=["S9"], actions=["Walking", "Sitting"])[::3]
    errors: dict[str, list[float]] = {}
    for sequence in sequences:
        frames = slice(0, 600)
        points = sequence["poses_3d"][frames] + sequence["root_trajectory"][frames, None]
        width, height = sequence["image_width"], sequence["image_height"]
        fx, fy, cx, cy = sequence["camera_intrinsics"][:4] * np.array([width / 2, width / 2, width / 2, width / 2])
        centre = np.array([cx + width / 2, cy + height / 2])  # normalised -> pixels
        target = sequence["poses_3d"][frames]
        rows = [("original", 1.0, (0.0, 0.0), 1.0), *VARIANTS]
        for name, scale, shift, canvas in rows:
            pixels = pinhole(points, np.array([fx, fy]) * scale, centre * canvas + np.array(shift))
            size = (int(width * canvas), int(height * canvas))
            predicted = pipe(pixels, image_size=size)["poses_3d"]
            errors.setdefault(name, []).append(1000 * float(mpjpe(predicted, target)))
    original = np.mean(errors["original"])
    for name, values in errors.items():
        assert abs(np.mean(values) - original) <= 8.0, (name, np.mean(values), original)
