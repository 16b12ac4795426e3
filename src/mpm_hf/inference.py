"""Lifting whole sequences: windows of any length, batched, with flip test-time augmentation.

Two modes, both batched (no Python loop over frames):

- ``"per_frame"`` (the paper's protocol): every output frame is the centre of the window centred on it (edge
  padded), predicted by the strided head. ``N`` windows for ``N`` frames.
- ``"sequence"`` (fast): non-overlapping windows cover the sequence and the sequence head predicts all their frames
  at once. About ``T`` times fewer windows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .keypoints import flip_poses, model_skeleton

LIFT_MODES = ("per_frame", "sequence")


def window_indices(num_frames: int, window: int, downsample: int = 1, centres: np.ndarray | None = None) -> np.ndarray:
    """Source-frame index of every window position: ``(num_centres, window)``, edge-replicated at the ends.

    A window centred on frame ``c`` reads frames ``c + (k - window // 2) * downsample``, clipped to the sequence.
    """
    if centres is None:
        centres = np.arange(num_frames)
    offsets = (np.arange(window) - window // 2) * downsample
    return np.clip(centres[:, None] + offsets[None, :], 0, num_frames - 1)


def sequence_window_starts(num_frames: int, window: int) -> np.ndarray:
    """Starts of non-overlapping windows covering ``num_frames`` (the last one is shifted back to fit when it can)."""
    starts = np.arange(0, max(num_frames, 1), window)
    if num_frames >= window and starts[-1] + window > num_frames:
        starts[-1] = num_frames - window
    return starts


def _predict(
    model: torch.nn.Module,
    windows: torch.Tensor,
    masks: torch.Tensor,
    head: str,
    flip_test: bool,
) -> torch.Tensor:
    """One batch of windows ``(B, T, J, 2)`` -> ``(B, T_out, J, 3)``; flip TTA averages with the mirrored input."""
    skeleton = model_skeleton(windows.shape[-2])
    if flip_test:
        windows = torch.cat([windows, flip_poses(windows, skeleton)], dim=0)
        flipped_masks = masks[..., list(skeleton.flip_permutation)]
        masks = torch.cat([masks, flipped_masks], dim=0)
    output = model(poses=windows, spatial_mask=masks)
    poses = output.poses_3d if head == "centre" else output.sequence_poses_3d
    if flip_test:
        half = poses.shape[0] // 2
        poses = (poses[:half] + flip_poses(poses[half:], skeleton)) / 2
    return poses


@torch.inference_mode()
def lift_sequence(
    model: torch.nn.Module,
    keypoints_2d: np.ndarray | torch.Tensor,
    missing: np.ndarray | torch.Tensor | None = None,
    mode: str = "per_frame",
    batch_size: int = 256,
    flip_test: bool = False,
    downsample: int | None = None,
    progress: Callable[[int], None] | None = None,
    frames: np.ndarray | None = None,
) -> np.ndarray:
    """Lift one sequence ``(N, J, 2)`` (normalised screen coordinates) to ``(N, J, 3)`` metres, pelvis at 0.

    Args:
        model: an ``MPMForPoseLifting`` in eval mode.
        keypoints_2d: the 2D sequence; NaN marks a missing joint.
        missing: ``(N, J)`` bool, joints to feed as masked (e.g. low confidence); NaN joints are added to it.
        mode: ``"per_frame"`` (centred window per frame, the paper's protocol) or ``"sequence"`` (fast).
        batch_size: windows per forward pass.
        flip_test: average with the horizontally mirrored input (left/right swapped).
        downsample: frame step inside a window (``tds``); default ``model.config.downsample``. Not used in
            ``"sequence"`` mode, whose windows are contiguous.
        progress: called with the number of frames finished after every batch.
        frames: in ``"per_frame"`` mode, lift only these frame indices (windows still centred on each) and return
            ``(len(frames), J, 3)``; default every frame.
    """
    if mode not in LIFT_MODES:
        raise ValueError(f"mode: expected one of {LIFT_MODES}, got {mode!r}")
    config = model.config
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    keypoints = torch.as_tensor(np.asarray(keypoints_2d, dtype=np.float32) if not torch.is_tensor(keypoints_2d)
                                else keypoints_2d, dtype=torch.float32)
    if keypoints.dim() != 3 or keypoints.shape[-1] != 2 or keypoints.shape[1] != config.num_joints:
        raise ValueError(
            f"keypoints_2d: expected shape (frames, {config.num_joints}, 2), got {tuple(keypoints.shape)}"
        )
    num_frames = keypoints.shape[0]
    if num_frames == 0:
        raise ValueError("keypoints_2d: expected at least one frame, got 0")
    invalid = ~torch.isfinite(keypoints).all(dim=-1)
    if missing is not None:
        missing = torch.as_tensor(np.asarray(missing), dtype=torch.bool)
        if missing.shape != invalid.shape:
            raise ValueError(
                f"missing: expected shape {tuple(invalid.shape)} (frames, joints), got {tuple(missing.shape)}"
            )
        invalid = invalid | missing
    keypoints = torch.where(invalid[..., None], torch.zeros((), dtype=keypoints.dtype), keypoints)

    window = config.num_frames
    if downsample is None:
        downsample = getattr(config, "downsample", 1)
    if frames is not None:
        if mode != "per_frame":
            raise ValueError(f"frames: only supported with mode='per_frame', got mode={mode!r}")
        frames = np.asarray(frames)
        if frames.size == 0:
            return np.zeros((0, config.num_joints, 3), dtype=np.float32)
        if frames.ndim != 1 or frames.dtype.kind not in "iu" or frames.min() < 0 or frames.max() >= num_frames:
            raise ValueError(
                f"frames: expected a 1-D integer array of frame indices in [0, {num_frames}), got shape "
                f"{frames.shape}, dtype {frames.dtype}, values in [{frames.min()}, {frames.max()}]"
            )
    if mode == "per_frame":
        index = torch.from_numpy(window_indices(num_frames, window, downsample, centres=frames))
        head, keep = "centre", None
    else:
        starts = sequence_window_starts(num_frames, window)
        index = torch.from_numpy(np.minimum(starts[:, None] + np.arange(window)[None, :], num_frames - 1))
        head, keep = "sequence", starts

    outputs = []
    for begin in range(0, index.shape[0], batch_size):
        rows = index[begin : begin + batch_size]
        windows = keypoints[rows].to(device=device, dtype=dtype)
        masks = invalid[rows].to(device)
        outputs.append(_predict(model, windows, masks, head, flip_test).float().cpu())
        if progress is not None:
            progress(min(rows.shape[0] * (1 if mode == "per_frame" else window), num_frames))
    predictions = torch.cat(outputs, dim=0)
    if mode == "per_frame":
        return predictions[:, 0].numpy()
    result = torch.empty(num_frames, config.num_joints, 3)
    for window_index, start in enumerate(keep):
        stop = min(start + window, num_frames)
        result[start:stop] = predictions[window_index, : stop - start]
    return result.numpy()
