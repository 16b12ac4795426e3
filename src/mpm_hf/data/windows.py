"""Fixed-length training windows over pose sequences, fetched a whole batch at a time.

:class:`PoseWindows` concatenates the sequences *once* into contiguous arrays and represents a
window by a single integer, the global index of its centre frame: millions of windows cost a few
bytes each, and a batch is one fancy-index gather over a ``(B, T)`` frame-index matrix. Frames
beyond a sequence's ends repeat its first/last frame (edge padding), so every frame of every
sequence is the centre of a window, as in VideoPose3D / MPM.

``torch.utils.data.DataLoader`` calls ``dataset.__getitems__(indices)`` for a whole batch when the
dataset defines it, and hands its result to ``collate_fn``; :func:`collate_windows` passes that
batch through (and stacks per-item dicts otherwise)::

    loader = DataLoader(windows, batch_size=1024, shuffle=True, collate_fn=collate_windows)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..keypoints import Skeleton, flip_poses, get_skeleton
from ..windowing import centred_windows

__all__ = ["PoseWindows", "MixedPoseWindows", "Keypoint2DNoise", "collate_windows"]

Batch = dict[str, torch.Tensor]
_POSE_KEYS = ("keypoints_2d", "poses_3d")


def _concatenate(arrays: Sequence[np.ndarray], name: str, dtype: type, coords: int | None) -> np.ndarray:
    for i, array in enumerate(arrays):
        expected = 3 if coords is not None else 2
        if array.ndim != expected or (coords is not None and array.shape[-1] != coords):
            shape = f"(N, J, {coords})" if coords is not None else "(N, J)"
            raise ValueError(f"{name}[{i}] must have shape {shape}, got {array.shape}")
    return np.concatenate([np.asarray(a, dtype=dtype) for a in arrays], axis=0)


class PoseWindows(torch.utils.data.Dataset):
    """Windows of ``num_frames`` frames centred on every ``stride``-th frame of pose sequences.

    Args:
        keypoints_2d: Per-sequence ``(N_i, J, 2)`` 2D keypoints (normalised screen coordinates),
            or ``None`` for 3D-only data.
        poses_3d: Per-sequence ``(N_i, J, 3)`` 3D poses (metres), or ``None`` for 2D-only data.
        valid: Per-sequence ``(N_i, J)`` joint validity; default: the 2D (else 3D) joint is finite.
        num_frames: Window length ``T`` (odd).
        stride: Step between the centre frames of consecutive windows.
        downsample: Frame step *inside* a window (``tds``): a window spans
            ``(T - 1) * downsample + 1`` source frames centred on its frame.
        flip_augment: Double the length; index ``i + len(self) // 2`` is window ``i`` mirrored
            (x negated, left/right joints swapped, see :func:`mpm_hf.keypoints.flip_poses`).
        skeleton: Joint order, for flipping.
        transform: Optional callable applied to each fetched batch dict (e.g. :class:`Keypoint2DNoise`).
        root_trajectory: Per-sequence ``(N_i, 3)`` camera-space pelvis positions (metres), or ``None``; with it,
            training can re-project the 3D through virtual cameras (``mpm_hf.training.tasks.VirtualCameras``).
        projected_2d: Whether the 2D is the exact projection of the 3D (ground truth), not a detector's output:
            only such windows may be replaced by virtual-camera projections.

    Items are dicts of tensors: ``keypoints_2d (T, J, 2)`` and/or ``poses_3d (T, J, 3)`` float32,
    ``valid (T, J)`` bool, ``root_trajectory (T, 3)`` float32 when given, ``flipped`` and ``projected_2d`` bool,
    ``sequence_index`` and ``centre_frame`` (index of the centre frame within its sequence) int64;
    :meth:`__getitems__` returns the same with a leading batch dimension.
    """

    def __init__(
        self,
        keypoints_2d: Sequence[np.ndarray] | None = None,
        poses_3d: Sequence[np.ndarray] | None = None,
        valid: Sequence[np.ndarray] | None = None,
        num_frames: int = 27,
        stride: int = 1,
        downsample: int = 1,
        flip_augment: bool = False,
        skeleton: str | Skeleton = "h36m",
        transform: Callable[[Batch], Batch] | None = None,
        root_trajectory: Sequence[np.ndarray] | None = None,
        projected_2d: bool = False,
    ) -> None:
        if keypoints_2d is None and poses_3d is None:
            raise ValueError("PoseWindows needs keypoints_2d, poses_3d or both")
        if num_frames < 1 or num_frames % 2 == 0:
            raise ValueError(f"num_frames must be a positive odd number, got {num_frames}")
        if stride < 1 or downsample < 1:
            raise ValueError(f"stride and downsample must be >= 1, got {stride} and {downsample}")
        self.num_frames, self.stride, self.downsample = num_frames, stride, downsample
        self.flip_augment = flip_augment
        self.skeleton = get_skeleton(skeleton)
        self.transform = transform
        self.projected_2d = bool(projected_2d)

        lengths = None
        self.arrays: dict[str, np.ndarray] = {}
        for name, sequences, coords in (("keypoints_2d", keypoints_2d, 2), ("poses_3d", poses_3d, 3)):
            if sequences is None:
                continue
            sequence_lengths = [len(s) for s in sequences]
            if lengths is not None and sequence_lengths != lengths:
                raise ValueError(
                    f"keypoints_2d and poses_3d frame counts differ: {lengths} vs {sequence_lengths}"
                )
            lengths = sequence_lengths
            self.arrays[name] = _concatenate(sequences, name, np.float32, coords)
        if not lengths:
            raise ValueError("PoseWindows needs at least one sequence")
        if valid is not None:
            if [len(v) for v in valid] != lengths:
                raise ValueError(f"valid frame counts {[len(v) for v in valid]} differ from poses {lengths}")
            self.arrays["valid"] = _concatenate(valid, "valid", bool, None)
        else:
            reference = self.arrays.get("keypoints_2d", self.arrays.get("poses_3d"))
            self.arrays["valid"] = np.isfinite(reference).all(axis=-1)
        if root_trajectory is not None:
            if [len(r) for r in root_trajectory] != lengths:
                raise ValueError(
                    f"root_trajectory frame counts {[len(r) for r in root_trajectory]} differ from poses {lengths}"
                )
            self.arrays["root_trajectory"] = _concatenate(
                [np.asarray(r)[:, None] for r in root_trajectory], "root_trajectory", np.float32, 3
            )[:, 0]
        joint_counts = {a.shape[1] for key, a in self.arrays.items() if key != "root_trajectory"}
        if joint_counts != {self.skeleton.num_joints}:
            raise ValueError(
                f"arrays have {sorted(joint_counts)} joints, skeleton {self.skeleton.name!r} has "
                f"{self.skeleton.num_joints}"
            )

        self.sequence_lengths = np.asarray(lengths, dtype=np.int64)
        self.sequence_starts = np.concatenate([[0], np.cumsum(self.sequence_lengths)[:-1]]).astype(np.int64)
        # One int64 per window: the global index of its centre frame.
        self.window_centres = np.concatenate(
            [start + np.arange(0, n, stride) for start, n in zip(self.sequence_starts, lengths, strict=True)]
        ).astype(np.int64)

    @classmethod
    def from_sequences(
        cls, sequences: Sequence[Mapping[str, Any]], use_2d: bool = True, use_3d: bool = True, **kwargs: Any
    ) -> PoseWindows:
        """Windows over loader output (e.g. :func:`mpm_hf.data.h36m.load_h36m_arrays`)."""
        return cls(
            keypoints_2d=[s["keypoints_2d"] for s in sequences] if use_2d else None,
            poses_3d=[s["poses_3d"] for s in sequences] if use_3d else None,
            valid=[s["valid"] for s in sequences] if use_2d and "valid" in sequences[0] else None,
            **kwargs,
        )

    @property
    def num_windows(self) -> int:
        """Windows before flip augmentation."""
        return len(self.window_centres)

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def keys(self) -> tuple[str, ...]:
        """Pose keys of the fetched dicts."""
        return tuple(k for k in _POSE_KEYS if k in self.arrays)

    def __len__(self) -> int:
        return self.num_windows * (2 if self.flip_augment else 1)

    def frame_indices(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(frames (B, T) global frame indices, sequence (B,), flipped (B,))`` of windows ``indices``."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"window index out of range for {n} windows: {idx.min()}..{idx.max()}")
        idx = np.where(idx < 0, idx + n, idx)
        flipped = idx >= self.num_windows
        centres = self.window_centres[idx - flipped * self.num_windows]
        sequence = np.searchsorted(self.sequence_starts, centres, side="right") - 1
        frames = centred_windows(self.sequence_lengths[sequence], self.num_frames, self.downsample, centres=centres,
                                 first=self.sequence_starts[sequence])
        return frames, sequence, flipped

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        frames, sequence, flipped = self.frame_indices(indices)
        batch: Batch = {}
        for key, array in self.arrays.items():
            values = array[frames]
            if key in _POSE_KEYS and flipped.any():
                values[flipped] = flip_poses(values[flipped], self.skeleton)
            elif key == "valid" and flipped.any():
                values[flipped] = values[flipped][..., list(self.skeleton.flip_permutation)]
            elif key == "root_trajectory" and flipped.any():
                values[flipped, :, 0] *= -1  # the mirror of flip_poses: x negated
            batch[key] = torch.from_numpy(values)
        centre = frames[:, self.num_frames // 2]  # offset 0 is never clipped
        batch["flipped"] = torch.from_numpy(flipped)
        batch["projected_2d"] = torch.full((len(flipped),), self.projected_2d, dtype=torch.bool)
        batch["sequence_index"] = torch.from_numpy(sequence)
        batch["centre_frame"] = torch.from_numpy(centre - self.sequence_starts[sequence])
        return self.transform(batch) if self.transform is not None else batch

    def __getitem__(self, index: int) -> Batch:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(windows={len(self)}, sequences={len(self.sequence_lengths)}, "
            f"frames={int(self.sequence_lengths.sum())}, num_frames={self.num_frames}, stride={self.stride}, "
            f"downsample={self.downsample}, flip_augment={self.flip_augment}, keys={self.keys})"
        )


class MixedPoseWindows(torch.utils.data.Dataset):
    """Several :class:`PoseWindows` (e.g. several corpora) behind one index space.

    Index ``i`` maps to ``datasets[d][i - offset[d]]``; a batch is fetched with one
    ``__getitems__`` per dataset it touches and reassembled in the requested order. All datasets
    must share ``num_frames``, the number of joints and the pose keys. The batch gains
    ``dataset_index (B,)`` int64.
    """

    def __init__(self, datasets: Sequence[PoseWindows]) -> None:
        if not datasets:
            raise ValueError("MixedPoseWindows needs at least one dataset")
        first = datasets[0]
        for i, ds in enumerate(datasets[1:], start=1):
            signature = (ds.num_frames, ds.num_joints, ds.keys)
            expected = (first.num_frames, first.num_joints, first.keys)
            if signature != expected:
                raise ValueError(
                    f"dataset {i} has (num_frames, num_joints, keys) = {signature}, dataset 0 has {expected}"
                )
        arrays = [sorted(ds.arrays) for ds in datasets]
        if any(a != arrays[0] for a in arrays):
            raise ValueError(f"MixedPoseWindows: the datasets hold different arrays: {arrays}")
        self.datasets = list(datasets)
        self.cumulative_sizes = np.cumsum([len(ds) for ds in datasets]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.cumulative_sizes[-1])

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"window index out of range for {n} windows: {idx.min()}..{idx.max()}")
        idx = np.where(idx < 0, idx + n, idx)
        which = np.searchsorted(self.cumulative_sizes, idx, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        batch: Batch = {}
        for d in np.unique(which):
            rows = np.nonzero(which == d)[0]
            part = self.datasets[d].__getitems__(idx[rows] - starts[d])
            part["dataset_index"] = torch.full((len(rows),), int(d), dtype=torch.int64)
            for key, value in part.items():
                if key not in batch:
                    batch[key] = value.new_empty((len(idx), *value.shape[1:]))
                batch[key][torch.from_numpy(rows)] = value
        return batch

    def __getitem__(self, index: int) -> Batch:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}


def collate_windows(batch: Batch | Sequence[Batch]) -> Batch:
    """``collate_fn`` for window datasets: a batch from ``__getitems__`` passes through unchanged;
    a list of per-item dicts (datasets without ``__getitems__``) is stacked key by key."""
    if isinstance(batch, Mapping):
        return dict(batch)
    return {key: torch.stack([item[key] for item in batch]) for key in batch[0]}


class Keypoint2DNoise:
    """Detector-like corruption of 2D keypoints in a batch dict (use as ``PoseWindows(transform=...)``).

    Adds Gaussian noise of standard deviation ``std`` (normalised screen units: 0.01 is 0.5 % of
    the image width) to every 2D joint and drops joints with probability ``dropout_prob``
    (coordinates NaN, ``valid`` False). Returns a new dict; the input tensors are not modified.
    """

    def __init__(self, std: float = 0.0, dropout_prob: float = 0.0, generator: torch.Generator | None = None):
        if std < 0 or not 0 <= dropout_prob <= 1:
            raise ValueError(f"need std >= 0 and 0 <= dropout_prob <= 1, got {std} and {dropout_prob}")
        self.std, self.dropout_prob, self.generator = std, dropout_prob, generator

    def __call__(self, batch: Batch) -> Batch:
        keypoints = batch["keypoints_2d"]
        out = dict(batch)
        if self.std > 0:
            noise = torch.randn(keypoints.shape, generator=self.generator, dtype=keypoints.dtype)
            keypoints = keypoints + self.std * noise.to(keypoints.device)
        valid = batch.get("valid", torch.isfinite(keypoints).all(dim=-1))
        if self.dropout_prob > 0:
            dropped = torch.rand(keypoints.shape[:-1], generator=self.generator) < self.dropout_prob
            dropped = dropped.to(keypoints.device)
            keypoints = keypoints.masked_fill(dropped[..., None], float("nan"))
            valid = valid & ~dropped
        out["keypoints_2d"], out["valid"] = keypoints, valid
        return out
