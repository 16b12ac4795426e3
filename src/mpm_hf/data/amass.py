"""AMASS motion capture as 2D-3D pose sequences filmed by virtual cameras (numpy or ``datasets``).

AMASS stores each sequence as SMPL-H body-model parameters, one ``.npz`` per sequence: ``poses
(N, 156)`` axis-angle rotations of the 52 SMPL-H joints (root, 21 body joints, 30 hand joints),
``trans (N, 3)`` root translation (metres), ``betas (16,)`` body shape, ``gender`` and
``mocap_framerate`` (Hz). The world is **z-up**, in metres. ``dmpls`` (soft-tissue dynamics) are
not applied.

Joints are computed in three steps:

1. **Body model** (:class:`BodyModel`, read from a SMPL-H ``model.npz``): the shaped template
   ``v_template + shapedirs @ betas``, the pose-corrective offsets ``posedirs @ (R_k - I)`` of
   joints 1..51, the rest joints ``J_regressor @ v_shaped``, the kinematic chain
   (``kintree_table``) of the Rodrigues rotations, and linear blend skinning with ``weights``; then
   ``trans`` is added. This is the SMPL family's forward pass, run by the ``smplx`` package
   (``smplx.lbs.lbs``; ``pip install mpm-hf[amass]``), the same code as AMASS's own tools.
2. **Human3.6M joints**: a ``(17, V)`` regressor (the field's ``J_regressor_h36m.npy``, whose
   output is in Human3.6M-17 order) maps vertices to the 17 joints. Only the vertices it uses (and
   those the body model's ``J_regressor`` reads) are skinned, which gives the same joints at a
   fraction of the cost.
3. **Resampling** from ``mocap_framerate`` to ``target_fps`` by *linear interpolation of the joint
   positions* at times ``k / target_fps`` (``resample="linear"``), or by taking the nearest source
   frame (``"nearest"``, plain frame subsampling); ``n_out = floor((N - 1) * target / source) + 1``.
   The body model runs only on the source frames that are used.

Each sequence is then filmed by ``virtual_cameras`` pinhole cameras (seeded per sequence name, so
results do not depend on file order): a camera stands at a random azimuth, at an elevation of
``camera_elevation_deg`` (uniform) and a distance of ``camera_distance`` (uniform) plus the largest
horizontal distance of the pelvis from its mean, looking at the mean pelvis position with its x
axis horizontal (x right, y down, z forward). Images are ``image_size`` pixels with focal length
``focal_length`` and the principal point at the centre, no distortion.

Pre-extracted joints (``joints=``), ``(N, 17, 3)`` world coordinates in metres, z-up, Human3.6M-17
order, skip steps 1-2.

Each (sequence, camera) becomes a dict with the fields of
:func:`mpm_hf.data.h36m.load_h36m_arrays`: ``subject`` (the parent folder of the file, or
"joints"), ``action`` (the file stem, or the joints' key), ``camera`` ("virtual_0", ...),
``keypoints_2d (N, 17, 2)`` normalised screen coordinates, ``valid (N, 17)`` (all True),
``poses_3d (N, 17, 3)`` root-relative camera coordinates in metres, ``root_trajectory (N, 3)``,
``camera_intrinsics (9,)`` for normalised coordinates, ``image_width`` and ``image_height``.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..camera import normalize_intrinsics, normalize_screen_coordinates, project_to_2d, world_to_camera
from ..frame_rate import resample_indices  # one implementation, shared with the pipelines
from ..keypoints import H36M_17
from .h36m import h36m_features

__all__ = [
    "BodyModel",
    "load_joint_regressor",
    "amass_world_joints",
    "resample_indices",
    "look_at_camera",
    "world_joints_to_sequences",
    "load_amass_arrays",
    "load_amass",
]

_BODY_MODEL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights")
_FRAMERATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
_SEQUENCE_LAYOUT = "'poses' (N, 3K), 'trans' (N, 3), 'mocap_framerate' (Hz), optionally 'betas' (B,) and 'gender'"
_BODY_MODEL_LAYOUT = f"SMPL-H arrays {list(_BODY_MODEL_KEYS)}"
_WORLD_UP = np.array([0.0, 0.0, 1.0])


def _load_npz(path: Path, what: str, layout: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` without unpickling anything; errors name the file and the ``layout`` expected."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: cannot read {what}: not a .npz (zip) archive, or truncated; expected {layout}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as error:
        raise ValueError(
            f"{path}: cannot read {what} ({type(error).__name__}: {error}); expected {layout} as plain arrays, "
            "nothing pickled"
        ) from error


@dataclass(frozen=True)
class BodyModel:
    """A SMPL-family body model (SMPL-H for AMASS): template, blend shapes, skeleton, skinning weights.

    The arrays are read here rather than by ``smplx.SMPLH``, which unpickles the file and also needs the MANO hand
    PCA (``hands_components*``) and its landmark vertices (nose, ears, finger tips); AMASS's parameters are full
    axis-angle hand poses and only the arrays below enter the forward pass, ``smplx.lbs.lbs``.

    Attributes:
        v_template: ``(V, 3)`` template vertices, metres.
        shapedirs: ``(V, 3, B)`` shape blend shapes.
        posedirs: ``(V, 3, 9 * (K - 1))`` pose-corrective blend shapes.
        J_regressor: ``(K, V)`` rest-joint regressor.
        parents: ``(K,)`` parent of each joint, ``-1`` for the root; parents precede children.
        weights: ``(V, K)`` skinning weights.
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    parents: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> BodyModel:
        """Read a ``model.npz`` with ``v_template``, ``shapedirs``, ``posedirs``, ``J_regressor``,
        ``kintree_table`` and ``weights`` (the SMPL-H files distributed with AMASS; ``f`` is not used)."""
        path = Path(path).expanduser()
        arrays = _load_npz(path, "body model", _BODY_MODEL_LAYOUT)
        missing = [key for key in _BODY_MODEL_KEYS if key not in arrays]
        if missing:
            raise ValueError(f"{path}: body model misses {missing}; found {sorted(arrays)}")
        kintree = np.asarray(arrays["kintree_table"]).astype(np.int64)
        if kintree.ndim != 2 or kintree.shape[0] != 2:
            raise ValueError(f"{path}: kintree_table must have shape (2, K), got {kintree.shape}")
        num_joints = kintree.shape[1]
        if sorted(kintree[1].tolist()) != list(range(num_joints)):
            raise ValueError(f"{path}: kintree_table[1] must list the joints 0..{num_joints - 1}")
        parents = np.empty(num_joints, dtype=np.int64)
        parents[kintree[1]] = kintree[0]
        parents[0] = -1
        try:
            return cls(
                v_template=np.asarray(arrays["v_template"], dtype=np.float64),
                shapedirs=np.asarray(arrays["shapedirs"], dtype=np.float64),
                posedirs=np.asarray(arrays["posedirs"], dtype=np.float64),
                J_regressor=np.asarray(arrays["J_regressor"], dtype=np.float64),
                parents=parents,
                weights=np.asarray(arrays["weights"], dtype=np.float64),
            )
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    def __post_init__(self) -> None:
        V, K = self.num_vertices, self.num_joints
        expected = {
            "v_template": (V, 3),
            "J_regressor": (K, V),
            "weights": (V, K),
            "posedirs": (V, 3, 9 * (K - 1)),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"body model {name} must have shape {shape}, got {getattr(self, name).shape}"
                )
        if self.shapedirs.ndim != 3 or self.shapedirs.shape[:2] != (V, 3):
            raise ValueError(f"body model shapedirs must have shape ({V}, 3, B), got {self.shapedirs.shape}")
        if any(not 0 <= p < k for k, p in enumerate(self.parents[1:].tolist(), start=1)):
            raise ValueError("body model kinematic tree must list every parent before its children")

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    @property
    def num_joints(self) -> int:
        return len(self.parents)

    @property
    def num_betas(self) -> int:
        return self.shapedirs.shape[-1]

    def vertices(
        self,
        poses: np.ndarray,
        betas: np.ndarray | None = None,
        trans: np.ndarray | None = None,
        vertex_ids: np.ndarray | None = None,
        chunk_size: int = 256,
        dtype: torch.dtype = torch.float32,
    ) -> np.ndarray:
        """Posed vertices (metres) by linear blend skinning.

        Args:
            poses: ``(N, 3 K)`` axis-angle rotations, joint-major (root first).
            betas: Body shape; default the template.
            trans: ``(N, 3)`` translations added to every vertex; default zero.
            vertex_ids: Skin only these vertices (default all).
            chunk_size: Frames per batch (bounds memory).
            dtype: Computation precision.

        Returns:
            ``(N, len(vertex_ids) or V, 3)`` float64 vertices.
        """
        poses = np.asarray(poses, dtype=np.float64)
        K = self.num_joints
        if poses.ndim != 2 or poses.shape[1] != 3 * K:
            raise ValueError(
                f"poses must have shape (N, {3 * K}) for a {K}-joint body model, got {poses.shape}"
            )
        n = len(poses)
        trans = np.zeros((n, 3)) if trans is None else np.asarray(trans, dtype=np.float64)
        if trans.shape != (n, 3):
            raise ValueError(f"trans must have shape ({n}, 3), got {trans.shape}")
        ids = np.arange(self.num_vertices) if vertex_ids is None else np.asarray(vertex_ids, dtype=np.int64)
        betas = np.zeros(0) if betas is None else np.asarray(betas, dtype=np.float64).reshape(-1)[: self.num_betas]
        lbs = _smplx_lbs()
        # smplx regresses the rest joints from the vertices it is given: skin those the joint regressor reads too
        skinned = np.union1d(ids, np.nonzero(np.abs(self.J_regressor).sum(axis=0) > 0)[0])
        wanted = torch.as_tensor(np.searchsorted(skinned, ids))
        model = {
            "v_template": self.v_template[skinned],
            "shapedirs": self.shapedirs[skinned][..., : len(betas)],
            "posedirs": self.posedirs[skinned].reshape(len(skinned) * 3, -1).T,
            "J_regressor": self.J_regressor[:, skinned],
            "lbs_weights": self.weights[skinned],
        }
        model = {name: torch.as_tensor(array, dtype=dtype) for name, array in model.items()}
        parents = torch.as_tensor(self.parents)
        shape = torch.as_tensor(betas, dtype=dtype)[None]

        out = np.empty((n, len(ids), 3))
        for start in range(0, n, chunk_size):
            pose = torch.as_tensor(poses[start : start + chunk_size], dtype=dtype)
            posed, _ = lbs(shape.expand(len(pose), -1), pose, parents=parents, **model)
            out[start : start + len(pose)] = posed[:, wanted].double().numpy()
        return out + trans[:, None]


def _smplx_lbs():
    """``smplx.lbs.lbs``, the SMPL family's forward pass; an ``ImportError`` says how to install it."""
    try:
        from smplx.lbs import lbs
    except ImportError as error:
        raise ImportError(
            "AMASS body-model parameters need the smplx package: pip install 'mpm-hf[amass]' (or load "
            "pre-extracted joints with joints=)"
        ) from error
    return lbs


def load_joint_regressor(
    regressor: str | os.PathLike | np.ndarray, num_vertices: int | None = None
) -> np.ndarray:
    """A ``(17, V)`` vertex -> Human3.6M-17 joint regressor, from an array or a ``.npy`` file."""
    where = "joint regressor"
    if isinstance(regressor, (str, os.PathLike)):
        path = Path(regressor).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"joint regressor not found: {path} (expected J_regressor_h36m.npy)")
        try:
            regressor = np.load(path, allow_pickle=False)
        except ValueError as error:
            raise ValueError(
                f"{path}: cannot read the joint regressor without unpickling ({error})"
            ) from error
        where = str(path)
    array = np.asarray(regressor, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != H36M_17.num_joints:
        raise ValueError(f"{where}: must have shape (17, V) (Human3.6M-17 joints), got {array.shape}")
    if num_vertices is not None and array.shape[1] != num_vertices:
        raise ValueError(
            f"{where}: has {array.shape[1]} vertex columns, the body model has {num_vertices} vertices"
        )
    return array


def _nearest(first: np.ndarray, weight: np.ndarray, num_frames: int) -> np.ndarray:
    return np.minimum(first + (weight >= 0.5), num_frames - 1)


def _resample(values: np.ndarray, first: np.ndarray, weight: np.ndarray, method: str) -> np.ndarray:
    if method == "nearest":
        return values[_nearest(first, weight, len(values))]
    second = np.minimum(first + 1, len(values) - 1)
    w = weight.reshape(-1, *([1] * (values.ndim - 1)))
    return (1 - w) * values[first] + w * values[second]


def _frames_used(first: np.ndarray, weight: np.ndarray, method: str, num_frames: int) -> np.ndarray:
    """The source frames :func:`_resample` reads (the body model runs on these only)."""
    if method == "nearest":
        return np.unique(_nearest(first, weight, num_frames))
    return np.unique(np.concatenate([first, np.minimum(first[weight > 0] + 1, num_frames - 1)]))


def _check_method(method: str) -> None:
    if method not in ("linear", "nearest"):
        raise ValueError(f"resample must be 'linear' or 'nearest', got {method!r}")


def _read_amass_file(path: Path) -> dict[str, Any]:
    arrays = _load_npz(path, "AMASS sequence", _SEQUENCE_LAYOUT)
    rate_key = next((key for key in _FRAMERATE_KEYS if key in arrays), None)
    missing = [key for key in ("poses", "trans") if key not in arrays] + (
        [] if rate_key else ["mocap_framerate"]
    )
    if missing:
        raise ValueError(f"{path}: AMASS sequence misses {missing}; found {sorted(arrays)}")
    problems = [f"{key} has dtype {arrays[key].dtype}" for key in ("poses", "trans", "betas", rate_key)
                if key in arrays and not np.issubdtype(arrays[key].dtype, np.number)]
    if arrays[rate_key].size != 1:
        problems.append(f"{rate_key} has shape {arrays[rate_key].shape}")
    if problems:
        raise ValueError(f"{path}: expected numeric arrays and one {rate_key} value, but {'; '.join(problems)}; "
                         f"layout {_SEQUENCE_LAYOUT}")
    poses, trans = (
        np.asarray(arrays["poses"], dtype=np.float64),
        np.asarray(arrays["trans"], dtype=np.float64),
    )
    if poses.ndim != 2 or trans.shape != (len(poses), 3):
        raise ValueError(
            f"{path}: poses must be (N, 3K) and trans (N, 3); got {poses.shape} and {trans.shape}"
        )
    gender = arrays["gender"].item() if "gender" in arrays else "neutral"
    gender = gender.decode() if isinstance(gender, bytes) else str(gender)
    return {
        "path": path,
        "poses": poses,
        "trans": trans,
        "betas": np.asarray(arrays.get("betas", np.zeros(0)), dtype=np.float64).reshape(-1),
        "gender": gender.strip().lower(),
        "fps": float(arrays[rate_key]),
    }


def _parameters_to_joints(
    sequence: dict[str, Any],
    body_model: BodyModel,
    regressor: np.ndarray,
    target_fps: float | None,
    method: str,
) -> np.ndarray:
    poses = sequence["poses"]
    if poses.shape[1] != 3 * body_model.num_joints:
        raise ValueError(
            f"{sequence['path']}: poses have {poses.shape[1]} values per frame, the body model expects "
            f"{3 * body_model.num_joints} ({body_model.num_joints} joints)"
        )
    if regressor.shape[1] != body_model.num_vertices:
        raise ValueError(
            f"joint regressor has {regressor.shape[1]} vertex columns, the body model has "
            f"{body_model.num_vertices} vertices"
        )
    num_frames = len(poses)
    first, weight = resample_indices(num_frames, sequence["fps"], target_fps)
    used = _frames_used(first, weight, method, num_frames)
    vertex_ids = np.nonzero(np.abs(regressor).sum(axis=0) > 0)[0]
    vertices = body_model.vertices(
        poses[used], sequence["betas"], sequence["trans"][used], vertex_ids=vertex_ids
    )
    joints = np.zeros((num_frames, H36M_17.num_joints, 3))
    joints[used] = np.einsum("jv,nvc->njc", regressor[:, vertex_ids], vertices)
    return _resample(joints, first, weight, method)


def amass_world_joints(
    path: str | os.PathLike,
    body_model: BodyModel,
    joint_regressor: str | os.PathLike | np.ndarray,
    target_fps: float | None = 50,
    resample: str = "linear",
) -> np.ndarray:
    """Human3.6M-17 joints ``(N_out, 17, 3)`` (world, metres, z-up) of one AMASS file at ``target_fps``."""
    _check_method(resample)
    sequence = _read_amass_file(Path(path).expanduser())
    regressor = load_joint_regressor(joint_regressor, body_model.num_vertices)
    return _parameters_to_joints(sequence, body_model, regressor, target_fps, resample)


def look_at_camera(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World -> camera rotation ``(3, 3)`` of a camera at ``position`` looking at ``target`` (z-up world).

    Camera axes: x right (horizontal), y down, z forward (towards ``target``).
    """
    forward = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, _WORLD_UP)
    if np.linalg.norm(right) < 1e-8:
        raise ValueError("look_at_camera: the camera looks straight up or down")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def _sequence_seed(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def world_joints_to_sequences(
    world_joints: np.ndarray,
    subject: str,
    action: str,
    virtual_cameras: int = 4,
    seed: int = 0,
    focal_length: float = 1145.0,
    image_size: tuple[int, int] = (1000, 1000),
    camera_distance: tuple[float, float] = (4.0, 6.0),
    camera_elevation_deg: tuple[float, float] = (-5.0, 15.0),
) -> list[dict[str, Any]]:
    """Film world joints ``(N, 17, 3)`` (metres, z-up, Human3.6M-17) with random virtual cameras.

    The cameras depend only on ``seed`` and ``f"{subject}/{action}"``. Returns one sequence dict
    per camera (fields in the module docstring).
    """
    world = np.asarray(world_joints, dtype=np.float64)
    if world.ndim != 3 or world.shape[1:] != (H36M_17.num_joints, 3):
        raise ValueError(f"{subject}/{action}: joints must have shape (N, 17, 3), got {world.shape}")
    if not np.isfinite(world).all():
        raise ValueError(f"{subject}/{action}: joints contain NaN or infinite values")
    if virtual_cameras < 1:
        raise ValueError(f"virtual_cameras must be >= 1, got {virtual_cameras}")
    width, height = image_size
    intrinsics = np.array(
        [focal_length, focal_length, width / 2, height / 2, 0, 0, 0, 0, 0], dtype=np.float64
    )
    rng = _sequence_seed(seed, f"{subject}/{action}")
    pelvis = world[:, 0]
    target = pelvis.mean(axis=0)
    wander = np.linalg.norm(pelvis[:, :2] - target[:2], axis=-1).max()

    sequences = []
    for index in range(virtual_cameras):
        azimuth = rng.uniform(0, 2 * np.pi)
        elevation = np.deg2rad(rng.uniform(*camera_elevation_deg))
        distance = rng.uniform(*camera_distance) + wander
        direction = np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]
        )
        position = target + distance * direction
        rotation = look_at_camera(position, target)
        camera_xyz = world_to_camera(world, rotation, position)
        root = camera_xyz[:, :1]
        pixels = project_to_2d(camera_xyz, intrinsics)
        sequences.append(
            {
                "subject": subject,
                "action": action,
                "camera": f"virtual_{index}",
                "keypoints_2d": normalize_screen_coordinates(pixels, width, height).astype(np.float32),
                "valid": np.ones(world.shape[:2], dtype=bool),
                "poses_3d": (camera_xyz - root).astype(np.float32),
                "root_trajectory": root[:, 0].astype(np.float32),
                "camera_intrinsics": normalize_intrinsics(intrinsics, width, height).astype(np.float32),
                "image_width": int(width),
                "image_height": int(height),
            }
        )
    return sequences


def _amass_files(paths_or_dir: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """AMASS sequence files: the given files, or every ``*.npz`` under a folder except ``shape.npz``."""
    if isinstance(paths_or_dir, (str, os.PathLike)):
        root = Path(paths_or_dir).expanduser()
        if root.is_dir():
            files = sorted(p for p in root.rglob("*.npz") if p.name != "shape.npz")
            if not files:
                raise FileNotFoundError(f"no AMASS .npz files under {root}")
            return files
        paths_or_dir = [root]
    files = [Path(p).expanduser() for p in paths_or_dir]
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"AMASS sequence not found: {path}")
    return files


class _BodyModels:
    """Body models by gender: one file for all, or ``<folder>/<gender>/model.npz`` (AMASS's layout)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise FileNotFoundError(f"body model not found: {self.path}")
        self._cache: dict[Path, BodyModel] = {}

    def for_gender(self, gender: str) -> BodyModel:
        if self.path.is_file():
            file = self.path
        else:
            candidates = [self.path / g / "model.npz" for g in (gender, "neutral")]
            file = next((c for c in candidates if c.is_file()), None)
            if file is None:
                raise FileNotFoundError(
                    f"no body model for gender {gender!r} under {self.path}; "
                    f"tried {[str(c) for c in candidates]}"
                )
        if file not in self._cache:
            self._cache[file] = BodyModel.from_file(file)
        return self._cache[file]


def _named_joints(
    joints: np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray],
) -> list[tuple[str, Any]]:
    if isinstance(joints, Mapping):
        return [(str(name), value) for name, value in joints.items()]
    if isinstance(joints, np.ndarray) and joints.ndim == 3:
        return [("0", joints)]
    return [(str(i), value) for i, value in enumerate(joints)]


def load_amass_arrays(
    paths_or_dir: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    body_model_path: str | os.PathLike | None = None,
    joint_regressor: str | os.PathLike | np.ndarray | None = None,
    target_fps: float | None = 50,
    joints: np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray] | None = None,
    joints_fps: float | None = None,
    virtual_cameras: int = 4,
    seed: int = 0,
    resample: str = "linear",
    focal_length: float = 1145.0,
    image_size: tuple[int, int] = (1000, 1000),
    camera_distance: tuple[float, float] = (4.0, 6.0),
    camera_elevation_deg: tuple[float, float] = (-5.0, 15.0),
) -> list[dict[str, Any]]:
    """Load AMASS sequences as 2D-3D pose sequences seen by virtual cameras (see the module docstring).

    Args:
        paths_or_dir: AMASS ``.npz`` files, or a folder searched recursively (``shape.npz`` skipped).
        body_model_path: A SMPL-H ``model.npz`` used for every sequence, or a folder with
            ``<gender>/model.npz`` (``neutral`` when the gender's own is absent). Needed with
            ``paths_or_dir``.
        joint_regressor: ``(17, V)`` vertex -> Human3.6M-17 regressor (array or ``.npy`` path),
            e.g. ``J_regressor_h36m.npy``. Needed with ``paths_or_dir``.
        target_fps: Output frame rate (Hz); ``None`` keeps the source rate.
        joints: Pre-extracted world joints ``(N, 17, 3)`` (metres, z-up): one array, a list, or a
            ``{name: array}`` mapping. Loaded in addition to ``paths_or_dir``.
        joints_fps: Frame rate of ``joints``; default: already at ``target_fps``.
        virtual_cameras: Cameras per sequence.
        seed: Seed of the virtual cameras.
        resample: ``"linear"`` (interpolate joint positions) or ``"nearest"`` (subsample frames).
        focal_length: Virtual camera focal length, pixels.
        image_size: Virtual image ``(width, height)``, pixels.
        camera_distance: Range of the camera distance to the mean pelvis (metres), before adding
            the pelvis' largest horizontal excursion.
        camera_elevation_deg: Range of the camera elevation above the mean pelvis (degrees).

    Returns:
        One dict per (sequence, camera), files first (in sorted order), then ``joints``.
    """
    _check_method(resample)
    if paths_or_dir is None and joints is None:
        raise ValueError("load_amass_arrays needs AMASS files (paths_or_dir) or pre-extracted joints")
    camera_kwargs = {
        "virtual_cameras": virtual_cameras,
        "seed": seed,
        "focal_length": focal_length,
        "image_size": image_size,
        "camera_distance": camera_distance,
        "camera_elevation_deg": camera_elevation_deg,
    }
    sequences: list[dict[str, Any]] = []
    if paths_or_dir is not None:
        if body_model_path is None or joint_regressor is None:
            raise ValueError(
                "AMASS parameters need a body model and a joint regressor: pass body_model_path (SMPL-H "
                "model.npz) and joint_regressor (J_regressor_h36m.npy), or pre-extracted joints="
            )
        models = _BodyModels(body_model_path)
        regressor = load_joint_regressor(joint_regressor)
        for path in _amass_files(paths_or_dir):
            sequence = _read_amass_file(path)
            model = models.for_gender(sequence["gender"])
            world = _parameters_to_joints(sequence, model, regressor, target_fps, resample)
            sequences += world_joints_to_sequences(world, path.parent.name, path.stem, **camera_kwargs)
    if joints is not None:
        for name, value in _named_joints(joints):
            world = np.asarray(value, dtype=np.float64)
            if world.ndim != 3 or world.shape[1:] != (H36M_17.num_joints, 3):
                raise ValueError(f"joints[{name!r}] must have shape (N, 17, 3), got {world.shape}")
            if joints_fps is not None:
                first, weight = resample_indices(len(world), joints_fps, target_fps)
                world = _resample(world, first, weight, resample)
            sequences += world_joints_to_sequences(world, "joints", name, **camera_kwargs)
    return sequences


def load_amass(
    paths_or_dir: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
    body_model_path: str | os.PathLike | None = None,
    joint_regressor: str | os.PathLike | np.ndarray | None = None,
    target_fps: float | None = 50,
    joints: np.ndarray | Sequence[np.ndarray] | Mapping[str, np.ndarray] | None = None,
    **kwargs: Any,
):
    """AMASS as a ``datasets.Dataset``, one row per (sequence, virtual camera).

    Same arguments and fields as :func:`load_amass_arrays` (the features of
    :func:`mpm_hf.data.h36m.h36m_features`); ``dataset.with_format("numpy")`` gives the arrays back.
    """
    from datasets import Dataset

    sequences = load_amass_arrays(
        paths_or_dir, body_model_path, joint_regressor, target_fps, joints, **kwargs
    )
    features = h36m_features()
    columns = {name: [seq[name] for seq in sequences] for name in features}
    return Dataset.from_dict(columns, features=features)
