"""Metrics against hand-computed values, numpy/torch agreement, and Human3.6M-style aggregation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mpm_hf.metrics import (
    H36M_ACTIONS,
    MetricAccumulator,
    auc,
    canonical_action,
    format_markdown_table,
    joint_errors,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    pck,
    per_action_table,
    procrustes_align,
    procrustes_transform,
)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


@pytest.fixture
def poses() -> np.ndarray:
    return np.random.default_rng(0).normal(scale=0.3, size=(3, 4, 17, 3))


def test_mpjpe_of_a_known_offset_is_its_length(poses):
    pred = poses + np.array([0.03, 0.04, 0.0])
    assert mpjpe(pred, poses) == pytest.approx(0.05)
    assert mpjpe(pred, poses, reduce="none").shape == (3, 4)
    np.testing.assert_allclose(mpjpe(pred, poses, reduce="per_joint"), np.full(17, 0.05))
    np.testing.assert_allclose(joint_errors(pred, poses), np.full((3, 4, 17), 0.05))


def test_mpjpe_ignores_invalid_joints_even_when_nan(poses):
    pred = poses + np.array([0.0, 0.0, 0.01])
    pred[..., 5, :] = np.nan
    valid = np.ones(poses.shape[:-1], dtype=bool)
    valid[..., 5] = False
    assert mpjpe(pred, poses, valid) == pytest.approx(0.01)
    per_joint = mpjpe(pred, poses, valid, reduce="per_joint")
    assert np.isnan(per_joint[5]) and np.allclose(np.delete(per_joint, 5), 0.01)


def test_mpjpe_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(2, 17, 3\) and \(2, 16, 3\)"):
        mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    with pytest.raises(ValueError, match="reduce"):
        mpjpe(np.zeros((17, 3)), np.zeros((17, 3)), reduce="sum")


def test_procrustes_undoes_a_similarity_transform(poses):
    rng = np.random.default_rng(1)
    moved = np.stack([2.5 * p @ _random_rotation(rng) + rng.normal(size=3) for p in poses.reshape(-1, 17, 3)])
    moved = moved.reshape(poses.shape)
    assert mpjpe(moved, poses) > 0.1
    assert p_mpjpe(moved, poses) < 1e-10
    np.testing.assert_allclose(procrustes_align(moved, poses), poses, atol=1e-10)
    scale, rotation, _ = procrustes_transform(moved, poses)
    np.testing.assert_allclose(scale, 1 / 2.5)
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0)


def test_procrustes_never_reflects(poses):
    mirrored = poses * np.array([-1.0, 1.0, 1.0])
    _, rotation, _ = procrustes_transform(mirrored, poses)
    np.testing.assert_allclose(np.linalg.det(rotation), 1.0)
    # A reflection would fit the mirror image exactly; a proper rotation cannot.
    assert p_mpjpe(mirrored, poses) > 0.05


def test_procrustes_matches_a_per_pose_reference(poses):
    pred = poses + np.random.default_rng(2).normal(scale=0.1, size=poses.shape)
    expected = []
    for p, t in zip(pred.reshape(-1, 17, 3), poses.reshape(-1, 17, 3), strict=True):
        p0, t0 = p - p.mean(0), t - t.mean(0)
        u, s, vt = np.linalg.svd(t0.T @ p0)
        d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
        aligned = np.trace(d @ np.diag(s)) / np.sum(p0**2) * p0 @ (u @ d @ vt).T + t.mean(0)
        expected.append(np.linalg.norm(aligned - t, axis=-1).mean())
    np.testing.assert_allclose(p_mpjpe(pred, poses, reduce="none").ravel(), expected, rtol=1e-10)


def test_procrustes_keeps_input_dtype_and_fits_valid_joints_only(poses):
    target = torch.tensor(poses[0, 0], dtype=torch.float32)
    pred = 1.5 * target + 0.2
    pred[3] = 10.0  # an outlier that the mask removes from the fit
    valid = torch.ones(17, dtype=torch.bool)
    valid[3] = False
    aligned = procrustes_align(pred, target, valid)
    assert aligned.dtype == torch.float32
    assert p_mpjpe(pred, target, valid).item() < 1e-5


def test_n_mpjpe_removes_scale_only(poses):
    assert n_mpjpe(1.7 * poses, poses) < 1e-12
    assert n_mpjpe(poses + 0.1, poses) > 0.01


def test_mpjve_of_a_drift_is_its_speed():
    target = np.random.default_rng(3).normal(size=(2, 6, 17, 3))
    drift = np.arange(6)[:, None, None] * np.array([0.0, 0.02, 0.0])
    assert mpjve(target + drift, target) == pytest.approx(0.02)
    assert mpjve(target + drift, target, reduce="none").shape == (2, 5)
    assert mpjve(target + 0.3, target) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="T >= 2"):
        mpjve(target[:, :1], target[:, :1])


def test_pck_and_auc_of_constructed_errors():
    target = np.zeros((2, 4, 3))
    pred = np.zeros((2, 4, 3))
    pred[..., 0] = [0.012, 0.062, 0.122, 0.2]  # metres
    assert pck(pred, target) == pytest.approx(75.0)
    assert pck(1000 * pred, target, threshold=150.0) == pytest.approx(75.0)
    np.testing.assert_allclose(pck(pred, target, reduce="per_joint"), [100, 100, 100, 0])
    # Thresholds 0, 5, ..., 150 mm: each joint is correct at 28, 18, 6 and 0 of the 31 thresholds.
    assert auc(pred, target) == pytest.approx(100 * (28 + 18 + 6 + 0) / (31 * 4))
    assert auc(1000 * pred, target, thresholds=np.linspace(0, 150, 31)) == pytest.approx(100 * 52 / 124)


def test_numpy_and_torch_agree(poses):
    pred = poses + np.random.default_rng(4).normal(scale=0.05, size=poses.shape)
    valid = np.random.default_rng(5).random(poses.shape[:-1]) > 0.2
    for metric in (mpjpe, p_mpjpe, n_mpjpe, mpjve, pck, auc):
        for reduce in ("mean", "none", "per_joint"):
            numpy_value = metric(pred, poses, valid=valid, reduce=reduce)
            torch_value = metric(
                torch.tensor(pred), torch.tensor(poses), valid=torch.tensor(valid), reduce=reduce
            )
            assert isinstance(numpy_value, np.ndarray | np.floating) and isinstance(torch_value, torch.Tensor)
            np.testing.assert_allclose(torch_value.numpy(), numpy_value, rtol=1e-9, atol=1e-12)


def test_metrics_are_differentiable_in_torch(poses):
    pred = torch.tensor(poses, dtype=torch.float32, requires_grad=True)
    target = torch.tensor(poses + np.random.default_rng(7).normal(scale=0.05, size=poses.shape))
    (mpjpe(pred, target) + p_mpjpe(pred, target)).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Walking 1", "Walking"),
        ("Walking", "Walking"),
        ("WalkDog 1", "WalkDog"),
        ("WalkingDog", "WalkDog"),
        ("WalkTogether 2", "WalkTogether"),
        ("TakingPhoto 1", "Photo"),
        ("Photo", "Photo"),
        ("SittingDown 2", "SittingDown"),
        ("Sitting 1", "Sitting"),
        ("Eating_2", "Eating"),
        ("Directions 1.54138969", "Directions"),
        ("phoning", "Phoning"),
        ("Skiing 3", "Skiing"),
    ],
)
def test_canonical_action(label, expected):
    assert canonical_action(label) == expected


def test_per_action_table_merges_subactions_then_averages_actions():
    table = per_action_table(
        {"Walking 2": [5.0], "Walking 1": np.array([1.0, 2.0, 3.0]), "Eating": torch.tensor([10.0])}
    )
    assert list(table) == ["Eating", "Walking", "Average"]
    assert table["Walking"] == pytest.approx(2.75)  # frames pooled: (1 + 2 + 3 + 5) / 4
    assert table["Average"] == pytest.approx((2.75 + 10.0) / 2)


def test_format_markdown_table():
    text = format_markdown_table({"MPJPE": {"Walking": 2.75, "Average": 6.375}, "P-MPJPE": {"Walking": 1.0}})
    lines = text.splitlines()
    assert lines[0] == "|  | Walking | Average |"
    assert lines[2] == "| MPJPE | 2.8 | 6.4 |"
    assert lines[3] == "| P-MPJPE | 1.0 | - |"


def test_accumulator_summary_in_millimetres():
    target = np.random.default_rng(6).normal(scale=0.3, size=(6, 17, 3))
    acc = MetricAccumulator()
    acc.update(target + np.array([0.0, 0.0, 0.01]), target, actions=["Walking 1"] * 2 + ["Eating 1"] * 4)
    acc.update(torch.tensor(target[:2] + np.array([0.0, 0.04, 0.0])), torch.tensor(target[:2]), "Walking 2")
    summary = acc.summary()
    assert summary["num_frames"] == len(acc) == 8
    assert summary["per_action"]["Walking"]["mpjpe"] == pytest.approx((10 + 10 + 40 + 40) / 4)
    assert summary["per_action"]["Eating"]["mpjpe"] == pytest.approx(10.0)
    assert summary["mpjpe"] == pytest.approx((25.0 + 10.0) / 2)
    assert summary["p_mpjpe"] == pytest.approx(0.0, abs=1e-6)  # pure translations
    assert list(summary["per_action"]) == [a for a in H36M_ACTIONS if a in ("Walking", "Eating")]
    assert "| MPJPE (mm) | 10.0 | 25.0 | 17.5 |" in acc.markdown()
    with pytest.raises(ValueError, match="label"):
        acc.update(target, target)


def test_accumulator_without_labels_averages_frames():
    target = np.zeros((4, 17, 3))
    acc = MetricAccumulator(unit_scale=1.0)
    acc.update(target + np.array([3.0, 4.0, 0.0]), target)
    acc.update(target[:1], target[:1])
    summary = acc.summary()
    assert summary["mpjpe"] == pytest.approx(4 * 5.0 / 5)
    assert summary["per_action"] == {} and summary["num_frames"] == 5
    acc.reset()
    assert acc.summary()["num_frames"] == 0


def test_occlusion_settings_parse_into_completion_rows():
    from mpm_hf.evaluation import parse_occlusion_settings

    settings = parse_occlusion_settings("left_arm, right_leg,left_arm+left_leg,random:2,random:1,none")
    assert settings == {
        "left arm": (("left_arm",), 0),
        "right leg": (("right_leg",), 0),
        "left arm + left leg": (("left_arm", "left_leg"), 0),
        "2 random joints": ("random", 2),
        "1 random joint": ("random", 1),
        "none": ((), 0),
    }
    with pytest.raises(ValueError, match="occluded body part"):
        parse_occlusion_settings("tail")
    with pytest.raises(ValueError, match="random:K"):
        parse_occlusion_settings("random:0")
    with pytest.raises(ValueError, match="at least one item"):
        parse_occlusion_settings(" , ")
