"""Completion training: the tube masks CompletionStep draws and its 2D + 3D ("both") objective."""

import math

import numpy as np
import pytest
import torch

from mpm_hf import MPMConfig, MPMForPoseCompletion
from mpm_hf.data.synthetic import synthetic_sequences
from mpm_hf.data.windows import PoseWindows
from mpm_hf.masking import resolve_joints
from mpm_hf.training.tasks import COMPLETION_PARTS, CompletionStep, VirtualCameras, random_rotations


def tiny_completion_model() -> MPMForPoseCompletion:
    torch.manual_seed(0)
    return MPMForPoseCompletion(MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                          num_hidden_layers=1, input_normalization="window"))


def batch_of(size: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    poses = torch.randn(size, 9, 17, 3, generator=generator) * 0.3
    poses[:, :, 0] = 0
    return {"poses_3d": poses, "keypoints_2d": poses[..., :2] / (poses[..., 2:] + 5.0),
            "valid": torch.ones(size, 9, 17, dtype=torch.bool)}


def test_random_counts_are_tubes_of_one_to_k_joints_never_the_pelvis():
    step = CompletionStep("3d", num_masked=6, fixed_count=False)
    mask = step._hidden(4000, 9, 17, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.equal(mask, mask[:, :1].expand_as(mask))  # the same joints in every frame
    counts = mask[:, 0].sum(dim=1)
    assert set(counts.tolist()) == {1, 2, 3, 4, 5, 6}
    assert not mask[..., 0].any()


def test_part_masks_are_the_papers_body_parts():
    step = CompletionStep("3d", num_masked=2, part_prob=1.0)
    mask = step._hidden(500, 9, 17, torch.Generator().manual_seed(0), torch.device("cpu"))[:, 0]
    expected = {tuple(resolve_joints(part, 17)) for part in COMPLETION_PARTS}
    drawn = {tuple(torch.nonzero(row).flatten().tolist()) for row in mask}
    assert drawn == expected


def test_part_weights_set_how_often_each_part_is_hidden():
    step = CompletionStep("2d", part_prob=1.0, part_weights={"legs": 3, "arms": 0})
    mask = step._hidden(21000, 3, 17, torch.Generator().manual_seed(0), torch.device("cpu"))[:, 0]
    drawn = [tuple(torch.nonzero(row).flatten().tolist()) for row in mask]
    share = {part: drawn.count(tuple(resolve_joints(part, 17))) / len(drawn) for part in COMPLETION_PARTS}
    assert share["arms"] == 0  # weight 0: never drawn
    assert share["legs"] == pytest.approx(3 / 9, abs=0.015)  # 3 of 1 + 1 + 1 + 1 + 3 + 0 + 1 + 1
    assert share["left_leg"] == pytest.approx(1 / 9, abs=0.01)


def test_bad_part_weights_are_value_errors():
    with pytest.raises(ValueError, match="part_weights.*tail"):
        CompletionStep("2d", part_prob=0.5, part_weights={"tail": 2})
    with pytest.raises(ValueError, match="part_weights.*>= 0"):
        CompletionStep("2d", part_prob=0.5, part_weights={"legs": -1})
    with pytest.raises(ValueError, match="part_weights.*positive sum"):
        CompletionStep("2d", part_prob=0.5, part_weights=dict.fromkeys(COMPLETION_PARTS, 0))


def test_both_modalities_average_a_2d_and_a_3d_loss():
    model = tiny_completion_model().eval()
    calls = []
    hook = model.register_forward_pre_hook(lambda module, args, kwargs: calls.append(kwargs["poses"].shape),
                                           with_kwargs=True)
    step = CompletionStep("both", num_masked=3)
    try:
        loss, logs = step(model, batch_of(6), torch.Generator().manual_seed(0))
    finally:
        hook.remove()
    assert calls == [torch.Size([3, 9, 17, 2]), torch.Size([3, 9, 17, 3])]
    torch.testing.assert_close(loss, (logs["loss_2d_to_3d"] + logs["loss_3d_to_3d"]) / 2)


def test_completion_training_reduces_both_losses():
    windows = PoseWindows.from_sequences(synthetic_sequences(num_sequences=4, num_frames=120, seed=0), num_frames=9,
                                         stride=2)
    model = tiny_completion_model().train()
    step = CompletionStep("both", num_masked=4, fixed_count=False, part_prob=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    history = []
    for _ in range(120):
        batch = windows.__getitems__(torch.randint(len(windows), (32,), generator=generator).tolist())
        loss, logs = step(model, batch, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append([float(logs["loss_2d_to_3d"]), float(logs["loss_3d_to_3d"])])
    first, last = torch.tensor(history[:10]).mean(0), torch.tensor(history[-10:]).mean(0)
    assert torch.all(last < 0.6 * first), (first, last)


def test_virtual_cameras_turn_labels_with_the_2d():
    batch = batch_of(8)
    batch["root_trajectory"] = torch.tensor([0.0, 0.0, 5.0]).expand(8, 9, 3).clone()
    batch["projected_2d"] = torch.ones(8, dtype=torch.bool)
    out = VirtualCameras(prob=1.0, focal=(2.0, 2.0))(batch, torch.Generator().manual_seed(0))
    # bone lengths survive the rotation; the new 2D is the pinhole projection of the turned, placed 3D
    bones = torch.linalg.vector_norm(batch["poses_3d"][..., 1:, :] - batch["poses_3d"][..., :1, :], dim=-1)
    turned = torch.linalg.vector_norm(out["poses_3d"][..., 1:, :] - out["poses_3d"][..., :1, :], dim=-1)
    torch.testing.assert_close(bones, turned)
    absolute = out["poses_3d"] + out["root_trajectory"][:, :, None]
    torch.testing.assert_close(out["keypoints_2d"], 2.0 * absolute[..., :2] / absolute[..., 2:])
    assert not torch.allclose(out["poses_3d"], batch["poses_3d"])
    detected = dict(batch, projected_2d=torch.zeros(8, dtype=torch.bool))  # detector windows are left alone
    kept = VirtualCameras(prob=1.0)(detected, torch.Generator().manual_seed(0))
    assert torch.equal(kept["keypoints_2d"], batch["keypoints_2d"])


def test_virtual_camera_pitch_is_an_elevation_whatever_the_yaw():
    # yaw first, about the subject's own vertical, then the pitch: the spine leans toward the camera by exactly the
    # pitch at every yaw (no roll), and a positive pitch looks down (the head comes nearer the camera)
    generator = torch.Generator().manual_seed(0)
    rotation = random_rotations(64, math.pi, (0.6, 0.6), generator, torch.device("cpu"))
    up = rotation @ torch.tensor([0.0, -1.0, 0.0])  # y points down in camera coordinates
    torch.testing.assert_close(up, torch.tensor([0.0, -math.cos(0.6), -math.sin(0.6)]).expand(64, 3))
    spines = random_rotations(4000, 0.0, (-0.2, 1.0), generator, torch.device("cpu")) @ torch.tensor([0.0, -1, 0])
    pitches = torch.atan2(-spines[:, 2], -spines[:, 1])
    assert -0.2 <= float(pitches.min()) < -0.15 and 0.95 < float(pitches.max()) <= 1.0


def test_virtual_camera_flags_set_the_pitch_range():
    from mpm_hf.training.arguments import DataArguments

    cameras = DataArguments(virtual_camera_prob=0.5, virtual_camera_look_down=60, virtual_camera_look_up=10)
    low, high = cameras.virtual_cameras().pitch
    assert low == pytest.approx(-math.radians(10)) and high == pytest.approx(math.radians(60))
    with pytest.raises(ValueError, match="pitch"):
        VirtualCameras(prob=1.0, pitch=(0.5, 0.1))


def test_bad_completion_settings_are_value_errors():
    with pytest.raises(ValueError, match="modality"):
        CompletionStep("4d")
    with pytest.raises(ValueError, match="part_prob"):
        CompletionStep("3d", part_prob=1.5)
    with pytest.raises(ValueError, match="body parts"):
        CompletionStep("3d", occluded=("tail",))


def test_complete_sequence_checks_the_missing_mask_shape():
    from mpm_hf.completion import complete_sequence

    model = tiny_completion_model().eval()
    poses = batch_of(1)["poses_3d"][0].numpy()
    with pytest.raises(ValueError, match="missing: expected shape"):
        complete_sequence(model, poses, missing=np.zeros((17, 9), dtype=bool))
