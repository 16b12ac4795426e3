"""Lifting whole sequences: windows of any length, batched, with flip test-time augmentation.

Two modes, both batched (no Python loop over frames), both reading windows at the model's frame step
(``config.downsample``, the ``tds`` it was trained with; windows are cut by :mod:`mpm_hf.windowing`):

- ``"per_frame"`` (the paper's protocol): every output frame is the centre of the window centred on it (edge
  padded), predicted by the strided head. ``N`` windows for ``N`` frames.
- ``"sequence"`` (fast): the sequence head predicts every owned position of windows that tile each residue class
  of frames (``r, r + tds, ...``) with ``margin`` context positions shared between neighbours
  (:func:`mpm_hf.windowing.tile_sequence`); the strided head is skipped. About ``N / (T - 2 * margin)`` windows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .frame_rate import plan_frame_rate, run_resampled
from .windowing import centred_windows, predict_flip_tested, run_windows, stitch, tile_sequence

LIFT_MODES = ("per_frame", "sequence")
LIFT_MODE_CHOICES = (*LIFT_MODES, "auto")


def input_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype windows are fed in: the model's, except float32 for window-normalised models, which normalise in
    float32 first (pixels would round in float16 / bfloat16) and cast after."""
    if getattr(model.config, "input_normalization", "screen") == "window":
        return torch.float32
    return next(model.parameters()).dtype


AUTO_SEQUENCE_MIN_FRAMES = 1000
"""``mode="auto"`` lifts inputs of at least this many frames (20 s at 50 fps) in the fast mode, shorter ones with the
per-frame protocol (below it the per-frame protocol takes under a second on one CPU thread with the 27-frame model)."""


def default_margin(num_frames: int) -> int:
    """Context positions on each side of the owned part of a fast-mode window: a twelfth of the window (27 -> 2).

    Measured on all of S9 with the default 27-frame model (``benchmarks/bench_eval.py``, ``docs/performance.md``):
    margin 2 is 0.3 mm (ground-truth 2D) / 0.7 mm (detections) from the per-frame protocol at 33x its speed; margin 4
    is 0.25 mm closer (ground-truth 2D) but 1.2x slower.
    """
    return num_frames // 12


def resolve_mode(mode: str, num_frames: int) -> str:
    """``"auto"`` -> ``"sequence"`` for inputs of at least :data:`AUTO_SEQUENCE_MIN_FRAMES` frames, else
    ``"per_frame"``; the other modes unchanged (checked)."""
    if mode == "auto":
        return "sequence" if num_frames >= AUTO_SEQUENCE_MIN_FRAMES else "per_frame"
    if mode not in LIFT_MODES:
        raise ValueError(f"mode: expected one of {LIFT_MODE_CHOICES}, got {mode!r}")
    return mode


def _predict(model: torch.nn.Module, windows: torch.Tensor, masks: torch.Tensor, head: str, flip_test: bool):
    """One batch of windows ``(B, T, J, 2)`` -> ``(B, T_out, J, 3)``; flip TTA averages with the mirrored input."""
    def predict(windows: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        if head == "centre":
            return model(poses=windows, spatial_mask=masks).poses_3d
        return model(poses=windows, spatial_mask=masks, predict_centre=False).sequence_poses_3d

    return predict_flip_tested(predict, windows, masks, flip_test)


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
    margin: int | None = None,
    fps: float | None = None,
) -> np.ndarray:
    """Lift one sequence ``(N, J, 2)`` (normalised screen coordinates) to ``(N, J, 3)`` metres, pelvis at 0.

    Args:
        model: an ``MPMForPoseLifting`` in eval mode.
        keypoints_2d: the 2D sequence; NaN marks a missing joint.
        missing: ``(N, J)`` bool, joints to feed as masked (e.g. low confidence); NaN joints are added to it.
        mode: ``"per_frame"`` (centred window per frame, the paper's protocol), ``"sequence"`` (fast) or
            ``"auto"`` (``"sequence"`` from :data:`AUTO_SEQUENCE_MIN_FRAMES` frames on, else ``"per_frame"``; always
            ``"per_frame"`` with ``frames``).
        batch_size: windows per forward pass.
        flip_test: average with the horizontally mirrored input (left/right swapped).
        downsample: frame step inside a window (``tds``); default ``model.config.downsample``, the step it was
            trained with (both modes).
        progress: called with the number of frames finished after every batch.
        frames: in ``"per_frame"`` mode, lift only these frame indices (windows still centred on each) and return
            ``(len(frames), J, 3)``; default every frame.
        margin: ``"sequence"`` mode: context positions on each side of a window's owned part (default
            :func:`default_margin`); 0 = non-overlapping windows, the fastest.
        fps: the input's frame rate. With ``model.config.fps`` known, windows keep the frame spacing the model was
            trained on: a whole-number step when one exists, else the sequence is resampled to the model's rate,
            lifted and interpolated back (:mod:`mpm_hf.frame_rate`). ``None``: the input is taken to be at the
            model's rate. Ignored when ``downsample`` is given.
    """
    config = model.config
    device = next(model.parameters()).device
    dtype = input_dtype(model)
    keypoints = torch.as_tensor(np.asarray(keypoints_2d, dtype=np.float32) if not torch.is_tensor(keypoints_2d)
                                else keypoints_2d, dtype=torch.float32)
    if keypoints.dim() != 3 or keypoints.shape[-1] != 2 or keypoints.shape[1] != config.num_joints:
        raise ValueError(
            f"keypoints_2d: expected shape (frames, {config.num_joints}, 2), got {tuple(keypoints.shape)}"
        )
    num_frames = keypoints.shape[0]
    if num_frames == 0:
        raise ValueError("keypoints_2d: expected at least one frame, got 0")
    mode = "per_frame" if mode == "auto" and frames is not None else resolve_mode(mode, num_frames)
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
    if downsample is None:
        plan = plan_frame_rate(fps, getattr(config, "fps", None), getattr(config, "downsample", 1))
        if plan.resample_fps is not None:
            return _lift_resampled(model, keypoints, invalid, fps, plan.resample_fps, mode, batch_size, flip_test,
                                   plan.step, frames, margin, progress)
        downsample = plan.step
    if mode == "per_frame":
        head, index, report = "centre", centred_windows(num_frames, window, downsample, centres=frames), progress
    else:
        margin = default_margin(window) if margin is None else margin
        tiling = tile_sequence(num_frames, window, downsample, margin)
        head, index = "sequence", tiling.index
        report = None if progress is None else (lambda done: progress(min(done * (window - 2 * margin), num_frames)))

    def predict(windows: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        return _predict(model, windows, masks, head, flip_test)

    predictions = run_windows(predict, keypoints, invalid, index, batch_size, device, dtype, report)
    if mode == "per_frame":
        return predictions[:, 0].numpy()
    return stitch(predictions, tiling).numpy()


def _lift_resampled(
    model, keypoints: torch.Tensor, invalid: torch.Tensor, fps: float, model_fps: float, mode: str, batch_size: int,
    flip_test: bool, step: int, frames: np.ndarray | None, margin: int | None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Lift at the model's frame rate: resample the input to ``model_fps``, lift, interpolate back to ``fps``
    (:func:`mpm_hf.frame_rate.run_resampled`)."""

    def run(resampled: np.ndarray, hidden: np.ndarray, needed: np.ndarray, advance: Callable[[int], None]):
        if mode != "per_frame":
            return lift_sequence(model, resampled, hidden, mode=mode, batch_size=batch_size, flip_test=flip_test,
                                 downsample=step, margin=margin, progress=advance)
        lifted = np.zeros((len(resampled), *resampled.shape[1:-1], 3), dtype=np.float32)
        lifted[needed] = lift_sequence(model, resampled, hidden, mode=mode, batch_size=batch_size,
                                       flip_test=flip_test, downsample=step, frames=needed, progress=advance)
        return lifted

    return run_resampled(run, keypoints.numpy(), invalid.numpy(), fps, model_fps, frames, progress)
