"""Completing whole sequences: partial poses of any length -> every joint in 3D, batched over windows.

Non-overlapping windows of ``config.num_frames`` frames cover the sequence (the last one is shifted back to
end on the last frame; a sequence shorter than one window is edge-padded with its last frame), and the
completion decoder predicts every frame of every window. Hidden joints go through the model's learned
spatial mask token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from .inference import sequence_window_starts
from .masking import resolve_joints


@torch.inference_mode()
def complete_sequence(
    model: torch.nn.Module,
    poses: np.ndarray | torch.Tensor,
    missing: np.ndarray | torch.Tensor | None = None,
    occluded_joints: str | int | Iterable[str | int] | None = None,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Complete one sequence ``(N, J, 3)`` (metres, root-relative) or ``(N, J, 2)`` (normalised screen).

    Args:
        model: an ``MPMForPoseCompletion`` in eval mode.
        poses: the partial sequence; NaN marks a hidden joint.
        missing: ``(N, J)`` bool, more joints to hide; NaN joints are added to it.
        occluded_joints: body parts (``"left_arm"``, ... see ``mpm_hf.masking.BODY_PARTS``) and/or joint
            indices hidden in every frame.
        batch_size: windows per forward pass.
        progress: called with the number of frames finished after every batch.

    Returns:
        ``(N, J, 3)`` float32, metres, pelvis at the origin.
    """
    config = model.config
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    sequence = torch.as_tensor(
        poses.detach().cpu() if torch.is_tensor(poses) else np.asarray(poses, np.float32), dtype=torch.float32
    )
    if sequence.dim() != 3 or sequence.shape[1] != config.num_joints or sequence.shape[2] not in (2, 3):
        raise ValueError(
            f"poses: expected shape (frames, {config.num_joints}, 3 or 2), got {tuple(sequence.shape)}"
        )
    num_frames = sequence.shape[0]
    if num_frames == 0:
        raise ValueError("poses: expected at least one frame, got 0")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
    hidden = ~torch.isfinite(sequence).all(dim=-1)
    if missing is not None:
        hidden = hidden | torch.as_tensor(np.asarray(missing), dtype=torch.bool).reshape(hidden.shape)
    if occluded_joints is not None:
        hidden[:, resolve_joints(occluded_joints, config.num_joints)] = True
    # Hidden entries are replaced by the mask token inside the model; zeros keep NaN out of the arithmetic.
    sequence = torch.where(hidden[..., None], torch.zeros((), dtype=sequence.dtype), sequence)

    window = config.num_frames
    starts = sequence_window_starts(num_frames, window)
    index = torch.from_numpy(np.minimum(starts[:, None] + np.arange(window)[None, :], num_frames - 1))
    outputs = []
    for begin in range(0, index.shape[0], batch_size):
        rows = index[begin : begin + batch_size]
        output = model(
            poses=sequence[rows].to(device=device, dtype=dtype), spatial_mask=hidden[rows].to(device)
        )
        outputs.append(output.poses_3d.float().cpu())
        if progress is not None:
            progress(min(rows.shape[0] * window, num_frames))
    predictions = torch.cat(outputs, dim=0)
    result = torch.empty(num_frames, config.num_joints, 3)
    for window_index, start in enumerate(starts):
        stop = min(start + window, num_frames)
        result[start:stop] = predictions[window_index, : stop - start]
    return result.numpy()
