"""Human3.6M in the VideoPose3D file layout, as per-sequence numpy arrays or a ``datasets.Dataset``.

Files read from ``data_dir`` (the layout written by VideoPose3D's ``prepare_data_h36m.py``):

- ``data_3d_h36m.npz``: ``positions_3d``, a pickled ``{subject: {action: (N, 32, 3)}}`` of world
  coordinates in metres at 50 Hz (the 17 used joints are picked from the 32).
- ``data_2d_h36m_<name>.npz``: ``positions_2d``, a pickled ``{subject: {action: [4 x (N, J, 2)]}}``
  of pixel coordinates, one array per camera in camera-file order, and ``metadata``
  (``num_joints``, ``keypoints_symmetry``, optionally ``layout_name``). ``J`` = 17 (H36M order),
  16 (MPII order, Stacked-Hourglass detections), 32, or 17 with ``layout_name="coco"``.
- ``h36m_cameras.json``: see :func:`mpm_hf.camera.load_h36m_cameras`.

The pickles are read with :func:`mpm_hf.data.npz.read_npz`: only dictionaries, lists, strings,
numbers and numpy arrays come out of them unless ``trust_pickle=True``; a truncated file or one
of another layout is a ``ValueError`` naming the file and the layout expected.

Ground-truth 2D (``keypoints="gt"``) is not shipped with Human3.6M: unless
``data_2d_h36m_gt.npz`` exists it is computed by projecting the 17 joints through every camera with
lens distortion, and (``cache_gt=True``) written in the same layout next to the data, or under
``~/.cache/mpm_hf/h36m/<key>/`` (``$MPM_HF_CACHE``) when that folder is read-only (no write
permission bits, even for root) or the write fails.

Every (subject, action, camera) becomes one sequence with

============================  =================  =====================================================
field                         shape / type       content
============================  =================  =====================================================
``subject``                   str                "S1", ...
``action``                    str                as in the file, e.g. "Walking 1"
``camera``                    str                camera id, e.g. "54138969"
``keypoints_2d``              (N, 17, 2) float32 normalised screen coordinates, NaN where invalid
``valid``                     (N, 17) bool       False where the 2D joint is missing (e.g. MPII neck)
``poses_3d``                  (N, 17, 3) float32 camera coordinates, metres, root-relative (pelvis = 0)
``root_trajectory``           (N, 3) float32     pelvis in camera coordinates, metres
``camera_intrinsics``         (9,) float32       [fx, fy, cx, cy, k1, k2, k3, p1, p2] for *normalised*
                                                 screen coordinates (f / w * 2, normalised c)
``image_width/height``        int                pixels
============================  =================  =====================================================

so ``project_to_2d(poses_3d + root_trajectory[:, None], camera_intrinsics)`` gives the ground-truth
``keypoints_2d``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..camera import Camera, load_h36m_cameras, normalize_screen_coordinates, project_to_2d
from ..keypoints import H36M_17, H36M_32_TO_17, SKELETONS, convert_keypoints
from .npz import read_npz

__all__ = [
    "TRAIN_SUBJECTS",
    "TEST_SUBJECTS",
    "load_h36m_arrays",
    "load_h36m",
    "h36m_features",
    "compute_gt_2d",
]

TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS = ("S9", "S11")
_FILE_3D = "data_3d_h36m.npz"
_CAMERAS_FILE = "h36m_cameras.json"
# 2D joint order guessed from the joint count when the metadata names no layout.
_LAYOUT_BY_JOINT_COUNT = {17: "h36m", 16: "mpii", 32: "h36m32", 26: "halpe"}


def _file_2d_name(name: str) -> str:
    return f"data_2d_h36m_{name}.npz"


_LAYOUT_3D = "'positions_3d': {subject: {action: float array (N, 32, 3) or (N, 17, 3), metres}}"
_LAYOUT_2D = (
    "'positions_2d': {subject: {action: [one (N, J, 2) pixel array per camera]}} and optionally 'metadata': "
    "{'layout_name', 'num_joints', 'keypoints_symmetry'}"
)


def _read_positions_3d(path: Path, trust_pickle: bool) -> dict[str, dict[str, np.ndarray]]:
    """``positions_3d`` of VideoPose3D's ``data_3d_h36m.npz`` (a pickled dictionary: see ``mpm_hf.data.npz``)."""
    what = "Human3.6M 3D poses (VideoPose3D's data_3d_h36m.npz)"
    positions = read_npz(path, what, _LAYOUT_3D, ("positions_3d",), trust_pickle=trust_pickle)["positions_3d"]
    for subject, action, value in _entries(positions, path, _LAYOUT_3D, "positions_3d"):
        if not isinstance(value, np.ndarray):
            raise ValueError(f"{path}: positions_3d[{subject!r}][{action!r}] is a {type(value).__name__}, expected "
                             f"an array; layout {_LAYOUT_3D}")
        _check_world_shape(value, subject, action, path)
    return positions


def _read_positions_2d(path: Path, what: str, trust_pickle: bool) -> tuple[dict, dict]:
    """``positions_2d`` and ``metadata`` (``{}`` when absent) of a VideoPose3D 2D file."""
    arrays = read_npz(path, what, _LAYOUT_2D, ("positions_2d", "metadata"), required=("positions_2d",),
                      trust_pickle=trust_pickle)
    metadata = arrays.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(
            f"{path}: 'metadata' is a {type(metadata).__name__}, expected a dictionary; layout {_LAYOUT_2D}"
        )
    for subject, action, views in _entries(arrays["positions_2d"], path, _LAYOUT_2D, "positions_2d"):
        if not isinstance(views, (list, tuple)) or not all(isinstance(view, np.ndarray) for view in views):
            raise ValueError(f"{path}: positions_2d[{subject!r}][{action!r}] is a {type(views).__name__}, expected a "
                             f"list of arrays, one per camera; layout {_LAYOUT_2D}")
        shapes = [view.shape for view in views if view.ndim != 3 or view.shape[-1] != 2]
        if shapes:
            raise ValueError(f"{path}: positions_2d[{subject!r}][{action!r}] holds arrays of shape {shapes}, expected "
                             f"(N, J, 2) pixels; layout {_LAYOUT_2D}")
    return arrays["positions_2d"], metadata


def _entries(nested: Any, path: Path, layout: str, key: str) -> Iterable[tuple[str, str, Any]]:
    """``(subject, action, value)`` of a ``{subject: {action: value}}`` dictionary; ``ValueError`` on another shape."""
    if not isinstance(nested, dict):
        raise ValueError(f"{path}: {key} is a {type(nested).__name__}, expected a dictionary; layout {layout}")
    for subject, actions in nested.items():
        if not isinstance(actions, dict):
            raise ValueError(f"{path}: {key}[{subject!r}] is a {type(actions).__name__}, expected a dictionary of "
                             f"actions; layout {layout}")
        for action, value in actions.items():
            yield subject, action, value


def _check_world_shape(positions: np.ndarray, subject: str, action: str, path: Path | None = None) -> None:
    if positions.ndim != 3 or positions.shape[-1] != 3 or positions.shape[1] not in (17, 32):
        raise ValueError(
            f"{f'{path}: ' if path else ''}3D positions of {subject} {action!r} must have shape (N, 32, 3) or "
            f"(N, 17, 3), got {positions.shape}"
        )


def _world_17(positions: np.ndarray, subject: str, action: str) -> np.ndarray:
    positions = np.asarray(positions)
    _check_world_shape(positions, subject, action)
    return positions[:, list(H36M_32_TO_17)] if positions.shape[1] == 32 else positions


def compute_gt_2d(
    positions_3d: dict[str, dict[str, np.ndarray]], cameras: dict[str, list[Camera]]
) -> dict[str, dict[str, list[np.ndarray]]]:
    """Project every 3D sequence through every camera of its subject (with distortion).

    Returns ``{subject: {action: [(N, 17, 2) float32 pixels per camera]}}``, the
    ``positions_2d`` layout of VideoPose3D; subjects without cameras are skipped.
    """
    positions_2d: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in positions_3d.items():
        if subject not in cameras:
            continue
        positions_2d[subject] = {}
        for action, positions in actions.items():
            world = _world_17(positions, subject, action).astype(np.float64)
            positions_2d[subject][action] = [
                project_to_2d(cam.world_to_camera(world), cam.intrinsics).astype(np.float32)
                for cam in cameras[subject]
            ]
    return positions_2d


def _swapped_tangential_projection(positions_2d: dict, positions_3d: dict, cameras: dict[str, list[Camera]]) -> bool:
    """Whether GT 2D pixels were projected with the two tangential coefficients swapped (this package's version 1):
    the first frame of the first sequence matches that projection, not the current one, within 1e-3 px."""
    for subject, actions in positions_2d.items():
        for action, views in actions.items():
            if subject not in cameras or action not in positions_3d.get(subject, {}) or not len(views[0]):
                continue
            camera = cameras[subject][0]
            points = camera.world_to_camera(_world_17(positions_3d[subject][action][:1], subject, action))
            swapped = camera.intrinsics.copy()
            swapped[7:9] = camera.intrinsics[7:9][::-1]
            stored = np.asarray(views[0][:1], dtype=np.float64)
            old = np.abs(stored - project_to_2d(points, swapped)).max()
            return bool(old < 1e-3 < np.abs(stored - project_to_2d(points, camera.intrinsics)).max())
    return False


def _default_cache_dir() -> Path:
    return Path(os.environ.get("MPM_HF_CACHE", Path.home() / ".cache" / "mpm_hf"))


# Version of the GT 2D this package computes, recorded in the files it writes and part of the cache key; bump it
# when the projection changes so that files written by an older version are computed again.
# 2: the Human3.6M-order "p" of h36m_cameras.json is reversed into VideoPose3D's order (1 used it as is).
GT_2D_VERSION = 2


def _gt_cache_path(file_3d: Path, cameras_file: Path, cache_dir: Path) -> Path:
    """Where GT 2D of a read-only data folder is cached: keyed by the 3D and camera files and `GT_2D_VERSION`."""
    key = hashlib.sha256(f"gt-2d-v{GT_2D_VERSION}|".encode())
    for path in (file_3d, cameras_file):
        stat = path.stat()
        key.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return cache_dir / "h36m" / key.hexdigest()[:16] / _file_2d_name("gt")


def _is_writable(folder: Path) -> bool:
    """Writable by us *and* not marked read-only: root passes ``os.access`` on a 0o555 folder."""
    return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)


def _save_positions_2d(path: Path, positions_2d: dict, metadata: dict) -> None:
    """Write atomically (a temporary file renamed), so a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            # Uncompressed: zlib would triple the time of every later load for a 20 % smaller file.
            np.savez(handle, positions_2d=positions_2d, metadata=metadata)
        os.chmod(tmp, 0o644)  # mkstemp creates 0o600; others may read the cache too
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _gt_positions_2d(
    data_dir: Path,
    positions_3d: dict,
    cameras: dict[str, list[Camera]],
    cameras_file: Path,
    subjects: Sequence[str],
    cache_gt: bool,
    cache_dir: Path | None,
    trust_pickle: bool,
) -> tuple[dict, dict]:
    local = data_dir / _file_2d_name("gt")
    # A GT file in the data folder is used as it is (e.g. VideoPose3D's), unless this package wrote it with an
    # older projection: a version below the current one, or no version (version 1) and the swapped tangential pair.
    if local.is_file():
        positions_2d, metadata = _read_positions_2d(local, "ground-truth 2D keypoints", trust_pickle)
        version = metadata.get("mpm_hf_gt_2d_version")
        if version == GT_2D_VERSION or (
            version is None and not _swapped_tangential_projection(positions_2d, positions_3d, cameras)
        ):
            return positions_2d, metadata
    cached = _gt_cache_path(data_dir / _FILE_3D, cameras_file, cache_dir or _default_cache_dir())
    if cached.is_file():
        return _read_positions_2d(cached, "cached ground-truth 2D keypoints", trust_pickle)

    if not cache_gt:  # nothing is kept for later: project only the subjects asked for
        positions_3d = {s: positions_3d[s] for s in subjects}
    positions_2d = compute_gt_2d(positions_3d, cameras)
    metadata = {
        "layout_name": "h36m",
        "num_joints": H36M_17.num_joints,
        "keypoints_symmetry": [list(H36M_17.left_joints), list(H36M_17.right_joints)],
        "mpm_hf_gt_2d_version": GT_2D_VERSION,
    }
    if cache_gt:
        target = local if _is_writable(data_dir) else cached
        try:
            _save_positions_2d(target, positions_2d, metadata)
        except OSError:
            if target == cached:
                raise
            _save_positions_2d(cached, positions_2d, metadata)
    return positions_2d, metadata


def _resolve_2d_file(data_dir: Path, keypoints: str | os.PathLike) -> Path:
    text = os.fspath(keypoints)
    if text.endswith(".npz") or os.sep in text:
        return Path(text).expanduser()
    return data_dir / _file_2d_name(text)


def _layout_of(metadata: dict, num_joints: int, path: Path) -> str:
    layout = metadata.get("layout_name")
    if layout == "h36m" and num_joints == 32:
        layout = "h36m32"
    if layout in SKELETONS and SKELETONS[layout].num_joints == num_joints:
        return layout
    if num_joints in _LAYOUT_BY_JOINT_COUNT:
        return _LAYOUT_BY_JOINT_COUNT[num_joints]
    raise ValueError(
        f"{path}: 2D keypoints have {num_joints} joints; expected one of "
        f"{sorted(_LAYOUT_BY_JOINT_COUNT)} (H36M-17, MPII-16, Halpe-26, H36M-32)"
    )


def _select_actions(available: Iterable[str], actions: Sequence[str] | None) -> list[str]:
    """Actions kept: all, or those whose full name ("Walking 1") or base name ("Walking") is listed."""
    available = sorted(available)
    if actions is None:
        return available
    wanted = set(actions)
    return [a for a in available if a in wanted or a.split(" ")[0] in wanted]


def _check_subjects(subjects: Sequence[str], available: Iterable[str], what: str, path: Path) -> None:
    missing = [s for s in subjects if s not in available]
    if missing:
        raise ValueError(f"Subjects {missing} not in {what} {path}; available: {sorted(available)}")


def _sequence(
    subject: str, action: str, camera: Camera, world: np.ndarray, kp_pixels: np.ndarray, layout: str
) -> dict[str, Any]:
    if kp_pixels.ndim != 3 or kp_pixels.shape[-1] != 2:
        raise ValueError(
            f"2D keypoints of {subject} {action!r} camera {camera.id} must have shape (N, J, 2), "
            f"got {kp_pixels.shape}"
        )
    n3, n2 = len(world), len(kp_pixels)
    if n2 != n3:
        warnings.warn(
            f"Human3.6M {subject} {action!r} camera {camera.id}: 2D has {n2} frames, 3D has {n3}; "
            f"cropping both to {min(n2, n3)}",
            stacklevel=3,
        )
    n = min(n2, n3)
    kp, valid = convert_keypoints(kp_pixels[:n], layout, "h36m")
    cam_xyz = camera.world_to_camera(world[:n].astype(np.float64))
    root = cam_xyz[:, :1]
    return {
        "subject": subject,
        "action": action,
        "camera": camera.id,
        "keypoints_2d": normalize_screen_coordinates(kp, camera.res_w, camera.res_h).astype(np.float32),
        "valid": valid,
        "poses_3d": (cam_xyz - root).astype(np.float32),
        "root_trajectory": root[:, 0].astype(np.float32),
        "camera_intrinsics": camera.normalized_intrinsics.astype(np.float32),
        "image_width": camera.res_w,
        "image_height": camera.res_h,
    }


def load_h36m_arrays(
    data_dir: str | os.PathLike,
    subjects: Sequence[str] = TRAIN_SUBJECTS,
    keypoints: str | os.PathLike = "gt",
    cameras_file: str | os.PathLike | None = None,
    cache_gt: bool = True,
    actions: Sequence[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    trust_pickle: bool = False,
) -> list[dict[str, Any]]:
    """Load Human3.6M sequences as numpy arrays, one dict per (subject, action, camera).

    Args:
        data_dir: Folder holding ``data_3d_h36m.npz`` (and the 2D files, camera JSON).
        subjects: Subjects to load, e.g. ``("S9", "S11")``.
        keypoints: 2D source: ``"gt"`` (projected ground truth), the ``<name>`` of a
            ``data_2d_h36m_<name>.npz`` in ``data_dir`` (``"sh_pt_mpii"``, ``"cpn_ft_h36m_dbb"``,
            ...), or a path to such a file.
        cameras_file: Camera JSON; default ``data_dir/h36m_cameras.json``.
        cache_gt: Write computed ground-truth 2D to disk for the next call.
        actions: Keep only these actions (full name "Walking 1" or base name "Walking").
        cache_dir: Fallback cache folder for a read-only ``data_dir`` (default ``$MPM_HF_CACHE``
            or ``~/.cache/mpm_hf``).
        trust_pickle: Unpickle the files without restriction. By default only dictionaries, lists,
            strings, numbers and numpy arrays are read from their pickles (``mpm_hf.data.npz``): a
            file naming anything else (e.g. ``os.system``) is a ``ValueError``.

    Returns:
        Dicts with the fields listed in the module docstring, sorted by subject (in the given
        order), action and camera. Frame counts that differ between 2D and 3D are cropped to the
        shorter with a warning.
    """
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"Human3.6M folder not found: {data_dir}")
    subjects = [subjects] if isinstance(subjects, str) else list(subjects)
    file_3d = data_dir / _FILE_3D
    positions_3d = _read_positions_3d(file_3d, trust_pickle)
    _check_subjects(subjects, positions_3d, "the 3D file", file_3d)

    cameras_path = Path(cameras_file).expanduser() if cameras_file is not None else data_dir / _CAMERAS_FILE
    cameras = load_h36m_cameras(cameras_path)
    _check_subjects(subjects, cameras, "the camera file", cameras_path)

    if os.fspath(keypoints) == "gt":
        positions_2d, metadata = _gt_positions_2d(
            data_dir,
            {s: positions_3d[s] for s in positions_3d if s in cameras},
            cameras,
            cameras_path,
            subjects,
            cache_gt,
            Path(cache_dir).expanduser() if cache_dir is not None else None,
            trust_pickle,
        )
        file_2d = data_dir / _file_2d_name("gt")
    else:
        file_2d = _resolve_2d_file(data_dir, keypoints)
        if not file_2d.is_file():
            found = sorted(p.name for p in data_dir.glob("data_2d_h36m_*.npz"))
            raise FileNotFoundError(
                f"2D keypoint file not found: {file_2d} (expected VideoPose3D's positions_2d layout; "
                f"2D files in {data_dir}: {found})"
            )
        positions_2d, metadata = _read_positions_2d(file_2d, "2D keypoints", trust_pickle)
    _check_subjects(subjects, positions_2d, "the 2D file", file_2d)

    if actions is not None:
        known = {a for s in subjects for a in positions_3d[s]}
        unknown = [a for a in actions if not _select_actions(known, [a])]
        if unknown:
            raise ValueError(f"Actions {unknown} not found for {subjects}; available: {sorted(known)}")

    sequences = []
    for subject in subjects:
        for action in _select_actions(positions_3d[subject], actions):
            if action not in positions_2d[subject]:
                raise ValueError(f"{file_2d}: no 2D keypoints for {subject} {action!r}")
            per_camera = positions_2d[subject][action]
            if len(per_camera) != len(cameras[subject]):
                raise ValueError(
                    f"{file_2d}: {subject} {action!r} has 2D keypoints for {len(per_camera)} cameras, "
                    f"the camera file has {len(cameras[subject])}"
                )
            world = _world_17(positions_3d[subject][action], subject, action)
            for camera, kp_pixels in zip(cameras[subject], per_camera, strict=True):
                kp_pixels = np.asarray(kp_pixels)
                layout = _layout_of(metadata, kp_pixels.shape[1] if kp_pixels.ndim == 3 else -1, file_2d)
                sequences.append(_sequence(subject, action, camera, world, kp_pixels, layout))
    return sequences


def h36m_features():
    """``datasets.Features`` of :func:`load_h36m`; the frame dimension of the arrays is variable."""
    from datasets import Array2D, Array3D, Features, List, Value

    joints = H36M_17.num_joints
    return Features(
        {
            "subject": Value("string"),
            "action": Value("string"),
            "camera": Value("string"),
            "keypoints_2d": Array3D(shape=(None, joints, 2), dtype="float32"),
            "valid": Array2D(shape=(None, joints), dtype="bool"),
            "poses_3d": Array3D(shape=(None, joints, 3), dtype="float32"),
            "root_trajectory": Array2D(shape=(None, 3), dtype="float32"),
            "camera_intrinsics": List(Value("float32"), length=9),
            "image_width": Value("int32"),
            "image_height": Value("int32"),
        }
    )


def load_h36m(
    data_dir: str | os.PathLike,
    subjects: Sequence[str] = TRAIN_SUBJECTS,
    keypoints: str | os.PathLike = "gt",
    cameras_file: str | os.PathLike | None = None,
    cache_gt: bool = True,
    actions: Sequence[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
    trust_pickle: bool = False,
):
    """Human3.6M as a ``datasets.Dataset``, one row per (subject, action, camera).

    Same arguments and fields as :func:`load_h36m_arrays` (see the module docstring);
    ``dataset.with_format("numpy")`` gives the arrays back. Training code should prefer the
    numpy path (:func:`load_h36m_arrays` + :class:`mpm_hf.data.windows.PoseWindows`).
    """
    from datasets import Dataset

    sequences = load_h36m_arrays(
        data_dir, subjects, keypoints, cameras_file, cache_gt, actions, cache_dir, trust_pickle
    )
    features = h36m_features()
    columns = {name: [seq[name] for seq in sequences] for name in features}
    return Dataset.from_dict(columns, features=features)
