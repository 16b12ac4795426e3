"""Cameras: world <-> camera transforms, projection with lens distortion, screen normalisation.

Conventions (those of VideoPose3D and of Human3.6M):

- World and camera coordinates are in **metres**; ``X_cam = R @ (X_world - T)`` with ``R`` the
  world -> camera rotation and ``T`` the camera centre in world coordinates.
- Image coordinates are in **pixels**; *normalised screen coordinates* map x from [0, w] to [-1, 1]
  and y with the same scale (``x / w * 2 - 1``, ``y / w * 2 - h / w``), keeping the aspect ratio.
- Intrinsics are 9 numbers ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` (focal lengths and principal
  point in pixels, or in normalised units after :func:`normalize_intrinsics`; 3 radial and 2
  tangential distortion coefficients).

Every function takes numpy arrays or torch tensors (the type of the first argument decides) and
broadcasts over leading dimensions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.spatial.transform import Rotation

__all__ = [
    "Camera",
    "world_to_camera",
    "camera_to_world",
    "project_to_2d",
    "normalize_screen_coordinates",
    "image_coordinates",
    "normalize_intrinsics",
    "quaternion_to_matrix",
    "load_h36m_cameras",
]

Array = Any  # numpy.ndarray or torch.Tensor


@dataclass(frozen=True)
class Camera:
    """A calibrated camera.

    Attributes:
        id: Camera identifier (Human3.6M: "54138969", ...).
        R: ``(3, 3)`` world -> camera rotation.
        T: ``(3,)`` camera centre in world coordinates, metres.
        f: ``(2,)`` focal lengths, pixels.
        c: ``(2,)`` principal point, pixels.
        k: ``(3,)`` radial distortion.
        p: ``(2,)`` tangential distortion in VideoPose3D's order (as `project_to_2d` uses it).
        res_w: Image width, pixels.
        res_h: Image height, pixels.
    """

    id: str
    R: np.ndarray = field(repr=False)
    T: np.ndarray
    f: np.ndarray
    c: np.ndarray
    k: np.ndarray = field(repr=False)
    p: np.ndarray = field(repr=False)
    res_w: int
    res_h: int

    @property
    def intrinsics(self) -> np.ndarray:
        """``(9,)`` float64 ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` in pixels."""
        return np.concatenate([self.f, self.c, self.k, self.p]).astype(np.float64)

    @property
    def normalized_intrinsics(self) -> np.ndarray:
        """:attr:`intrinsics` for normalised screen coordinates (see :func:`normalize_intrinsics`)."""
        return normalize_intrinsics(self.intrinsics, self.res_w, self.res_h)

    def world_to_camera(self, X: Array) -> Array:
        """World points ``(..., 3)`` (metres) -> camera coordinates (metres)."""
        return world_to_camera(X, self.R, self.T)

    def camera_to_world(self, X: Array) -> Array:
        """Camera points ``(..., 3)`` (metres) -> world coordinates (metres)."""
        return camera_to_world(X, self.R, self.T)

    def project(self, X_cam: Array) -> Array:
        """Camera points ``(..., 3)`` (metres) -> pixels ``(..., 2)``, with distortion."""
        return project_to_2d(X_cam, self.intrinsics)


def _like(value: Any, reference: Array) -> Array:
    """``value`` as an array of the same kind (and, for torch, dtype/device) as ``reference``."""
    if isinstance(reference, torch.Tensor):
        return torch.as_tensor(
            np.asarray(value) if not isinstance(value, torch.Tensor) else value,
            dtype=reference.dtype,
            device=reference.device,
        )
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.result_type(reference, np.float32))


def _as_float(X: Array) -> Array:
    if isinstance(X, torch.Tensor):
        return X if X.is_floating_point() else X.float()
    X = np.asarray(X)
    return X if np.issubdtype(X.dtype, np.floating) else X.astype(np.float64)


def _right_multiply(X: Array, M: Array) -> Array:
    """``X @ M`` for ``X (..., 3)`` as one (n, 3) x (3, 3) product with a contiguous ``M``: numpy
    would otherwise loop over a stack of tiny products, ~10x slower on long sequences."""
    M = M.contiguous() if isinstance(M, torch.Tensor) else np.ascontiguousarray(M)
    return (X.reshape(-1, 3) @ M).reshape(X.shape)


def world_to_camera(X: Array, R: Array, T: Array) -> Array:
    """``X_cam = R @ (X - T)`` for points ``X (..., 3)``; ``R (3, 3)``, ``T (3,)`` (metres)."""
    X = _as_float(X)
    return _right_multiply(X - _like(T, X), _like(R, X).T)


def camera_to_world(X: Array, R: Array, T: Array) -> Array:
    """Inverse of :func:`world_to_camera`: ``X_world = R^T @ X_cam + T``."""
    X = _as_float(X)
    return _right_multiply(X, _like(R, X)) + _like(T, X)


def project_to_2d(X: Array, intrinsics: Array) -> Array:
    """Project camera-space points to the image with radial and tangential distortion.

    The computation of VideoPose3D's ``project_to_2d``: with ``XX = X[:2] / Z`` clamped to
    [-1, 1] (points far outside the field of view would make the distortion polynomial explode),
    ``r2 = |XX|^2``, ``radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3``, ``tan = p1 x + p2 y``,
    ``XX' = XX * (radial + tan) + p * r2``, and the result is ``f * XX' + c``.

    Args:
        X: ``(..., 3)`` points in camera coordinates, metres, ``Z > 0``.
        intrinsics: ``(9,)`` or ``(..., 9)`` (broadcast against ``X``'s leading dimensions).

    Returns:
        ``(..., 2)`` image coordinates in the units of ``f`` and ``c`` (pixels, or normalised
        screen coordinates with :func:`normalize_intrinsics`).
    """
    X = _as_float(X)
    if X.shape[-1] != 3:
        raise ValueError(f"X must have shape (..., 3), got {tuple(X.shape)}")
    params = _like(intrinsics, X)
    if params.shape[-1] != 9:
        raise ValueError(f"intrinsics must have shape (9,) or (..., 9), got {tuple(params.shape)}")
    while params.ndim > 1 and params.ndim < X.ndim:
        params = params[..., None, :]  # (B, 9) with X (B, N, 3): one camera per leading index
    f, c, k, p = params[..., 0:2], params[..., 2:4], params[..., 4:7], params[..., 7:9]

    XX = X[..., :2] / X[..., 2:3]
    if isinstance(XX, torch.Tensor):
        XX = XX.clamp(-1.0, 1.0)
        r2 = (XX**2).sum(dim=-1, keepdim=True)
        radial = 1 + (k * torch.cat([r2, r2**2, r2**3], dim=-1)).sum(dim=-1, keepdim=True)
        tan = (p * XX).sum(dim=-1, keepdim=True)
    else:
        XX = np.clip(XX, -1.0, 1.0)
        r2 = (XX**2).sum(axis=-1, keepdims=True)
        radial = 1 + (k * np.concatenate([r2, r2**2, r2**3], axis=-1)).sum(axis=-1, keepdims=True)
        tan = (p * XX).sum(axis=-1, keepdims=True)
    XXX = XX * (radial + tan) + p * r2
    return f * XXX + c


def normalize_screen_coordinates(X: Array, w: float, h: float) -> Array:
    """Pixels -> normalised screen coordinates: ``x / w * 2 - 1``, ``y / w * 2 - h / w``.

    ``X`` is ``(..., 2)``; x spans [-1, 1] and y keeps the aspect ratio.
    """
    if X.shape[-1] != 2:
        raise ValueError(f"X must have shape (..., 2), got {tuple(X.shape)}")
    X = _as_float(X)
    return X / w * 2 - _like([1.0, h / w], X)


def image_coordinates(X: Array, w: float, h: float) -> Array:
    """Inverse of :func:`normalize_screen_coordinates`: normalised screen coordinates -> pixels."""
    if X.shape[-1] != 2:
        raise ValueError(f"X must have shape (..., 2), got {tuple(X.shape)}")
    X = _as_float(X)
    return (X + _like([1.0, h / w], X)) * w / 2


def normalize_intrinsics(intrinsics: Array, w: float, h: float) -> Array:
    """Intrinsics in pixels -> intrinsics that project to normalised screen coordinates.

    ``f -> f / w * 2`` and ``c -> normalize_screen_coordinates(c)``; distortion is unitless and
    unchanged. Since the normalisation is affine, ``project_to_2d(X, normalize_intrinsics(K))``
    equals ``normalize_screen_coordinates(project_to_2d(X, K))`` (VideoPose3D stores these).
    """
    K = _as_float(intrinsics)
    if K.shape[-1] != 9:
        raise ValueError(f"intrinsics must have shape (..., 9), got {tuple(K.shape)}")
    f = K[..., 0:2] / w * 2
    c = normalize_screen_coordinates(K[..., 2:4], w, h)
    cat = torch.cat if isinstance(K, torch.Tensor) else np.concatenate
    return cat([f, c, K[..., 4:9]], -1)


def quaternion_to_matrix(q: Array) -> np.ndarray:
    """Quaternion ``(w, x, y, z)`` (scalar first, as VideoPose3D stores them) -> ``(3, 3)`` rotation matrix.

    The quaternion is normalised first; one of zero norm is a ``ValueError`` (scipy's ``Rotation``).
    """
    return Rotation.from_quat(np.asarray(q, dtype=np.float64), scalar_first=True).as_matrix()


# Field names accepted for each Camera attribute: this package's JSON / VideoPose3D's dictionaries.
_FIELD_ALIASES = {
    "f": ("f", "focal_length"),
    "c": ("c", "center"),
    "k": ("k", "radial_distortion"),
    "res_w": ("res_w",),
    "res_h": ("res_h",),
}


def _field(entry: dict, name: str, where: str) -> Any:
    for alias in _FIELD_ALIASES.get(name, (name,)):
        if alias in entry:
            return entry[alias]
    raise ValueError(f"{where}: missing field {' or '.join(map(repr, _FIELD_ALIASES.get(name, (name,))))}")


def _vector(entry: dict, name: str, size: int, where: str) -> np.ndarray:
    value = np.asarray(_field(entry, name, where), dtype=np.float64).reshape(-1)
    if value.size != size or not np.isfinite(value).all():
        raise ValueError(f"{where}: field {name!r} must hold {size} finite numbers, got {value.tolist()}")
    return value


def _tangential_distortion(entry: dict, where: str) -> np.ndarray:
    """``p`` in VideoPose3D's order (the one `project_to_2d` uses).

    ``tangential_distortion`` (VideoPose3D's dictionaries) is taken as it is. ``p`` (``h36m_cameras.json``, the
    Human3.6M metadata) is ``[p1, p2]`` of the Human3.6M projection code, which computes ``p1 * y + p2 * x`` and
    adds ``[p2, p1] * r^2``; VideoPose3D stores the same camera's pair reversed (S1 camera 54138969: ``p`` =
    [-0.001424, -0.000976], ``tangential_distortion`` = [-0.000976, -0.001424]), so ``p`` is reversed here.
    """
    if "tangential_distortion" in entry:
        return _vector(entry, "tangential_distortion", 2, where)
    return _vector(entry, "p", 2, where)[::-1].copy()


def _parse_camera(entry: dict, where: str) -> Camera:
    if "R" in entry and "T" in entry:
        R = np.asarray(entry["R"], dtype=np.float64)
        T_mm = _vector(entry, "T", 3, where)
    elif "orientation" in entry and "translation" in entry:
        # VideoPose3D's extrinsics: the quaternion rotates camera -> world, so R is its transpose.
        R = quaternion_to_matrix(_vector(entry, "orientation", 4, where)).T
        T_mm = _vector(entry, "translation", 3, where)
    else:
        raise ValueError(f"{where}: needs 'R' and 'T', or 'orientation' and 'translation'")
    if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-4):
        raise ValueError(f"{where}: 'R' must be a 3x3 rotation matrix")
    f = _vector(entry, "f", 2, where)
    if (f <= 0).any():
        raise ValueError(f"{where}: focal lengths must be positive, got {f.tolist()}")
    return Camera(
        id=str(entry.get("id", "")),
        R=R,
        T=T_mm / 1000.0,
        f=f,
        c=_vector(entry, "c", 2, where),
        k=_vector(entry, "k", 3, where),
        p=_tangential_distortion(entry, where),
        res_w=int(_field(entry, "res_w", where)),
        res_h=int(_field(entry, "res_h", where)),
    )


def load_h36m_cameras(path: str | Path) -> dict[str, list[Camera]]:
    """Read Human3.6M cameras from a JSON file; translations in the file are **millimetres**.

    Two layouts are accepted:

    1. ``{subject: [camera, ...]}`` where each camera holds either ``R`` (3x3 world -> camera) and
       ``T`` (camera centre, mm) — the layout of ``h36m_cameras.json`` — or VideoPose3D-style
       ``orientation`` (quaternion w, x, y, z, rotating camera -> world) and ``translation``
       (camera centre, mm), plus the intrinsics ``f``/``focal_length``, ``c``/``center``,
       ``k``/``radial_distortion``, ``p`` (Human3.6M order, reversed on reading) or
       ``tangential_distortion`` (VideoPose3D order), ``res_w``, ``res_h`` (pixels).
    2. ``{"intrinsic": [camera, ...], "extrinsic": {subject: [camera, ...]}}`` (VideoPose3D's
       ``h36m_cameras_intrinsic_params`` and ``h36m_cameras_extrinsic_params``): intrinsic entry i
       completes every subject's extrinsic entry i.

    Returns:
        ``{subject: [Camera, ...]}`` in file order, translations converted to metres.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Camera file not found: {path} (expected a JSON of Human3.6M cameras)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object mapping subjects to camera lists")

    intrinsics: list[dict] | None = None
    if "extrinsic" in data or "intrinsic" in data:
        if not ("extrinsic" in data and "intrinsic" in data):
            raise ValueError(f"{path}: needs both 'intrinsic' and 'extrinsic' entries")
        intrinsics, data = data["intrinsic"], data["extrinsic"]

    cameras: dict[str, list[Camera]] = {}
    for subject, entries in data.items():
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{path}: subject {subject!r} must map to a non-empty list of cameras")
        if intrinsics is not None and len(intrinsics) != len(entries):
            raise ValueError(
                f"{path}: subject {subject!r} has {len(entries)} extrinsics but there are "
                f"{len(intrinsics)} intrinsics"
            )
        parsed = []
        for i, entry in enumerate(entries):
            if intrinsics is not None:
                entry = {**intrinsics[i], **entry}
            parsed.append(_parse_camera(entry, f"{path}: {subject} camera {i}"))
        cameras[subject] = parsed
    return cameras
