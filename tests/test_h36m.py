"""Human3.6M loader on tiny files in VideoPose3D's exact layout, and on the shared real data."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from mpm_hf.camera import (
    image_coordinates,
    load_h36m_cameras,
    normalize_screen_coordinates,
    project_to_2d,
)
from mpm_hf.data import h36m
from mpm_hf.data.h36m import load_h36m, load_h36m_arrays
from mpm_hf.keypoints import H36M_32_TO_17

CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")
ACTIONS = {"S1": {"Walking 1": 12, "Directions": 9}, "S5": {"Walking 1": 10, "Directions": 7}}
# H36M-17 index of each MPII-16 joint (MPII's upper neck stands in for H36M's neck/nose here).
MPII_FROM_H36M = [3, 2, 1, 4, 5, 6, 0, 8, 9, 10, 16, 15, 14, 11, 12, 13]


def _look_at(centre: np.ndarray) -> np.ndarray:
    """World -> camera rotation of a camera at ``centre`` looking at the origin (y down)."""
    forward = -centre / np.linalg.norm(centre)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    assert np.linalg.det(R) > 0
    return R


def _write_dataset(folder: Path) -> dict:
    """data_3d_h36m.npz and h36m_cameras.json as VideoPose3D / the shared folder lay them out."""
    rng = np.random.default_rng(0)
    cameras = {}
    for s, subject in enumerate(ACTIONS):
        cameras[subject] = []
        for i, cid in enumerate(CAMERA_IDS):
            angle = np.pi / 2 * i + 0.3 * s
            centre = np.array([4.0 * np.cos(angle), 4.0 * np.sin(angle), 1.5])
            cameras[subject].append(
                {
                    "id": cid,
                    "R": _look_at(centre).tolist(),
                    "T": (centre * 1000).tolist(),  # mm in the file
                    "f": [1145.0 + i, 1143.0],
                    "c": [512.0, 515.0 - i],
                    "k": [-0.2, 0.24, -0.003],
                    "p": [-0.0014, -0.001],
                    "res_w": 1000,
                    "res_h": 1002 - 2 * (i % 2),
                }
            )
    (folder / "h36m_cameras.json").write_text(json.dumps(cameras))
    positions_3d = {
        subject: {
            action: (rng.normal(scale=0.4, size=(n, 32, 3)) + [0.0, 0.0, 1.0]).astype(np.float32)
            for action, n in actions.items()
        }
        for subject, actions in ACTIONS.items()
    }
    np.savez_compressed(folder / "data_3d_h36m.npz", positions_3d=positions_3d)
    return positions_3d


def _write_2d(folder: Path, name: str, positions_2d: dict, num_joints: int) -> Path:
    path = folder / f"data_2d_h36m_{name}.npz"
    metadata = {
        "num_joints": num_joints,
        "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]],
    }
    np.savez_compressed(path, positions_2d=positions_2d, metadata=metadata)
    return path


def _gt_pixels(folder: Path, positions_3d: dict) -> dict:
    cameras = load_h36m_cameras(folder / "h36m_cameras.json")
    return {
        subject: {
            action: [
                project_to_2d(
                    cam.world_to_camera(pos[:, list(H36M_32_TO_17)].astype(np.float64)), cam.intrinsics
                )
                for cam in cameras[subject]
            ]
            for action, pos in actions.items()
        }
        for subject, actions in positions_3d.items()
    }


@pytest.fixture
def h36m_dir(tmp_path: Path) -> tuple[Path, dict]:
    return tmp_path, _write_dataset(tmp_path)


def test_gt_rows_shapes_and_geometry(h36m_dir):
    folder, positions_3d = h36m_dir
    rows = load_h36m_arrays(folder, subjects=("S1", "S5"), keypoints="gt")
    assert len(rows) == 2 * 2 * 4
    assert [(r["subject"], r["action"], r["camera"]) for r in rows[:5]] == [
        ("S1", "Directions", CAMERA_IDS[0]),
        ("S1", "Directions", CAMERA_IDS[1]),
        ("S1", "Directions", CAMERA_IDS[2]),
        ("S1", "Directions", CAMERA_IDS[3]),
        ("S1", "Walking 1", CAMERA_IDS[0]),
    ]
    cameras = load_h36m_cameras(folder / "h36m_cameras.json")
    for row in rows:
        n = ACTIONS[row["subject"]][row["action"]]
        assert row["keypoints_2d"].shape == (n, 17, 2) and row["keypoints_2d"].dtype == np.float32
        assert row["valid"].shape == (n, 17) and row["valid"].dtype == bool and row["valid"].all()
        assert row["poses_3d"].shape == (n, 17, 3) and row["poses_3d"].dtype == np.float32
        assert row["root_trajectory"].shape == (n, 3) and row["camera_intrinsics"].shape == (9,)
        np.testing.assert_array_equal(row["poses_3d"][:, 0], 0.0)  # root-relative

        cam = cameras[row["subject"]][CAMERA_IDS.index(row["camera"])]
        assert (row["image_width"], row["image_height"]) == (cam.res_w, cam.res_h)
        world = positions_3d[row["subject"]][row["action"]][:, list(H36M_32_TO_17)]
        camera_space = row["poses_3d"] + row["root_trajectory"][:, None]
        np.testing.assert_allclose(camera_space, cam.world_to_camera(world.astype(np.float64)), atol=1e-5)
        # 2D is the distorted projection of the 3D, in normalised screen coordinates...
        pixels = project_to_2d(cam.world_to_camera(world.astype(np.float64)), cam.intrinsics)
        np.testing.assert_allclose(
            image_coordinates(row["keypoints_2d"], cam.res_w, cam.res_h), pixels, atol=1e-3
        )
        # ...which the stored (normalised) intrinsics reproduce from poses_3d + root_trajectory.
        np.testing.assert_allclose(
            project_to_2d(camera_space, row["camera_intrinsics"]), row["keypoints_2d"], atol=1e-5
        )


def test_gt_is_cached_in_the_videopose3d_layout(h36m_dir, monkeypatch):
    folder, positions_3d = h36m_dir
    first = load_h36m_arrays(folder, subjects=("S1",))
    cache = folder / "data_2d_h36m_gt.npz"
    assert cache.is_file()
    with np.load(cache, allow_pickle=True) as archive:
        positions_2d, metadata = archive["positions_2d"].item(), archive["metadata"].item()
    assert set(positions_2d) == {"S1", "S5"} and metadata["num_joints"] == 17
    assert len(positions_2d["S5"]["Walking 1"]) == 4
    assert positions_2d["S5"]["Walking 1"][2].shape == (10, 17, 2)

    def fail(*args, **kwargs):
        raise AssertionError("the cached file should have been used")

    monkeypatch.setattr(h36m, "compute_gt_2d", fail)
    second = load_h36m_arrays(folder, subjects=("S1",))
    np.testing.assert_array_equal(first[3]["keypoints_2d"], second[3]["keypoints_2d"])


def test_gt_written_with_the_first_projection_is_recomputed(h36m_dir):
    folder, positions_3d = h36m_dir
    current = _gt_pixels(folder, positions_3d)
    cameras = load_h36m_cameras(folder / "h36m_cameras.json")
    swapped = {}  # version 1 of this package: the tangential pair of "p" in the wrong order, no version key
    for subject, actions in positions_3d.items():
        swapped[subject] = {}
        for action, pos in actions.items():
            views = []
            for cam in cameras[subject]:
                intrinsics = cam.intrinsics.copy()
                intrinsics[7:9] = intrinsics[7:9][::-1]
                world = pos[:, list(H36M_32_TO_17)].astype(np.float64)
                views.append(project_to_2d(cam.world_to_camera(world), intrinsics).astype(np.float32))
            swapped[subject][action] = views
    metadata = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13],
                                                                               [1, 2, 3, 14, 15, 16]]}
    np.savez(folder / "data_2d_h36m_gt.npz", positions_2d=swapped, metadata=metadata)
    row = load_h36m_arrays(folder, subjects=("S1",))[1]
    expected = normalize_screen_coordinates(current["S1"][row["action"]][1], row["image_width"], row["image_height"])
    np.testing.assert_allclose(row["keypoints_2d"], expected, atol=1e-5)  # recomputed, and the file rewritten
    with np.load(folder / "data_2d_h36m_gt.npz", allow_pickle=True) as archive:
        assert archive["metadata"].item()["mpm_hf_gt_2d_version"] == h36m.GT_2D_VERSION
    # a GT file from elsewhere (VideoPose3D's: no version, the correct projection) is used as it is
    shifted = {s: {a: [v + 1e-4 for v in views] for a, views in acts.items()} for s, acts in current.items()}
    np.savez(folder / "data_2d_h36m_gt.npz", positions_2d=shifted, metadata=metadata)
    row = load_h36m_arrays(folder, subjects=("S1",))[1]
    np.testing.assert_allclose(
        row["keypoints_2d"],
        normalize_screen_coordinates(shifted["S1"][row["action"]][1], row["image_width"], row["image_height"]),
        atol=1e-6,
    )


def test_gt_cache_goes_to_the_cache_dir_when_the_data_folder_is_read_only(
    h36m_dir, tmp_path_factory, monkeypatch
):
    folder, _ = h36m_dir
    cache_dir = tmp_path_factory.mktemp("cache")
    folder.chmod(0o555)  # read-only, as the shared data folder (root can still write: must not)
    try:
        rows = load_h36m_arrays(folder, subjects=("S5",), cache_dir=cache_dir)
    finally:
        folder.chmod(0o755)
    assert not (folder / "data_2d_h36m_gt.npz").exists()
    cached = list(cache_dir.rglob("data_2d_h36m_gt.npz"))
    assert len(cached) == 1
    monkeypatch.setattr(h36m, "compute_gt_2d", None)  # a second call must read the cache
    again = load_h36m_arrays(folder, subjects=("S5",), cache_dir=cache_dir)
    np.testing.assert_array_equal(rows[0]["keypoints_2d"], again[0]["keypoints_2d"])


def test_no_cache_written_when_disabled(h36m_dir):
    folder, _ = h36m_dir
    load_h36m_arrays(folder, subjects=("S1",), cache_gt=False)
    assert not (folder / "data_2d_h36m_gt.npz").exists()


def test_mpii_detections_are_converted(h36m_dir):
    folder, positions_3d = h36m_dir
    gt = _gt_pixels(folder, positions_3d)
    sh = {
        s: {a: [p[:, MPII_FROM_H36M].astype(np.float32) for p in cams] for a, cams in acts.items()}
        for s, acts in gt.items()
    }
    _write_2d(folder, "sh_pt_mpii", sh, 16)
    rows = load_h36m_arrays(folder, subjects=("S5",), keypoints="sh_pt_mpii")
    assert len(rows) == 2 * 4
    row = rows[0]
    assert not row["valid"][:, 9].any() and np.isnan(row["keypoints_2d"][:, 9]).all()  # neck/nose missing
    assert row["valid"][:, [j for j in range(17) if j != 9]].all()
    expected = normalize_screen_coordinates(
        gt["S5"]["Directions"][0], row["image_width"], row["image_height"]
    )
    for joint in (1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16):
        np.testing.assert_allclose(row["keypoints_2d"][:, joint], expected[:, joint], atol=1e-5)
    np.testing.assert_allclose(row["keypoints_2d"][:, 0], expected[:, [1, 4]].mean(axis=1), atol=1e-5)
    # A path works as well as a name.
    again = load_h36m_arrays(folder, subjects=("S5",), keypoints=folder / "data_2d_h36m_sh_pt_mpii.npz")
    np.testing.assert_array_equal(again[0]["valid"], row["valid"])


def test_mismatched_frame_counts_are_cropped_with_a_warning(h36m_dir):
    folder, positions_3d = h36m_dir
    gt = _gt_pixels(folder, positions_3d)
    gt["S1"]["Walking 1"][2] = gt["S1"]["Walking 1"][2][:-3]
    _write_2d(folder, "short", gt, 17)
    with pytest.warns(UserWarning, match=r"S1 'Walking 1' camera 58860488: 2D has 9 frames, 3D has 12"):
        rows = load_h36m_arrays(folder, subjects=("S1",), keypoints="short")
    lengths = {(r["action"], r["camera"]): len(r["keypoints_2d"]) for r in rows}
    assert lengths[("Walking 1", "58860488")] == 9 and lengths[("Walking 1", "54138969")] == 12
    cropped = next(r for r in rows if r["camera"] == "58860488" and r["action"] == "Walking 1")
    assert (
        cropped["poses_3d"].shape[0] == cropped["root_trajectory"].shape[0] == cropped["valid"].shape[0] == 9
    )


def test_action_filter(h36m_dir):
    folder, _ = h36m_dir
    rows = load_h36m_arrays(folder, subjects=("S1", "S5"), actions=["Walking"], cache_gt=False)
    assert len(rows) == 8 and {r["action"] for r in rows} == {"Walking 1"}
    with pytest.raises(ValueError, match="Actions \\['Jumping'\\] not found"):
        load_h36m_arrays(folder, subjects=("S1",), actions=["Jumping"], cache_gt=False)


def test_clear_errors(h36m_dir, tmp_path_factory):
    folder, positions_3d = h36m_dir
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(FileNotFoundError, match="data_3d_h36m.npz"):
        load_h36m_arrays(empty)
    with pytest.raises(FileNotFoundError, match=r"data_2d_h36m_cpn_ft_h36m_dbb\.npz"):
        load_h36m_arrays(folder, subjects=("S1",), keypoints="cpn_ft_h36m_dbb")
    with pytest.raises(ValueError, match=r"\['S11'\] not in the 3D file.*available: \['S1', 'S5'\]"):
        load_h36m_arrays(folder, subjects=("S1", "S11"), cache_gt=False)
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        load_h36m_arrays(folder, subjects=("S1",), cameras_file=folder / "nowhere.json")
    gt = _gt_pixels(folder, positions_3d)
    odd = {s: {a: [p[:, :15] for p in cams] for a, cams in acts.items()} for s, acts in gt.items()}
    _write_2d(folder, "odd", odd, 15)
    with pytest.raises(ValueError, match="15 joints"):
        load_h36m_arrays(folder, subjects=("S1",), keypoints="odd")
    only_s1 = {"S1": gt["S1"]}
    _write_2d(folder, "s1only", only_s1, 17)
    with pytest.raises(ValueError, match=r"\['S5'\] not in the 2D file.*available: \['S1'\]"):
        load_h36m_arrays(folder, subjects=("S5",), keypoints="s1only")
    bad3d = {"S1": {"Walking 1": np.zeros((4, 20, 3), np.float32)}}
    np.savez_compressed(folder / "data_3d_h36m.npz", positions_3d=bad3d)
    with pytest.raises(ValueError, match=r"\(N, 32, 3\) or \(N, 17, 3\), got \(4, 20, 3\)"):
        load_h36m_arrays(folder, subjects=("S1",), cache_gt=False)


def test_hf_dataset(h36m_dir):
    folder, _ = h36m_dir
    ds = load_h36m(folder, subjects=("S1", "S5"), cache_gt=False)
    rows = load_h36m_arrays(folder, subjects=("S1", "S5"), cache_gt=False)
    assert ds.num_rows == 16
    assert set(ds.column_names) == set(rows[0])
    item = ds.with_format("numpy")[5]
    for key in ("keypoints_2d", "valid", "poses_3d", "root_trajectory", "camera_intrinsics"):
        assert item[key].dtype == rows[5][key].dtype
        np.testing.assert_array_equal(item[key], rows[5][key])
    assert ds[5]["subject"] == rows[5]["subject"] and ds[5]["image_width"] == rows[5]["image_width"]


@pytest.mark.shared_data
def test_s9_ground_truth_vs_stacked_hourglass(shared_data_dir):
    folder = shared_data_dir / "h36m"
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # S9's 2D and 3D frame counts agree
        sh = load_h36m_arrays(folder, subjects=("S9",), keypoints="sh_pt_mpii")
    gt = load_h36m_arrays(folder, subjects=("S9",), keypoints="gt", cache_gt=False)
    elapsed = time.perf_counter() - start
    assert len(sh) == len(gt) == 29 * 4
    errors = []
    for a, b in zip(sh, gt, strict=True):
        assert (a["action"], a["camera"]) == (b["action"], b["camera"])
        w, h = a["image_width"], a["image_height"]
        distance = np.linalg.norm(
            image_coordinates(a["keypoints_2d"], w, h) - image_coordinates(b["keypoints_2d"], w, h), axis=-1
        )
        errors.append(distance[a["valid"]])
        assert not a["valid"][:, 9].any()
    mean_error = float(np.concatenate(errors).mean())
    print(f"S9 GT vs SH: {mean_error:.2f} px, loaded in {elapsed:.1f} s")
    assert 5.0 < mean_error < 20.0
