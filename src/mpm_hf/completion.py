"""Completing whole sequences: partial poses of any length -> every joint in 3D, batched over windows.

Windows of ``config.num_frames`` frames at the model's frame step (``config.downsample``) tile the sequence
(:func:`mpm_hf.windowing.tile_sequence`: each frame is predicted once, with ``margin`` context positions shared
between neighbouring windows, edge padded at the ends), and the completion decoder predicts every frame of every
window. Hidden joints go through the model's learned spatial mask token. Input at another frame rate than the
model's is completed at the frame spacing it was trained on (``fps``, :mod:`mpm_hf.frame_rate`), as for lifting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from .frame_rate import plan_frame_rate, run_resampled
from .inference import default_margin, input_dtype
from .masking import resolve_joints
from .windowing import predict_flip_tested, run_windows, stitch, tile_sequence


def predict_completion(model: torch.nn.Module, windows: torch.Tensor, masks: torch.Tensor,
                       flip_test: bool = False) -> torch.Tensor:
    """One batch of partial windows ``(B, T, J, 2|3)`` with their hidden joints ``masks (B, T, J)`` -> every joint
    in 3D, ``(B, T, J, 3)``. ``flip_test`` averages with the prediction for the horizontally mirrored input (x
    negated, left and right swapped, in the masks too), mirrored back."""
    return predict_flip_tested(lambda poses, mask: model(poses=poses, spatial_mask=mask).poses_3d, windows, masks,
                               flip_test)


@torch.inference_mode()
def complete_sequence(
    model: torch.nn.Module,
    poses: np.ndarray | torch.Tensor,
    missing: np.ndarray | torch.Tensor | None = None,
    occluded_joints: str | int | Iterable[str | int] | None = None,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
    margin: int | None = None,
    keep_visible: bool = False,
    flip_test: bool = False,
    fps: float | None = None,
) -> np.ndarray:
    """Complete one sequence ``(N, J, 3)`` (metres, root-relative) or ``(N, J, 2)`` (normalised screen coordinates;
    any units for a model with ``config.input_normalization="window"``).

    Args:
        model: an ``MPMForPoseCompletion`` in eval mode.
        poses: the partial sequence; NaN marks a hidden joint.
        missing: ``(N, J)`` bool, more joints to hide; NaN joints are added to it.
        occluded_joints: body parts (``"left_arm"``, ... see ``mpm_hf.masking.BODY_PARTS``) and/or joint
            indices hidden in every frame.
        batch_size: windows per forward pass.
        progress: called with the number of frames finished after every batch.
        margin: context positions on each side of a window's predicted part (default
            :func:`mpm_hf.inference.default_margin`).
        keep_visible: with 3D input, return the visible joints as given (root-relative) and the model's output only
            at the hidden ones (what the paper scores, and the pose-completion pipeline's default); ``False``: every
            joint is the model's output.
        flip_test: average with the horizontally mirrored input (left/right swapped), as for lifting.
        fps: the input's frame rate. With ``model.config.fps`` known, windows keep the frame spacing the model was
            trained on: a whole-number step when one exists, else the sequence is resampled to the model's rate,
            completed and interpolated back (:func:`mpm_hf.frame_rate.run_resampled`; a joint interpolated from a
            hidden one is hidden). ``None``: the input is taken to be at the model's rate.

    Returns:
        ``(N, J, 3)`` float32, metres, pelvis at the origin.
    """
    config = model.config
    sequence = torch.as_tensor(
        poses.detach().cpu() if torch.is_tensor(poses) else np.asarray(poses, np.float32), dtype=torch.float32
    )
    if sequence.dim() != 3 or sequence.shape[1] != config.num_joints or sequence.shape[2] not in (2, 3):
        raise ValueError(
            f"poses: expected shape (frames, {config.num_joints}, 3 or 2), got {tuple(sequence.shape)}"
        )
    if sequence.shape[0] == 0:
        raise ValueError("poses: expected at least one frame, got 0")
    hidden = ~torch.isfinite(sequence).all(dim=-1)
    if missing is not None:
        missing = torch.as_tensor(np.asarray(missing), dtype=torch.bool)
        if missing.shape != hidden.shape:
            raise ValueError(
                f"missing: expected shape {tuple(hidden.shape)} (frames, joints), got {tuple(missing.shape)}"
            )
        hidden = hidden | missing
    if occluded_joints is not None:
        hidden[:, resolve_joints(occluded_joints, config.num_joints)] = True
    # Hidden entries are replaced by the mask token inside the model; zeros keep NaN out of the arithmetic.
    sequence = torch.where(hidden[..., None], torch.zeros((), dtype=sequence.dtype), sequence)

    plan = plan_frame_rate(fps, getattr(config, "fps", None), getattr(config, "downsample", 1))
    if plan.resample_fps is None:
        completed = _complete_windows(model, sequence, hidden, plan.step, batch_size, progress, margin, flip_test)
    else:

        def run(resampled: np.ndarray, resampled_hidden: np.ndarray, _needed: np.ndarray,
                advance: Callable[[int], None]) -> np.ndarray:
            values = torch.from_numpy(np.nan_to_num(resampled, nan=0.0))
            return _complete_windows(model, values, torch.from_numpy(resampled_hidden), plan.step, batch_size,
                                     advance, margin, flip_test).numpy()

        completed = torch.from_numpy(run_resampled(run, sequence.numpy(), hidden.numpy(), fps, plan.resample_fps,
                                                   progress=progress))
    if keep_visible and sequence.shape[-1] == 3:
        # the given joints, root-relative; a frame whose pelvis is hidden has no reference: the model's output
        keep = ~hidden & ~hidden[:, :1]
        completed = torch.where(keep[..., None], sequence - sequence[:, :1], completed)
    return completed.numpy()


def _complete_windows(
    model: torch.nn.Module,
    sequence: torch.Tensor,
    hidden: torch.Tensor,
    step: int,
    batch_size: int,
    progress: Callable[[int], None] | None,
    margin: int | None,
    flip_test: bool,
) -> torch.Tensor:
    """``sequence (N, J, 2|3)`` (zeros at ``hidden (N, J)``) -> ``(N, J, 3)``: windows at frame ``step`` tiling
    it, each frame predicted once."""
    window = model.config.num_frames
    margin = default_margin(window) if margin is None else margin
    tiling = tile_sequence(len(sequence), window, step, margin)

    def predict(windows: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return predict_completion(model, windows, masks, flip_test)

    num_frames = len(sequence)
    report = None if progress is None else (lambda done: progress(min(done * (window - 2 * margin), num_frames)))
    device = next(model.parameters()).device
    predictions = run_windows(predict, sequence, hidden, tiling.index, batch_size, device, input_dtype(model), report)
    return stitch(predictions, tiling)
