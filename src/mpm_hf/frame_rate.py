"""Frame rates: run a model on video of any frame rate the way it was trained.

A model's windows read every ``config.downsample``-th frame of data recorded at ``config.fps`` frames per second
(Human3.6M: 50 fps, tds 2, so a window's frames are 40 ms apart). Input at another rate ``fps`` is handled by
:func:`plan_frame_rate`:

- when ``downsample * fps / config.fps`` is a whole number ``>= 1``, windows simply take that frame step (25 fps
  input to a 50 fps / tds 2 model: every frame, still 40 ms apart). Nothing is interpolated;
- otherwise the sequence is resampled to ``config.fps`` by linear interpolation (:func:`resample`), lifted, and the
  result interpolated back to the input's frame times. A joint interpolated from a missing joint is missing.

Times are ``frame / fps`` seconds, frame 0 at time 0.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["FrameRatePlan", "plan_frame_rate", "resample_indices", "interpolate", "resample", "run_resampled"]


@dataclass(frozen=True)
class FrameRatePlan:
    """How to feed input at ``fps`` to a model: a window frame ``step``, and ``resample_fps`` when the input must
    first be resampled (``None``: used as it is)."""

    step: int
    resample_fps: float | None = None


def plan_frame_rate(fps: float | None, model_fps: float | None, downsample: int) -> FrameRatePlan:
    """The window step (and resampling) that gives input at ``fps`` the frame spacing the model was trained on."""
    if fps is None:
        return FrameRatePlan(step=downsample)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps: expected a positive number of frames per second, got {fps!r}")
    if model_fps is None:
        warnings.warn(
            f"fps={fps}: the model's config records no frame rate (config.fps), so the input is used at the model's "
            f"frame step {downsample} as it is",
            stacklevel=3,
        )
        return FrameRatePlan(step=downsample)
    step = downsample * fps / model_fps
    if abs(step - round(step)) < 1e-6 and round(step) >= 1:
        return FrameRatePlan(step=int(round(step)))
    return FrameRatePlan(step=downsample, resample_fps=float(model_fps))


def resample_indices(num_frames: int, source_fps: float, target_fps: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Source frames and weights for resampling: output frame ``k`` = ``(1 - w_k) x[i_k] + w_k x[i_k + 1]``.

    Returns ``(i (n_out,) int64, w (n_out,) float64)``, sampling times ``k / target_fps`` up to the last source
    frame; ``target_fps=None`` (or equal rates) keeps every frame.
    """
    if num_frames < 1:
        raise ValueError("num_frames: expected a non-empty sequence, got 0 frames")
    if target_fps is None or target_fps == source_fps:
        return np.arange(num_frames), np.zeros(num_frames)
    if source_fps <= 0 or target_fps <= 0:
        raise ValueError(f"fps: frame rates must be positive, got source {source_fps} and target {target_fps}")
    num_out = int(np.floor((num_frames - 1) * target_fps / source_fps + 1e-9)) + 1
    times = np.arange(num_out) * (source_fps / target_fps)
    first = np.minimum(np.floor(times + 1e-9).astype(np.int64), num_frames - 1)
    return first, np.clip(times - first, 0.0, 1.0)


def interpolate(
    values: np.ndarray, positions: np.ndarray, missing: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Linear interpolation of ``values (N, ..., C)`` at fractional frame ``positions (M,)`` (clipped to the
    sequence).

    ``missing (N, ...)`` bool (the shape of ``values`` without its last axis) marks entries with no value (NaN
    allowed there); an output entry that draws any weight from a missing one is missing. Returns float32 values
    (NaN where missing) and the missing flags (``None`` without ``missing``).
    """
    positions = np.clip(np.asarray(positions, dtype=np.float64), 0, len(values) - 1)
    first = np.minimum(np.floor(positions + 1e-9).astype(np.int64), len(values) - 1)
    weight = np.clip(positions - first, 0.0, 1.0)
    second = np.minimum(first + 1, len(values) - 1)
    w = weight.reshape(-1, *([1] * (values.ndim - 1)))
    if missing is None:
        return ((1 - w) * values[first] + w * values[second]).astype(np.float32), None
    uses_second = weight.reshape(-1, *([1] * (missing.ndim - 1))) > 1e-9
    hidden = missing[first] | (missing[second] & uses_second)
    blended = (1 - w) * np.nan_to_num(values[first]) + w * np.nan_to_num(values[second])
    return np.where(hidden[..., None], np.nan, blended).astype(np.float32), hidden


def resample(
    values: np.ndarray, source_fps: float, target_fps: float, missing: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``values (N, ..., C)`` at ``source_fps`` -> the frames at times ``k / target_fps`` up to the last source
    frame (see :func:`interpolate` for ``missing``)."""
    first, weight = resample_indices(len(values), source_fps, target_fps)
    return interpolate(values, first + weight, missing)


def run_resampled(
    run: Callable[[np.ndarray, np.ndarray, np.ndarray, Callable[[int], None]], np.ndarray],
    values: np.ndarray,
    missing: np.ndarray,
    fps: float,
    model_fps: float,
    frames: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Run a model at its own frame rate on input at another: resample, run, interpolate the output back.

    Args:
        run: ``run(resampled (M, J, C) NaN where missing, hidden (M, J) bool, needed (K,) int64, advance)`` ->
            ``(M, J, D)`` predictions at the model-rate frames; only the ``needed`` ones are read. ``advance(n)``
            reports ``n`` more model-rate frames done.
        values: ``(N, J, C)`` at ``fps``; entries where ``missing (N, J)`` are ignored (NaN or anything).
        fps, model_fps: the input's rate and the model's.
        frames: the input frames wanted (default every one).
        progress: called with increments of input frames done (model-rate frames scaled by ``fps / model_fps``).

    Returns ``(len(frames) or N, J, D)`` float32 at the input's frame times.
    """
    total, counts = len(values) if frames is None else len(frames), {"done": 0, "reported": 0}

    def advance(done: int) -> None:
        counts["done"] += done
        reached = total if done < 0 else min(total, round(counts["done"] * fps / model_fps))
        if progress is not None and reached > counts["reported"]:
            progress(reached - counts["reported"])
            counts["reported"] = reached

    resampled, hidden = resample(values, fps, model_fps, missing=missing)
    positions = (np.arange(len(values)) if frames is None else np.asarray(frames)) * (model_fps / fps)
    # the model-rate frames the wanted ones are interpolated from
    floor = np.floor(positions)
    needed = np.unique(np.clip(np.concatenate([floor, floor + 1]), 0, len(resampled) - 1).astype(np.int64))
    predictions = run(resampled, hidden, needed, advance)
    advance(-1)  # the last input frames, whatever the rounding
    return interpolate(predictions, positions)[0]
