"""MPI-INF-3DHP loader on small files written in P-STMO's exact layout."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mpm_hf.camera import normalize_screen_coordinates, project_to_2d
from mpm_hf.data.h36m import h36m_features
from mpm_hf.data.mpi_inf_3dhp import (
    TEST_FILE,
    TRAIN_FILE,
    load_mpi_inf_3dhp,
    load_mpi_inf_3dhp_arrays,
)
from mpm_hf.data.windows import PoseWindows

# Camera 8 of the studio (used for TS1-TS4) and the outdoor GoPro (TS5-TS6), pixels.
STUDIO_K = np.array([1500.172, 1500.837, 1017.387, 1043.032, 0, 0, 0, 0, 0])
GOPRO_K = np.array(
    [1683.98345952, 1672.59370772, 939.85754016, 560.140743168]
    + [-0.276859611, 0.131125256, -0.049318332, -0.000360494, -0.001149441]
)
# 3DHP-17 rest pose in millimetres (x right, y down): head_top, neck, r-arm, l-arm, r-leg, l-leg,
# pelvis, spine, head.
REST_MM = np.array(
    [
        [0, -700, 0], [0, -480, 0], [-170, -460, 0], [-170, -180, 0], [-170, 70, 0],
        [170, -460, 0], [170, -180, 0], [170, 70, 0], [-130, 0, 0], [-130, 450, 0], [-130, 880, 0],
        [130, 0, 0], [130, 450, 0], [130, 880, 0], [0, 0, 0], [0, -230, 0], [0, -600, 30],
    ],
    dtype=np.float64,
)  # fmt: skip


def motion_mm(num_frames: int, rng: np.random.Generator, depth: float = 4000.0) -> np.ndarray:
    """(N, 17, 3) camera-space millimetres: the rest pose jittered, drifting, ``depth`` mm away."""
    poses = REST_MM[None] + rng.normal(scale=20.0, size=(num_frames, 17, 3))
    drift = np.cumsum(rng.normal(scale=5.0, size=(num_frames, 1, 3)), axis=0)
    return poses + drift + np.array([100.0, 200.0, depth])


def animation(xyz_mm: np.ndarray, intrinsics: np.ndarray, extra_channel: bool = False) -> dict:
    pixels = project_to_2d(xyz_mm / 1000.0, intrinsics).astype(np.float32)
    if extra_channel:  # some P-STMO files carry a third (confidence) channel
        pixels = np.concatenate([pixels, np.ones_like(pixels[..., :1])], axis=-1)
    return {"data_2d": pixels, "data_3d": xyz_mm.astype(np.float32)}


def studio_k(camera: int) -> np.ndarray:
    from mpm_hf.data.mpi_inf_3dhp import _STUDIO_CAMERAS

    return np.array([*_STUDIO_CAMERAS[camera], 0, 0, 0, 0, 0])


def write_train(folder: Path, rng: np.random.Generator) -> dict:
    data = {}
    for key, cameras in (("S1 Seq1", (0, 2)), ("S1 Seq2", (0,)), ("S2 Seq1", (8,))):
        data[key] = [{cam: animation(motion_mm(30, rng), studio_k(cam), cam == 2) for cam in cameras}]
    data["S2 Seq1"][0][8]["valid"] = np.arange(30) % 10 != 3  # optional per-frame flags
    np.savez(folder / TRAIN_FILE, data=data)
    return data


def write_test(folder: Path, rng: np.random.Generator) -> dict:
    data = {}
    for i, name in enumerate(("TS1", "TS3", "TS5")):
        anim = animation(motion_mm(40 + i, rng), GOPRO_K if name == "TS5" else STUDIO_K)
        valid = np.ones(40 + i, dtype=np.float32)
        valid[[0, 5, 6]] = 0
        anim["valid"] = valid
        data[name] = anim
    np.savez(folder / TEST_FILE, data=data)
    return data


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    write_train(tmp_path, rng)
    write_test(tmp_path, rng)
    return tmp_path


def test_train_layout_units_and_joint_order(folder: Path):
    raw = np.load(folder / TRAIN_FILE, allow_pickle=True)["data"].item()
    sequences = load_mpi_inf_3dhp_arrays(folder, "train")
    assert [(s["subject"], s["action"], s["camera"]) for s in sequences] == [
        ("S1", "Seq1", "0"), ("S1", "Seq1", "2"), ("S1", "Seq2", "0"), ("S2", "Seq1", "8"),
    ]  # fmt: skip
    first = sequences[0]
    xyz = raw["S1 Seq1"][0][0]["data_3d"].astype(np.float64) / 1000.0
    assert first["poses_3d"].shape == (30, 17, 3) and first["poses_3d"].dtype == np.float32
    np.testing.assert_allclose(first["root_trajectory"], xyz[:, 14], atol=1e-6)
    np.testing.assert_array_equal(first["poses_3d"][:, 0], 0.0)
    relative = xyz - xyz[:, 14:15]
    h36m_from_3dhp = {0: 14, 1: 8, 3: 10, 6: 13, 7: 15, 8: 1, 9: 16, 10: 0, 11: 5, 13: 7, 14: 2, 16: 4}
    for h36m_joint, hp_joint in h36m_from_3dhp.items():
        np.testing.assert_allclose(first["poses_3d"][:, h36m_joint], relative[:, hp_joint], atol=1e-6)
    pixels = raw["S1 Seq1"][0][0]["data_2d"][:, 0]  # head_top -> H36M head (10)
    np.testing.assert_allclose(first["keypoints_2d"][:, 10], pixels / 2048 * 2 - 1, atol=1e-6)
    assert first["image_width"] == first["image_height"] == 2048
    assert first["valid"].shape == (30, 17) and first["valid"].all() and first["valid_frames"].all()
    assert sequences[1]["keypoints_2d"].shape == (30, 17, 2)  # the extra 2D channel is dropped
    np.testing.assert_array_equal(np.nonzero(~sequences[3]["valid_frames"])[0], [3, 13, 23])
    assert sequences[3]["valid"].all()  # frame flags stay in valid_frames: invalid frames are context, not masked


@pytest.mark.parametrize("split", ["train", "test"])
def test_intrinsics_reproject_the_2d_keypoints(folder: Path, split: str):
    for seq in load_mpi_inf_3dhp_arrays(folder, split):
        camera_xyz = seq["poses_3d"].astype(np.float64) + seq["root_trajectory"][:, None]
        reprojected = project_to_2d(camera_xyz, seq["camera_intrinsics"].astype(np.float64))
        np.testing.assert_allclose(reprojected, seq["keypoints_2d"], atol=2e-5, err_msg=seq["subject"])


def test_test_split_image_sizes_scenes_and_valid_frames(folder: Path):
    raw = np.load(folder / TEST_FILE, allow_pickle=True)["data"].item()
    sequences = load_mpi_inf_3dhp_arrays(folder, "test")
    assert [(s["subject"], s["action"], s["camera"]) for s in sequences] == [
        ("TS1", "studio_green_screen", "studio"), ("TS3", "studio", "studio"), ("TS5", "outdoor", "outdoor"),
    ]  # fmt: skip
    assert [(s["image_width"], s["image_height"]) for s in sequences] == [(2048, 2048)] * 2 + [(1920, 1080)]
    ts5 = sequences[2]
    expected = normalize_screen_coordinates(raw["TS5"]["data_2d"][:, 14].astype(np.float64), 1920, 1080)
    np.testing.assert_allclose(ts5["keypoints_2d"][:, 0], expected, atol=1e-6)
    for seq in sequences:
        assert seq["valid_frames"].dtype == bool
        np.testing.assert_array_equal(np.nonzero(~seq["valid_frames"])[0], [0, 5, 6])
        assert seq["valid"].all()  # every output joint has a source joint; frame validity is valid_frames
        assert np.isfinite(seq["keypoints_2d"]).all()  # invalid frames keep their coordinates
    only = load_mpi_inf_3dhp_arrays(folder, "test", subjects=["TS5"])
    assert [s["subject"] for s in only] == ["TS5"]


def test_release_16_joint_layout(folder: Path):
    raw = np.load(folder / TEST_FILE, allow_pickle=True)["data"].item()
    seq = load_mpi_inf_3dhp_arrays(folder, "test", subjects=["TS1"], num_joints=16)[0]
    xyz = raw["TS1"]["data_3d"].astype(np.float64) / 1000.0
    relative = xyz - xyz[:, 14:15]
    assert seq["poses_3d"].shape == (40, 16, 3)
    np.testing.assert_allclose(seq["poses_3d"][:, 8], relative[:, 16], atol=1e-6)  # thorax <- 3DHP head
    np.testing.assert_allclose(seq["poses_3d"][:, 9], 0.5 * (relative[:, 0] + relative[:, 16]), atol=1e-6)
    np.testing.assert_allclose(seq["poses_3d"][:, 15], relative[:, 4], atol=1e-6)  # right wrist
    windows = PoseWindows.from_sequences([seq], num_frames=9, skeleton="3dhp16")
    assert windows[0]["poses_3d"].shape == (9, 16, 3)


def test_dataset_path_matches_arrays(folder: Path):
    arrays = load_mpi_inf_3dhp_arrays(folder, "test")
    dataset = load_mpi_inf_3dhp(folder, "test")
    assert len(dataset) == len(arrays)
    assert set(h36m_features()) | {"valid_frames"} == set(dataset.column_names)
    row = dataset.with_format("numpy")[2]
    for key in ("keypoints_2d", "poses_3d", "valid", "valid_frames", "root_trajectory", "camera_intrinsics"):
        np.testing.assert_array_equal(row[key], arrays[2][key], err_msg=key)
    assert row["subject"] == "TS5" and row["image_height"] == 1080


def test_windows_consume_the_sequences(folder: Path):
    windows = PoseWindows.from_sequences(load_mpi_inf_3dhp_arrays(folder, "train"), num_frames=27)
    batch = windows.__getitems__([0, 50, 119])
    assert batch["keypoints_2d"].shape == (3, 27, 17, 2) and batch["poses_3d"].shape == (3, 27, 17, 3)
    assert len(windows) == 4 * 30


def test_errors_name_the_file(tmp_path: Path, folder: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(str(empty / TEST_FILE))):
        load_mpi_inf_3dhp_arrays(empty, "test")
    with pytest.raises(ValueError, match="split must be"):
        load_mpi_inf_3dhp_arrays(folder, "val")
    with pytest.raises(ValueError, match="subjects \\['S9'\\] not found"):
        load_mpi_inf_3dhp_arrays(folder, "train", subjects=["S9"])

    bad = tmp_path / "bad"
    bad.mkdir()
    np.savez(bad / TRAIN_FILE, positions_3d=np.zeros(3))
    with pytest.raises(ValueError, match=f"{TRAIN_FILE}.*expected key 'data'"):
        load_mpi_inf_3dhp_arrays(bad, "train")

    rng = np.random.default_rng(1)
    anim = animation(motion_mm(10, rng), STUDIO_K)
    np.savez(bad / TEST_FILE, data={"TS1": {"data_2d": anim["data_2d"], "data_3d": anim["data_3d"]}})
    with pytest.raises(ValueError, match=f"{TEST_FILE}.*'TS1'.*no 'valid'"):
        load_mpi_inf_3dhp_arrays(bad, "test")

    np.savez(
        bad / TRAIN_FILE,
        data={"S1 Seq1": [{0: {"data_2d": anim["data_2d"][:, :16], "data_3d": anim["data_3d"]}}]},
    )
    with pytest.raises(ValueError, match=f"{TRAIN_FILE}.*'data_2d' has 16 joints, expected 17"):
        load_mpi_inf_3dhp_arrays(bad, "train")

    np.savez(
        bad / TRAIN_FILE,
        data={"S1 Seq1": [{0: {"data_2d": anim["data_2d"], "data_3d": anim["data_3d"] / 1000}}]},
    )
    with pytest.raises(ValueError, match="looks like metres"):
        load_mpi_inf_3dhp_arrays(bad, "train")
    metres = load_mpi_inf_3dhp_arrays(bad, "train", units="m")[0]
    np.testing.assert_allclose(metres["root_trajectory"], anim["data_3d"][:, 14] / 1000, atol=1e-6)
