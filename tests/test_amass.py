"""AMASS loader: a small generated SMPL-H-format body model, sequences in AMASS's file layout."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from mpm_hf.camera import project_to_2d
from mpm_hf.data.amass import (
    BodyModel,
    amass_world_joints,
    load_amass,
    load_amass_arrays,
    resample_indices,
)
from mpm_hf.data.h36m import h36m_features
from mpm_hf.data.windows import PoseWindows

NUM_VERTICES = 50


def smplh_parents() -> list[int]:
    """SMPL-H's kinematic tree: the 22 SMPL body joints, then 3-joint chains of 5 fingers per wrist."""
    parents = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]
    for wrist in (20, 21):
        for _ in range(5):
            parents += [wrist, len(parents), len(parents) + 1]
    return parents


def write_body_model(path: Path, seed: int = 0, num_vertices: int = NUM_VERTICES) -> dict[str, np.ndarray]:
    """A small random body model in the SMPL-H ``model.npz`` format (52 joints)."""
    rng = np.random.default_rng(seed)
    parents = smplh_parents()
    num_joints = len(parents)
    logits = rng.normal(scale=3.0, size=(num_vertices, num_joints))
    weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    regressor = np.zeros((num_joints, num_vertices))
    for joint in range(num_joints):
        regressor[joint, rng.choice(num_vertices, size=4, replace=False)] = rng.uniform(0.5, 1.0, size=4)
    regressor /= regressor.sum(axis=1, keepdims=True)
    arrays = {
        "v_template": rng.normal(scale=0.3, size=(num_vertices, 3)) + [0.0, 0.0, 0.9],
        "shapedirs": rng.normal(scale=0.01, size=(num_vertices, 3, 16)),
        "posedirs": rng.normal(scale=0.01, size=(num_vertices, 3, 9 * (num_joints - 1))),
        "J_regressor": regressor,
        "kintree_table": np.array([[2**32 - 1] + parents[1:], list(range(num_joints))], dtype=np.int64),
        "weights": weights,
        "f": rng.integers(0, num_vertices, size=(96, 3)),
    }
    np.savez(path, **arrays)
    return arrays


def h36m_regressor(seed: int = 1, num_vertices: int = NUM_VERTICES) -> np.ndarray:
    """A (17, V) regressor using a third of the vertices (rows sum to 1)."""
    rng = np.random.default_rng(seed)
    regressor = rng.uniform(size=(17, num_vertices)) * (rng.uniform(size=(1, num_vertices)) < 0.33)
    regressor[:, 0] += 0.1
    return regressor / regressor.sum(axis=1, keepdims=True)


def write_sequence(path: Path, poses: np.ndarray, trans: np.ndarray, fps: float = 120.0, **extra) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"poses": poses, "trans": trans, "betas": np.zeros(16), "gender": np.array("female")}
    np.savez(path, mocap_framerate=np.array(fps), **{**arrays, **extra})


def random_motion(num_frames: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    poses = rng.normal(scale=0.3, size=(num_frames, 156))
    trans = np.cumsum(rng.normal(scale=0.01, size=(num_frames, 3)), axis=0) + [0.0, 0.0, 0.1]
    return poses, trans


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    path = tmp_path / "model.npz"
    write_body_model(path)
    return path


def reference_vertices(arrays: dict[str, np.ndarray], poses: np.ndarray, betas: np.ndarray,
                       trans: np.ndarray) -> np.ndarray:
    """The SMPL forward pass as its paper writes it, in float64 numpy, one joint at a time."""
    parents = arrays["kintree_table"][0].astype(np.int64)
    v_shaped = arrays["v_template"] + arrays["shapedirs"] @ betas
    joints = arrays["J_regressor"] @ v_shaped
    n, num_joints = len(poses), len(parents)
    rotations = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(n, num_joints, 3, 3)
    pose_feature = (rotations[:, 1:] - np.eye(3)).reshape(n, -1)
    v_posed = v_shaped + (pose_feature @ arrays["posedirs"].reshape(len(v_shaped) * 3, -1).T).reshape(n, -1, 3)
    world = np.zeros((n, num_joints, 4, 4))
    world[:, :, 3, 3] = 1
    for k in range(num_joints):
        local = np.zeros((n, 4, 4))
        local[:, :3, :3], local[:, 3, 3] = rotations[:, k], 1
        local[:, :3, 3] = joints[k] - (joints[parents[k]] if k else 0)
        world[:, k] = world[:, parents[k]] @ local if k else local
    world[:, :, :3, 3] -= np.einsum("nkij,kj->nki", world[:, :, :3, :3], joints)  # from the rest pose
    skinning = np.einsum("vk,nkij->nvij", arrays["weights"], world)
    return np.einsum("nvij,nvj->nvi", skinning[..., :3, :3], v_posed) + skinning[..., :3, 3] + trans[:, None]


def test_the_smplx_forward_pass_matches_the_smpl_equations(model_path: Path):
    arrays = dict(np.load(model_path))
    poses, trans = random_motion(6)
    betas = np.random.default_rng(3).normal(size=16)
    expected = reference_vertices(arrays, poses, betas, trans)
    model = BodyModel.from_file(model_path)
    # smplx's Rodrigues adds 1e-8 to every rotation vector (no division by zero): agreement to 1e-7 m, not 1e-12
    np.testing.assert_allclose(model.vertices(poses, betas, trans, dtype=torch.float64), expected, atol=1e-7)
    np.testing.assert_allclose(model.vertices(poses, betas, trans), expected, atol=2e-6)  # float32
    np.testing.assert_allclose(model.vertices(poses, betas[:5], trans, dtype=torch.float64),
                               reference_vertices({**arrays, "shapedirs": arrays["shapedirs"][..., :5]}, poses,
                                                  betas[:5], trans), atol=1e-7)


def test_without_smplx_the_body_model_says_how_to_install_it(model_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "smplx.lbs", None)  # an import of it fails as if it were not installed
    with pytest.raises(ImportError, match=re.escape("pip install 'mpm-hf[amass]'")):
        BodyModel.from_file(model_path).vertices(np.zeros((1, 156)))


def test_zero_pose_gives_the_regressed_template(tmp_path: Path, model_path: Path):
    arrays = np.load(model_path)
    model = BodyModel.from_file(model_path)
    assert (model.num_joints, model.num_vertices, model.num_betas) == (52, NUM_VERTICES, 16)
    np.testing.assert_allclose(model.vertices(np.zeros((3, 156)))[1], arrays["v_template"], atol=1e-6)

    regressor = h36m_regressor()
    write_sequence(tmp_path / "S" / "rest.npz", np.zeros((5, 156)), np.zeros((5, 3)), fps=50.0)
    joints = amass_world_joints(tmp_path / "S" / "rest.npz", model, regressor)
    np.testing.assert_allclose(
        joints, np.broadcast_to(regressor @ arrays["v_template"], (5, 17, 3)), atol=1e-6
    )


def test_root_rotation_rotates_the_body_about_the_root_joint(model_path: Path):
    model = BodyModel.from_file(model_path)
    root_rotation = np.array([0.3, -0.5, 0.8])
    poses = np.zeros((1, 156))
    poses[0, :3] = root_rotation
    rest = model.v_template
    root = model.J_regressor[0] @ rest
    R = Rotation.from_rotvec(root_rotation).as_matrix()
    expected = (rest - root) @ R.T + root + [1.0, 2.0, 3.0]
    posed = model.vertices(poses, trans=np.array([[1.0, 2.0, 3.0]]), dtype=torch.float64)[0]
    np.testing.assert_allclose(posed, expected, atol=1e-7)  # smplx's Rodrigues: rotation vector + 1e-8


def test_skinning_a_vertex_subset_equals_the_full_mesh(model_path: Path):
    model = BodyModel.from_file(model_path)
    poses, trans = random_motion(7)
    betas = np.random.default_rng(2).normal(size=16)
    full = model.vertices(poses, betas, trans, chunk_size=3, dtype=torch.float64)
    ids = np.array([3, 17, 18, 40])
    np.testing.assert_allclose(model.vertices(poses, betas, trans, vertex_ids=ids), full[:, ids], atol=1e-5)


def test_sequences_fields_projection_and_root_relative(tmp_path: Path, model_path: Path):
    write_sequence(tmp_path / "data" / "SubjectA" / "walk_poses.npz", *random_motion(121))
    sequences = load_amass_arrays(tmp_path / "data", model_path, h36m_regressor(), virtual_cameras=3)
    assert [(s["subject"], s["action"], s["camera"]) for s in sequences] == [
        ("SubjectA", "walk_poses", f"virtual_{i}") for i in range(3)
    ]
    for seq in sequences:
        assert seq["keypoints_2d"].shape == (51, 17, 2) and seq["poses_3d"].shape == (51, 17, 3)
        assert seq["valid"].all() and seq["root_trajectory"].shape == (51, 3)
        assert (seq["image_width"], seq["image_height"]) == (1000, 1000)
        np.testing.assert_array_equal(seq["poses_3d"][:, 0], 0.0)
        camera_xyz = seq["poses_3d"].astype(np.float64) + seq["root_trajectory"][:, None]
        assert (camera_xyz[..., 2] > 2.0).all()
        reprojected = project_to_2d(camera_xyz, seq["camera_intrinsics"].astype(np.float64))
        np.testing.assert_allclose(reprojected, seq["keypoints_2d"], atol=1e-5)
    np.testing.assert_allclose(sequences[0]["camera_intrinsics"][:4], [2.29, 2.29, 0.0, 0.0], atol=1e-6)
    # Different cameras see the same body: bone lengths agree, the views differ.
    lengths = [np.linalg.norm(s["poses_3d"][:, 3] - s["poses_3d"][:, 2], axis=-1) for s in sequences]
    np.testing.assert_allclose(lengths[0], lengths[1], atol=1e-5)
    assert not np.allclose(sequences[0]["keypoints_2d"], sequences[1]["keypoints_2d"])


def test_output_is_translation_invariant_and_seeded(tmp_path: Path, model_path: Path):
    poses, trans = random_motion(40)
    write_sequence(tmp_path / "a" / "S1" / "seq.npz", poses, trans)
    write_sequence(tmp_path / "b" / "S1" / "seq.npz", poses, trans + [3.0, -2.0, 0.5])
    kwargs = {"body_model_path": model_path, "joint_regressor": h36m_regressor(), "virtual_cameras": 2}
    first = load_amass_arrays(tmp_path / "a", **kwargs)
    moved = load_amass_arrays(tmp_path / "b", **kwargs)
    for a, b in zip(first, moved, strict=True):
        np.testing.assert_allclose(a["poses_3d"], b["poses_3d"], atol=1e-5)
        np.testing.assert_allclose(a["keypoints_2d"], b["keypoints_2d"], atol=1e-5)
    other_seed = load_amass_arrays(tmp_path / "a", seed=1, **kwargs)
    assert not np.allclose(first[0]["keypoints_2d"], other_seed[0]["keypoints_2d"])


def test_frame_rate_resampling(tmp_path: Path):
    first, weight = resample_indices(121, 120.0, 50.0)
    assert len(first) == 51 and first[-1] == 120 and weight[-1] == 0
    assert len(resample_indices(500, 120.0, 50.0)[0]) == 208
    assert len(resample_indices(10, 30.0, None)[0]) == 10

    # Joints moving linearly in time are resampled exactly by linear interpolation.
    times = np.arange(121) / 120.0
    joints = np.zeros((121, 17, 3)) + np.array([0.0, 0.0, 1.0])
    joints[..., 0] += times[:, None] * 1.5
    joints[:, 1:, 2] += 0.2
    seq = load_amass_arrays(joints={"line": joints}, joints_fps=120, virtual_cameras=1)[0]
    assert seq["poses_3d"].shape == (51, 17, 3) and seq["action"] == "line"
    speed = np.diff(seq["root_trajectory"], axis=0) * 50.0
    np.testing.assert_allclose(np.linalg.norm(speed, axis=-1), 1.5, atol=1e-4)
    nearest = load_amass_arrays(joints=joints, joints_fps=120, resample="nearest", virtual_cameras=1)[0]
    assert nearest["poses_3d"].shape == (51, 17, 3) and nearest["subject"] == "joints"


def test_gender_folder_layout_and_dataset_path(tmp_path: Path):
    models = tmp_path / "smplh"
    (models / "female").mkdir(parents=True)
    (models / "neutral").mkdir()
    write_body_model(models / "female" / "model.npz", seed=0)
    write_body_model(models / "neutral" / "model.npz", seed=5)
    poses, trans = random_motion(30)
    write_sequence(tmp_path / "seqs" / "S1" / "a.npz", poses, trans)
    write_sequence(tmp_path / "seqs" / "S1" / "b.npz", poses, trans, gender=np.array("male"))
    np.savez(tmp_path / "seqs" / "S1" / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    regressor = h36m_regressor()
    arrays = load_amass_arrays(tmp_path / "seqs", models, regressor, virtual_cameras=1)
    assert [s["action"] for s in arrays] == ["a", "b"]
    female = BodyModel.from_file(models / "female" / "model.npz")
    expected = amass_world_joints(tmp_path / "seqs" / "S1" / "a.npz", female, regressor)
    bone = np.linalg.norm(expected[:, 2] - expected[:, 1], axis=-1)
    np.testing.assert_allclose(
        np.linalg.norm(arrays[0]["poses_3d"][:, 2] - arrays[0]["poses_3d"][:, 1], axis=-1), bone, atol=1e-5
    )
    assert not np.allclose(arrays[0]["poses_3d"], arrays[1]["poses_3d"], atol=1e-3)  # male -> neutral model

    dataset = load_amass(tmp_path / "seqs", models, regressor, virtual_cameras=1)
    assert set(dataset.column_names) == set(h36m_features()) and len(dataset) == 2
    row = dataset.with_format("numpy")[1]
    for key in ("keypoints_2d", "poses_3d", "valid", "root_trajectory", "camera_intrinsics"):
        np.testing.assert_array_equal(row[key], arrays[1][key], err_msg=key)
    windows = PoseWindows.from_sequences(arrays, num_frames=27)
    assert windows.__getitems__([0, 20])["poses_3d"].shape == (2, 27, 17, 3)


def test_errors_name_the_file(tmp_path: Path, model_path: Path):
    regressor = h36m_regressor()
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_amass_arrays([tmp_path / "missing.npz"], model_path, regressor)
    with pytest.raises(ValueError, match="need a body model"):
        load_amass_arrays(tmp_path, None, regressor)
    with pytest.raises(ValueError, match="needs AMASS files"):
        load_amass_arrays()

    bad = tmp_path / "S" / "bad.npz"
    write_sequence(bad, np.zeros((4, 156)), np.zeros((4, 3)))
    np.savez(bad, poses=np.zeros((4, 156)), trans=np.zeros((4, 3)))
    with pytest.raises(ValueError, match=re.escape(str(bad)) + r".*misses \['mocap_framerate'\]"):
        load_amass_arrays([bad], model_path, regressor)
    write_sequence(bad, np.zeros((4, 72)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=re.escape(str(bad)) + ".*72 values per frame.*156"):
        load_amass_arrays([bad], model_path, regressor)
    write_sequence(bad, np.zeros((4, 156)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="40 vertex columns.*50 vertices"):
        load_amass_arrays([bad], model_path, regressor[:, :40])
    with pytest.raises(ValueError, match=r"\(17, V\)"):
        load_amass_arrays([bad], model_path, regressor[:16])

    broken = tmp_path / "broken_model.npz"
    arrays = dict(np.load(model_path))
    del arrays["weights"]
    np.savez(broken, **arrays)
    with pytest.raises(ValueError, match=re.escape(str(broken)) + r".*misses \['weights'\]"):
        load_amass_arrays([bad], broken, regressor)
    with pytest.raises(ValueError, match=r"joints\['0'\] must have shape \(N, 17, 3\)"):
        load_amass_arrays(joints=[np.zeros((5, 16, 3))])


@pytest.mark.shared_data
def test_real_amass_sample_with_a_generated_body_model(shared_data_dir: Path, model_path: Path):
    sample = shared_data_dir / "amass_sample" / "amass_sample.npz"
    if not sample.is_file():
        pytest.skip(f"{sample} not found")
    sequences = load_amass_arrays([sample], model_path, h36m_regressor())
    assert len(sequences) == 4
    for seq in sequences:
        assert seq["keypoints_2d"].shape == (208, 17, 2) and seq["poses_3d"].shape == (208, 17, 3)
        for key in ("keypoints_2d", "poses_3d", "root_trajectory", "camera_intrinsics"):
            assert np.isfinite(seq[key]).all(), key
        assert (seq["root_trajectory"][:, 2] > 0).all()
