"""MPI-INF-3DHP in the P-STMO / MotionBERT pre-processed layout, as numpy arrays or a ``datasets.Dataset``.

Files read from ``data_dir`` (made by P-STMO's set-up and reused by MotionBERT, MPM and most lifting
papers since). Both hold one key, ``data``, a pickled dictionary:

- ``data_train_3dhp.npz``: ``{"S1 Seq1": [{camera: {"data_2d": (N, 17, 2+), "data_3d": (N, 17, 3)}}],
  ...}``: subject and sequence joined by a space, then a one-element list holding a dictionary of
  the cameras of that sequence (camera keys are the indices of the 14 studio cameras).
- ``data_test_3dhp.npz``: ``{"TS1": {"data_2d": (N, 17, 2+), "data_3d": (N, 17, 3), "valid": (N,)},
  ... "TS6": ...}``.

The pickle is read with :func:`mpm_hf.data.npz.read_npz`: only dictionaries, lists, strings, numbers
and numpy arrays come out of it unless ``trust_pickle=True``.

``data_2d`` is in **pixels** (only the first two channels are read); ``data_3d`` is in
**millimetres**, camera coordinates; ``valid`` flags the test frames the benchmark scores. Images
are 2048 x 2048 (training cameras, test sequences TS1-TS4 in the studio) or 1920 x 1080 (TS5-TS6,
outdoors, a GoPro).

Joints are stored in the 17-joint order of the 3DHP test annotation (:data:`MPI_INF_3DHP_17`,
pelvis = joint 14) and returned in Human3.6M-17 order with :func:`mpm_hf.keypoints.convert_keypoints`:

=================  ==============  =================  ==============
H36M-17            3DHP-17         H36M-17            3DHP-17
=================  ==============  =================  ==============
0 pelvis           14 pelvis       9 neck_nose        16 head
1-3 right leg      8, 9, 10        10 head            0 head_top
4-6 left leg       11, 12, 13      11-13 left arm     5, 6, 7
7 spine            15 spine        14-16 right arm    2, 3, 4
8 thorax           1 neck
=================  ==============  =================  ==============

``num_joints=16`` gives instead the 16 joints of the MPM release's 3DHP models
(:data:`MPI_INF_3DHP_16` order, Human3.6M-17 without ``neck_nose``) built as the release builds them:
its "thorax" is the 3DHP ``head`` joint and its "head" the midpoint of ``head`` and ``head_top``
(the 3DHP ``neck`` is dropped). Use it only to match checkpoints trained that way.

Every (subject, sequence, camera) of the training file, or every test sequence, becomes one
sequence dict with the fields of :func:`mpm_hf.data.h36m.load_h36m_arrays` (``subject``,
``action``, ``camera``, ``keypoints_2d``, ``valid``, ``poses_3d``, ``root_trajectory``,
``camera_intrinsics``, ``image_width``, ``image_height``) plus ``valid_frames (N,) bool``:

- training: ``subject`` "S1".."S8", ``action`` "Seq1"/"Seq2", ``camera`` the camera index ("0"..);
  ``valid_frames`` is all True unless the camera's entry carries its own ``valid`` flags (read when
  present; the MPM release ignores them in training).
- test: ``subject`` "TS1".."TS6", ``action`` the scene ("studio_green_screen" TS1-2, "studio" TS3-4,
  "outdoor" TS5-6), ``camera`` "studio" or "outdoor"; ``valid_frames`` is the file's ``valid``.

Frame validity lives in ``valid_frames`` only: ``valid (N, J)`` marks the joints the file provides (False
where the conversion to the output joints has no source joint), so the 2D of invalid frames, kept as
stored (finite), reaches a model as context like every other frame; the benchmark scores valid frames
only (``evaluate_lifting`` honours ``valid_frames``).

``camera_intrinsics`` are the published calibrations for normalised screen coordinates (training
camera ``i``; camera 8 for TS1-TS4; the GoPro, with distortion, for TS5-TS6), NaN for a camera key
that is not one of the 14 studio cameras. ``poses_3d`` are root-relative metres; the benchmark
itself uses these root-relative test poses as ground truth.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..camera import normalize_intrinsics, normalize_screen_coordinates
from ..keypoints import MPI_INF_3DHP_17, convert_keypoints
from .h36m import h36m_features
from .npz import read_npz

__all__ = [
    "TRAIN_FILE",
    "TEST_FILE",
    "TRAIN_SUBJECTS",
    "TEST_SEQUENCES",
    "load_mpi_inf_3dhp_arrays",
    "load_mpi_inf_3dhp",
    "mpi_inf_3dhp_features",
]

TRAIN_FILE = "data_train_3dhp.npz"
TEST_FILE = "data_test_3dhp.npz"
TRAIN_SUBJECTS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8")
TEST_SEQUENCES = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")

_ROOT = MPI_INF_3DHP_17.index("pelvis")
_HEAD, _HEAD_TOP = MPI_INF_3DHP_17.index("head"), MPI_INF_3DHP_17.index("head_top")
# The MPM release's 16-joint order, as indices into 3DHP-17; slot 9 ("head") is replaced by
# mid(head, head_top) after the gather.
_RELEASE_16 = (14, 8, 9, 10, 11, 12, 13, 15, 16, 0, 5, 6, 7, 2, 3, 4)
_RELEASE_16_HEAD_SLOT = 9

_STUDIO_SIZE = (2048, 2048)
_OUTDOOR_SIZE = (1920, 1080)
_TEST_SCENES = {
    "TS1": "studio_green_screen",
    "TS2": "studio_green_screen",
    "TS3": "studio",
    "TS4": "studio",
    "TS5": "outdoor",
    "TS6": "outdoor",
}
# Published 3DHP calibrations (pixels): (fx, fy, cx, cy) of the 14 studio cameras.
_STUDIO_CAMERAS = (
    (1497.693, 1497.103, 1024.704, 1051.394),
    (1495.217, 1495.520, 1030.519, 1052.626),
    (1495.587, 1497.828, 983.8873, 987.5902),
    (1495.886, 1496.033, 1029.060, 1041.409),
    (1490.952, 1491.108, 987.6075, 1019.069),
    (1500.414, 1499.971, 1012.331, 998.5009),
    (1498.471, 1498.800, 999.7319, 1010.251),
    (1498.831, 1499.674, 987.2716, 976.8773),
    (1500.172, 1500.837, 1017.387, 1043.032),
    (1501.554, 1501.900, 1010.423, 1037.096),
    (1498.423, 1498.585, 1041.614, 997.0433),
    (1495.779, 1493.703, 1009.802, 999.9984),
    (1501.326, 1501.491, 1000.560, 1014.975),
    (1496.961, 1497.378, 1005.702, 1004.214),
)
_TEST_STUDIO_CAMERA = 8
# The outdoor GoPro of TS5-TS6: fx, fy, cx, cy, k1, k2, k3, p1, p2.
_GOPRO = (
    1683.98345952, 1672.59370772, 939.85754016, 560.140743168,
    -0.276859611, 0.131125256, -0.049318332, -0.000360494, -0.001149441,
)  # fmt: skip


def _studio_intrinsics(camera: int) -> np.ndarray:
    return np.array([*_STUDIO_CAMERAS[camera], 0, 0, 0, 0, 0], dtype=np.float64)


_LAYOUT = (
    "'data': {'S1 Seq1': [{camera: {'data_2d': (N, 17, 2+), 'data_3d': (N, 17, 3)}}], ...} (training) or "
    "{'TS1': {'data_2d', 'data_3d', 'valid'}, ...} (test)"
)


def _load_data_dict(path: Path, trust_pickle: bool) -> dict:
    """The pickled ``data`` dictionary of a P-STMO 3DHP file, unpickled as ``mpm_hf.data.npz.read_npz`` allows."""
    if not path.is_file():
        raise FileNotFoundError(
            f"MPI-INF-3DHP file not found: {path} (expected P-STMO's pre-processed "
            f"{TRAIN_FILE} / {TEST_FILE})"
        )
    data = read_npz(path, "MPI-INF-3DHP poses (P-STMO layout)", _LAYOUT, ("data",), trust_pickle=trust_pickle)["data"]
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: 'data' must hold a pickled dictionary, got {type(data).__name__}; layout {_LAYOUT}")
    return dict(data)


def _field(anim: Mapping, key: str, path: Path, where: str) -> np.ndarray:
    if not isinstance(anim, Mapping) or key not in anim:
        found = sorted(anim) if isinstance(anim, Mapping) else type(anim).__name__
        raise ValueError(f"{path}: {where} has no {key!r} (found {found})")
    return np.asarray(anim[key])


def _check_poses(array: np.ndarray, coords: int, path: Path, where: str, name: str) -> None:
    if array.ndim != 3 or array.shape[-1] < coords or (coords == 3 and array.shape[-1] != 3):
        expected = "(N, 17, 3)" if coords == 3 else "(N, 17, 2 or more)"
        raise ValueError(f"{path}: {where} {name!r} must have shape {expected}, got {array.shape}")
    if array.shape[1] != MPI_INF_3DHP_17.num_joints:
        raise ValueError(
            f"{path}: {where} {name!r} has {array.shape[1]} joints, expected "
            f"{MPI_INF_3DHP_17.num_joints} (the 3DHP-17 order)"
        )


def _to_output_joints(points: np.ndarray, num_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """3DHP-17 points ``(N, 17, C)`` -> ``(N, num_joints, C)`` float32 and joint validity."""
    if num_joints == 17:
        return convert_keypoints(points, "3dhp", "h36m")
    out = points[:, list(_RELEASE_16)].astype(np.float32)
    out[:, _RELEASE_16_HEAD_SLOT] = 0.5 * (points[:, _HEAD] + points[:, _HEAD_TOP])
    valid = np.isfinite(out).all(axis=-1)
    out[~valid] = np.nan
    return out, valid


def _sequence(
    anim: Mapping,
    path: Path,
    where: str,
    names: dict[str, str],
    image_size: tuple[int, int],
    intrinsics: np.ndarray,
    frame_valid: np.ndarray | None,
    num_joints: int,
    millimetres: bool,
) -> dict[str, Any]:
    points_2d = _field(anim, "data_2d", path, where)
    points_3d = _field(anim, "data_3d", path, where)
    _check_poses(points_2d, 2, path, where, "data_2d")
    _check_poses(points_3d, 3, path, where, "data_3d")
    if len(points_2d) != len(points_3d):
        raise ValueError(f"{path}: {where} has {len(points_2d)} 2D frames but {len(points_3d)} 3D frames")
    n = len(points_3d)
    if frame_valid is None:
        frame_valid = np.ones(n, dtype=bool)
    elif frame_valid.shape != (n,):
        raise ValueError(f"{path}: {where} 'valid' must have shape ({n},), got {frame_valid.shape}")

    xyz = points_3d.astype(np.float64) / (1000.0 if millimetres else 1.0)
    root = xyz[:, _ROOT]
    relative = xyz - root[:, None]
    extent = np.nanmax(np.linalg.norm(relative, axis=-1)) if n else 0.0
    if millimetres and 0 < extent < 0.01:
        raise ValueError(
            f"{path}: {where} 'data_3d' spans only {extent * 1000:.3g} units around the pelvis; it looks "
            "like metres, not millimetres (pass units='m')"
        )
    width, height = image_size
    keypoints_2d, valid_2d = _to_output_joints(points_2d[..., :2].astype(np.float64), num_joints)
    poses_3d, valid_3d = _to_output_joints(relative, num_joints)
    return {
        **names,
        "keypoints_2d": normalize_screen_coordinates(keypoints_2d, width, height).astype(np.float32),
        "valid": valid_2d & valid_3d,
        "valid_frames": frame_valid,
        "poses_3d": poses_3d.astype(np.float32),
        "root_trajectory": root.astype(np.float32),
        "camera_intrinsics": normalize_intrinsics(intrinsics, width, height).astype(np.float32),
        "image_width": width,
        "image_height": height,
    }


def _train_sequences(
    path: Path, subjects: Sequence[str] | None, num_joints: int, mm: bool, trust_pickle: bool
) -> list[dict]:
    data = _load_data_dict(path, trust_pickle)
    sequences = []
    found_subjects = set()
    for key in sorted(data):
        parts = str(key).split(" ")
        if len(parts) != 2:
            raise ValueError(f"{path}: training key {key!r} must be '<subject> <sequence>', e.g. 'S1 Seq1'")
        subject, sequence = parts
        found_subjects.add(subject)
        if subjects is not None and subject not in subjects:
            continue
        entry = data[key]
        cameras = entry if isinstance(entry, Mapping) else (entry[0] if len(entry) else None)
        if not isinstance(cameras, Mapping):
            raise ValueError(
                f"{path}: data[{key!r}] must be a one-element list holding a dictionary of cameras, "
                f"got {type(entry).__name__}"
            )
        for camera in sorted(cameras, key=lambda c: (len(str(c)), str(c))):
            index = int(camera) if str(camera).isdigit() else -1
            intrinsics = (
                _studio_intrinsics(index) if 0 <= index < len(_STUDIO_CAMERAS) else np.full(9, np.nan)
            )
            anim = cameras[camera]
            names = {"subject": subject, "action": sequence, "camera": str(camera)}
            where = f"data[{key!r}][0][{camera!r}]"
            frame_valid = (
                np.asarray(anim["valid"]).reshape(-1).astype(bool)
                if isinstance(anim, Mapping) and "valid" in anim
                else None
            )
            sequences.append(
                _sequence(anim, path, where, names, _STUDIO_SIZE, intrinsics, frame_valid, num_joints, mm)
            )
    if subjects is not None:
        missing = [s for s in subjects if s not in found_subjects]
        if missing:
            raise ValueError(f"{path}: subjects {missing} not found; available: {sorted(found_subjects)}")
    return sequences


def _test_sequences(
    path: Path, subjects: Sequence[str] | None, num_joints: int, mm: bool, trust_pickle: bool
) -> list[dict]:
    data = _load_data_dict(path, trust_pickle)
    unknown = [key for key in data if key not in _TEST_SCENES]
    if unknown:
        raise ValueError(
            f"{path}: unexpected test sequences {unknown}; expected names among {TEST_SEQUENCES}"
        )
    if subjects is not None:
        missing = [s for s in subjects if s not in data]
        if missing:
            raise ValueError(f"{path}: test sequences {missing} not found; available: {sorted(data)}")
    sequences = []
    for name in TEST_SEQUENCES:
        if name not in data or (subjects is not None and name not in subjects):
            continue
        anim = data[name]
        outdoor = _TEST_SCENES[name] == "outdoor"
        valid = _field(anim, "valid", path, f"data[{name!r}]").reshape(-1).astype(bool)
        names = {"subject": name, "action": _TEST_SCENES[name], "camera": "outdoor" if outdoor else "studio"}
        intrinsics = np.array(_GOPRO) if outdoor else _studio_intrinsics(_TEST_STUDIO_CAMERA)
        size = _OUTDOOR_SIZE if outdoor else _STUDIO_SIZE
        sequences.append(
            _sequence(anim, path, f"data[{name!r}]", names, size, intrinsics, valid, num_joints, mm)
        )
    return sequences


def load_mpi_inf_3dhp_arrays(
    data_dir: str | os.PathLike,
    split: str = "train",
    subjects: Sequence[str] | None = None,
    num_joints: int = 17,
    units: str = "mm",
    trust_pickle: bool = False,
) -> list[dict[str, Any]]:
    """Load MPI-INF-3DHP sequences as numpy arrays, one dict per sequence (see the module docstring).

    Args:
        data_dir: Folder holding ``data_train_3dhp.npz`` and/or ``data_test_3dhp.npz``.
        split: ``"train"`` (every subject, sequence and camera of the training file) or ``"test"``
            (TS1-TS6).
        subjects: Keep only these training subjects ("S1", ...) or test sequences ("TS1", ...).
        num_joints: 17 (Human3.6M-17 order) or 16 (the MPM release's 3DHP joints, see above).
        units: Units of ``data_3d`` in the file, ``"mm"`` (P-STMO's files) or ``"m"``.
        trust_pickle: Unpickle the file without restriction. By default only dictionaries, lists,
            strings, numbers and numpy arrays are read from its pickle (``mpm_hf.data.npz``): a file
            naming anything else (e.g. ``os.system``) is a ``ValueError``.

    Returns:
        Dicts with ``keypoints_2d (N, J, 2)`` normalised screen coordinates, ``valid (N, J)`` and
        ``valid_frames (N,)`` bool, ``poses_3d (N, J, 3)`` root-relative camera coordinates in metres,
        ``root_trajectory (N, 3)`` metres, ``camera_intrinsics (9,)`` (normalised), ``image_width``,
        ``image_height``, ``subject``, ``action`` and ``camera``. Training sequences are sorted by
        key and camera index, test sequences TS1..TS6.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if num_joints not in (16, 17):
        raise ValueError(f"num_joints must be 17 (Human3.6M order) or 16 (MPM release), got {num_joints}")
    if units not in ("mm", "m"):
        raise ValueError(f"units must be 'mm' or 'm', got {units!r}")
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise FileNotFoundError(f"MPI-INF-3DHP folder not found: {data_dir}")
    subjects = [subjects] if isinstance(subjects, str) else subjects
    if split == "train":
        return _train_sequences(data_dir / TRAIN_FILE, subjects, num_joints, units == "mm", trust_pickle)
    return _test_sequences(data_dir / TEST_FILE, subjects, num_joints, units == "mm", trust_pickle)


def mpi_inf_3dhp_features(num_joints: int = 17):
    """``datasets.Features`` of :func:`load_mpi_inf_3dhp`: those of Human3.6M plus ``valid_frames``."""
    from datasets import Array2D, Array3D, List, Value

    features = h36m_features()
    features["keypoints_2d"] = Array3D(shape=(None, num_joints, 2), dtype="float32")
    features["valid"] = Array2D(shape=(None, num_joints), dtype="bool")
    features["poses_3d"] = Array3D(shape=(None, num_joints, 3), dtype="float32")
    features["valid_frames"] = List(Value("bool"))
    return features


def load_mpi_inf_3dhp(
    data_dir: str | os.PathLike,
    split: str = "train",
    subjects: Sequence[str] | None = None,
    num_joints: int = 17,
    units: str = "mm",
    trust_pickle: bool = False,
):
    """MPI-INF-3DHP as a ``datasets.Dataset``, one row per sequence.

    Same arguments and fields as :func:`load_mpi_inf_3dhp_arrays`; ``dataset.with_format("numpy")``
    gives the arrays back. Training code should prefer the numpy path with
    :class:`mpm_hf.data.windows.PoseWindows`.
    """
    from datasets import Dataset

    sequences = load_mpi_inf_3dhp_arrays(data_dir, split, subjects, num_joints, units, trust_pickle)
    features = mpi_inf_3dhp_features(num_joints)
    columns = {name: [seq[name] for seq in sequences] for name in features}
    return Dataset.from_dict(columns, features=features)
