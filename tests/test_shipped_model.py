"""The checkpoint shipped in pretrained/ loads, lifts, and is as accurate as its card says."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mpm_hf import MPMForPoseLifting

from .conftest import REPO_ROOT

SHIPPED = REPO_ROOT / "pretrained" / "mpm-h36m-27f"


def test_shipped_model_loads_and_lifts_a_generated_sequence():
    from transformers import pipeline

    from mpm_hf.data.synthetic import synthetic_sequences

    model = MPMForPoseLifting.from_pretrained(SHIPPED).eval()
    assert model.config.num_frames == 27 and model.config.downsample == 2
    sequence = synthetic_sequences(num_sequences=1, num_frames=60, seed=3)[0]
    result = pipeline("pose-lifting", model=model)(sequence["keypoints_2d"], normalized=True)
    poses = result["poses_3d"]
    assert poses.shape == (60, 17, 3) and np.isfinite(poses).all()
    assert (poses[:, 0] == 0).all()
    # a human-sized skeleton: thigh bones (hip-knee) of 0.3-0.6 m
    thigh = np.linalg.norm(poses[:, 2] - poses[:, 1], axis=-1)
    assert 0.25 < float(np.median(thigh)) < 0.65


@pytest.mark.shared_data
def test_shipped_model_accuracy_on_s9_matches_its_card(shared_data_dir):
    from mpm_hf.data.h36m import load_h36m_arrays
    from mpm_hf.evaluation import evaluate_lifting

    torch.manual_seed(0)
    model = MPMForPoseLifting.from_pretrained(SHIPPED).eval()
    sequences = load_h36m_arrays(shared_data_dir / "h36m", subjects=("S9",), keypoints="gt", actions=("Walking",))
    report = evaluate_lifting(model, sequences, frame_step=20, progress=False)
    card = json.loads((SHIPPED / "eval_results.json").read_text())[0]
    assert report["num_frames"] > 500
    # one action's subsample: within 25 mm of the all-S9 figure of the card, and far from an untrained model
    assert abs(report["mpjpe"] - card["mpjpe"]) < 25.0
    assert report["mpjpe"] < 100.0
