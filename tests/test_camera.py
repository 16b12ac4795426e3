"""Camera transforms, projection with distortion, screen normalisation, camera files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mpm_hf.camera import (
    Camera,
    camera_to_world,
    image_coordinates,
    load_h36m_cameras,
    normalize_intrinsics,
    normalize_screen_coordinates,
    project_to_2d,
    quaternion_to_matrix,
    world_to_camera,
)

INTRINSICS = np.array([1145.0, 1143.8, 512.5, 515.5, -0.207, 0.248, -0.003, -0.0014, -0.001])


def _rotation(seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """(w, x, y, z) of a rotation matrix (Shepperd's method, well-conditioned branch)."""
    traces = [np.trace(R), R[0, 0], R[1, 1], R[2, 2]]
    i = int(np.argmax(traces))
    if i == 0:
        w = np.sqrt(1 + np.trace(R)) / 2
        return np.array(
            [w, (R[2, 1] - R[1, 2]) / (4 * w), (R[0, 2] - R[2, 0]) / (4 * w), (R[1, 0] - R[0, 1]) / (4 * w)]
        )
    j, k = (i % 3) + 1, ((i + 1) % 3) + 1
    a, b, c = i - 1, j - 1, k - 1
    s = np.sqrt(1 + R[a, a] - R[b, b] - R[c, c]) * 2
    q = np.zeros(4)
    q[0] = (R[c, b] - R[b, c]) / s
    q[i] = s / 4
    q[j] = (R[b, a] + R[a, b]) / s
    q[k] = (R[c, a] + R[a, c]) / s
    return q


def _reference_projection(X: np.ndarray, K: np.ndarray) -> np.ndarray:
    """VideoPose3D's formula written out point by point."""
    out = np.empty(X.shape[:-1] + (2,))
    for idx in np.ndindex(*X.shape[:-1]):
        x, y = np.clip(X[idx][:2] / X[idx][2], -1, 1)
        r2 = x * x + y * y
        radial = 1 + K[4] * r2 + K[5] * r2**2 + K[6] * r2**3
        tan = K[7] * x + K[8] * y
        u = x * (radial + tan) + K[7] * r2
        v = y * (radial + tan) + K[8] * r2
        out[idx] = (K[0] * u + K[2], K[1] * v + K[3])
    return out


def test_point_on_the_optical_axis_projects_to_the_principal_point():
    X = np.array([[0.0, 0.0, 4.0], [0.0, 0.0, 0.5]])
    np.testing.assert_allclose(project_to_2d(X, INTRINSICS), np.tile(INTRINSICS[2:4], (2, 1)))


def test_projection_matches_the_reference_formula_numpy_and_torch():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.uniform(-1.5, 1.5, (4, 5, 2)), rng.uniform(2, 6, (4, 5, 1))], -1)
    X[0, 0] = (3.0, 0.1, 1.0)  # outside the field of view: clamped like VideoPose3D
    expected = _reference_projection(X, INTRINSICS)
    np.testing.assert_allclose(project_to_2d(X, INTRINSICS), expected, rtol=1e-10)
    torch_out = project_to_2d(torch.from_numpy(X), torch.from_numpy(INTRINSICS))
    assert isinstance(torch_out, torch.Tensor)
    np.testing.assert_allclose(torch_out.numpy(), expected, rtol=1e-10)
    # float32 torch with numpy intrinsics, and per-batch intrinsics (B, 9) against (B, N, 3).
    out32 = project_to_2d(torch.from_numpy(X).float(), INTRINSICS)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(out32.numpy(), expected, rtol=1e-4)
    per_batch = np.tile(INTRINSICS, (4, 1))
    np.testing.assert_allclose(project_to_2d(X, per_batch), expected, rtol=1e-10)


def test_projection_without_distortion_is_pinhole():
    K = INTRINSICS.copy()
    K[4:] = 0
    X = np.array([0.3, -0.2, 2.0])
    np.testing.assert_allclose(project_to_2d(X, K), K[:2] * X[:2] / X[2] + K[2:4])


def test_normalised_intrinsics_project_to_normalised_coordinates():
    X = np.array([[0.3, -0.2, 2.0], [-0.5, 0.4, 5.0]])
    w, h = 1000, 1002
    pixels = project_to_2d(X, INTRINSICS)
    np.testing.assert_allclose(
        project_to_2d(X, normalize_intrinsics(INTRINSICS, w, h)), normalize_screen_coordinates(pixels, w, h)
    )


def test_screen_normalisation_round_trip_and_convention():
    w, h = 1000, 1002
    pts = np.array([[0.0, 0.0], [1000.0, 1002.0], [500.0, 501.0]])
    norm = normalize_screen_coordinates(pts, w, h)
    np.testing.assert_allclose(norm, [[-1, -h / w], [1, h / w], [0, 0]])
    np.testing.assert_allclose(image_coordinates(norm, w, h), pts)
    t = normalize_screen_coordinates(torch.from_numpy(pts).float(), w, h)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), norm, rtol=1e-6)
    np.testing.assert_allclose(image_coordinates(t, w, h).numpy(), pts, rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        normalize_screen_coordinates(np.zeros((3, 3)), w, h)


def test_world_camera_round_trip_numpy_and_torch():
    R, T = _rotation(), np.array([1.8, 4.9, 1.5])
    X = np.random.default_rng(1).normal(size=(6, 17, 3))
    cam = world_to_camera(X, R, T)
    np.testing.assert_allclose(cam[2, 3], R @ (X[2, 3] - T))
    np.testing.assert_allclose(camera_to_world(cam, R, T), X, atol=1e-12)
    cam_t = world_to_camera(torch.from_numpy(X), R, T)
    np.testing.assert_allclose(cam_t.numpy(), cam, atol=1e-12)
    np.testing.assert_allclose(camera_to_world(cam_t, torch.from_numpy(R), T).numpy(), X, atol=1e-12)
    # The camera centre sits at the camera-space origin.
    np.testing.assert_allclose(world_to_camera(T, R, T), 0.0)


def _camera_entry(R: np.ndarray, T_mm: list[float], cid: str) -> dict:
    return {
        "id": cid, "R": R.tolist(), "T": T_mm, "f": INTRINSICS[:2].tolist(), "c": INTRINSICS[2:4].tolist(),
        "k": INTRINSICS[4:7].tolist(), "p": INTRINSICS[7:][::-1].tolist(), "res_w": 1000, "res_h": 1002,
    }  # fmt: skip  (h36m_cameras.json's "p" is in Human3.6M order: VideoPose3D's pair reversed)


def test_load_cameras_matrix_layout(tmp_path):
    R = _rotation(2)
    path = tmp_path / "cams.json"
    path.write_text(json.dumps({"S1": [_camera_entry(R, [1841.1, 4955.3, 1563.4], "54138969")]}))
    cams = load_h36m_cameras(path)
    cam = cams["S1"][0]
    assert isinstance(cam, Camera) and cam.id == "54138969" and (cam.res_w, cam.res_h) == (1000, 1002)
    np.testing.assert_allclose(cam.T, [1.8411, 4.9553, 1.5634])  # mm -> metres
    np.testing.assert_allclose(cam.R, R)
    np.testing.assert_allclose(cam.intrinsics, INTRINSICS)
    assert cam.intrinsics.shape == (9,)
    X = np.array([[0.1, 0.2, 0.9]])
    np.testing.assert_allclose(
        cam.project(cam.world_to_camera(X)), project_to_2d(R @ (X[0] - cam.T), INTRINSICS)[None]
    )


def test_h36m_order_p_is_reversed_and_projects_like_the_human36m_code(tmp_path):
    # S1 camera 54138969: "p" as in the Human3.6M metadata / h36m_cameras.json, and VideoPose3D's
    # tangential_distortion of the same camera (common/h36m_dataset.py)
    p_h36m = [-0.00142447157470321, -0.000975698859470499]
    entry = _camera_entry(_rotation(1), [1841.1, 4955.3, 1563.4], "54138969")
    entry["p"] = p_h36m
    path = tmp_path / "cams.json"
    path.write_text(json.dumps({"S1": [entry]}))
    cam = load_h36m_cameras(path)["S1"][0]
    np.testing.assert_allclose(cam.p, [-0.0009756988729350269, -0.00142447161488235], rtol=1e-7)
    # The Human3.6M projection (ProjectPointRadial): tan = p1 y + p2 x, then + [p2, p1] r^2, with the file's p.
    points = np.random.default_rng(0).normal(size=(50, 3)) * [0.3, 0.3, 0.5] + [0.0, 0.0, 4.0]
    xy = points[:, :2] / points[:, 2:]
    r2 = (xy**2).sum(axis=1, keepdims=True)
    k = np.asarray(entry["k"])
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p_h36m[0] * xy[:, 1:] + p_h36m[1] * xy[:, :1]
    distorted = xy * (radial + tan) + np.array([p_h36m[1], p_h36m[0]]) * r2
    expected = np.asarray(entry["f"]) * distorted + np.asarray(entry["c"])
    np.testing.assert_allclose(project_to_2d(points, cam.intrinsics), expected, rtol=0, atol=1e-9)


def test_load_cameras_quaternion_layouts_agree_with_matrix_layout(tmp_path):
    R = _rotation(3)
    # VideoPose3D's quaternion rotates camera -> world: it is the quaternion of R^T.
    q = _matrix_to_quaternion(R.T)
    np.testing.assert_allclose(quaternion_to_matrix(q), R.T, atol=1e-12)
    intrinsic = {
        "id": "54138969", "center": INTRINSICS[2:4].tolist(), "focal_length": INTRINSICS[:2].tolist(),
        "radial_distortion": INTRINSICS[4:7].tolist(), "tangential_distortion": INTRINSICS[7:].tolist(),
        "res_w": 1000, "res_h": 1002,
    }  # fmt: skip
    extrinsic = {"orientation": q.tolist(), "translation": [1000.0, -2000.0, 1500.0]}
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"intrinsic": [intrinsic], "extrinsic": {"S5": [extrinsic]}}))
    merged = tmp_path / "merged.json"
    merged.write_text(json.dumps({"S5": [{**intrinsic, **extrinsic}]}))
    for path in (split, merged):
        cam = load_h36m_cameras(path)["S5"][0]
        np.testing.assert_allclose(cam.R, R, atol=1e-12)
        np.testing.assert_allclose(cam.T, [1.0, -2.0, 1.5])
        np.testing.assert_allclose(cam.intrinsics, INTRINSICS)
        assert cam.id == "54138969"


def test_quaternion_to_matrix_is_the_unit_quaternion_formula():
    for q in np.random.default_rng(4).normal(scale=2.0, size=(32, 4)):  # not of unit norm
        w, x, y, z = q / np.linalg.norm(q)
        expected = [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
        np.testing.assert_allclose(quaternion_to_matrix(q), expected, atol=1e-15)
    np.testing.assert_array_equal(quaternion_to_matrix([2.0, 0, 0, 0]), np.eye(3))
    with pytest.raises(ValueError, match="zero norm"):
        quaternion_to_matrix(np.zeros(4))


def test_load_cameras_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_h36m_cameras(tmp_path / "missing.json")
    entry = _camera_entry(np.eye(3), [0.0, 0.0, 0.0], "1")
    del entry["k"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"S1": [entry]}))
    with pytest.raises(ValueError, match=r"bad\.json: S1 camera 0: missing field 'k' or 'radial_distortion'"):
        load_h36m_cameras(bad)
    entry = _camera_entry(np.eye(3), [0.0, 0.0], "1")
    bad.write_text(json.dumps({"S1": [entry]}))
    with pytest.raises(ValueError, match="'T' must hold 3"):
        load_h36m_cameras(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_h36m_cameras(bad)


@pytest.mark.shared_data
def test_shared_cameras_file(shared_data_dir):
    cams = load_h36m_cameras(shared_data_dir / "h36m" / "h36m_cameras.json")
    assert "S9" in cams and [c.id for c in cams["S9"]] == ["54138969", "55011271", "58860488", "60457274"]
    for cam in cams["S9"]:
        np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-6)
        assert 1.0 < np.linalg.norm(cam.T) < 10.0  # metres from the capture-room origin
