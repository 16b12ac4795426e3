"""Windows over pose sequences, in one place: cut, batch, flip, stitch.

Every MPM model reads windows of ``config.num_frames`` frames taken every ``step`` source frames (the release's
``tds``, ``config.downsample``): a window centred on frame ``c`` reads ``c + (k - T // 2) * step`` for
``k = 0 .. T - 1``, with frames beyond a sequence's ends replaced by its first / last frame (edge padding). The
inference code (:mod:`mpm_hf.inference`, :mod:`mpm_hf.completion`), the evaluation protocols
(:mod:`mpm_hf.evaluation`) and the training windows (:class:`mpm_hf.data.windows.PoseWindows`) all cut their windows
here, so a model is run on exactly the spacing it was trained on.

Two ways to cover a sequence of ``N`` frames:

- :func:`centred_windows`: one window centred on every frame (the paper's per-frame protocol, ``N`` windows; the
  strided head predicts each centre).
- :func:`tile_sequence`: the fast mode. The frames ``r, r + step, r + 2 * step, ...`` of each residue ``r`` form a
  subsequence at the trained spacing; it is cut into windows whose central ``T - 2 * margin`` positions are *owned*
  (predicted by the sequence head) and whose ``margin`` positions on each side are context shared with the
  neighbouring windows. Every frame is owned by exactly one window, at the spacing the model was trained on, and
  :func:`stitch` puts the owned predictions back in frame order. About ``N / (T - 2 * margin)`` windows.

All index arrays are numpy ``int64``; nothing loops over frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from .keypoints import Skeleton, flip_poses, model_skeleton

__all__ = [
    "window_offsets",
    "centred_windows",
    "Tiling",
    "tile_sequence",
    "stitch",
    "batch_slices",
    "run_windows",
    "flip_windows",
    "merge_flipped",
    "predict_flip_tested",
]


def window_offsets(window: int, step: int = 1) -> np.ndarray:
    """Frame offsets of a window's positions from its centre: ``(window,)`` = ``(k - window // 2) * step``."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window: expected a positive odd number of frames, got {window}")
    if step < 1:
        raise ValueError(f"step: expected a positive integer (the model's downsample / tds), got {step}")
    return (np.arange(window, dtype=np.int64) - window // 2) * step


def centred_windows(
    num_frames: int | np.ndarray,
    window: int,
    step: int = 1,
    centres: np.ndarray | None = None,
    first: int | np.ndarray = 0,
) -> np.ndarray:
    """Source-frame index of every position of the windows centred on ``centres``: ``(num_centres, window)``.

    Args:
        num_frames: frames in the sequence (or, with ``first``, per-centre sequence lengths ``(num_centres,)``).
        window: frames per window (``config.num_frames``).
        step: frame step inside a window (``config.downsample``).
        centres: centre frames (default every frame ``0 .. num_frames - 1``), in the same index space as ``first``.
        first: index of each centre's sequence start, for sequences concatenated into one array (the training
            windows); positions beyond ``[first, first + num_frames)`` repeat the end frames.
    """
    if centres is None:
        centres = np.arange(int(num_frames), dtype=np.int64)
    centres = np.asarray(centres, dtype=np.int64)
    first = np.asarray(first, dtype=np.int64)
    last = first + np.asarray(num_frames, dtype=np.int64) - 1
    if first.ndim:
        first, last = first[:, None], last[:, None]
    return np.clip(centres[:, None] + window_offsets(window, step)[None, :], first, last)


@dataclass(frozen=True)
class Tiling:
    """Windows covering a sequence for the fast mode (see :func:`tile_sequence`).

    Attributes:
        index: ``(num_windows, window)`` source-frame index of every window position (edge padded).
        owned_rows, owned_positions: for every source frame ``f`` (in order ``0 .. N - 1``), the window and the
            position inside it whose prediction is kept: ``prediction[owned_rows[f], owned_positions[f]]``.
    """

    index: np.ndarray
    owned_rows: np.ndarray
    owned_positions: np.ndarray

    @property
    def num_windows(self) -> int:
        return int(self.index.shape[0])


def tile_sequence(num_frames: int, window: int, step: int = 1, margin: int = 0) -> Tiling:
    """Cover ``num_frames`` frames with windows at the model's frame step, each frame owned once.

    Each residue class ``r = 0 .. step - 1`` (frames ``r, r + step, ...``) is tiled with windows whose positions
    ``margin .. window - margin - 1`` are owned; window ``i`` of a class starts ``margin`` positions before its
    first owned frame. Positions before the first / after the last frame read that frame (edge padding, as
    :func:`centred_windows`), so ``margin = window // 2`` gives exactly the per-frame protocol's windows.
    """
    window_offsets(window, step)  # validates window and step
    if num_frames < 1:
        raise ValueError(f"num_frames: expected at least one frame, got {num_frames}")
    if not 0 <= margin <= window // 2:
        raise ValueError(f"margin: expected an integer in [0, {window // 2}] (window {window}), got {margin}")
    core = window - 2 * margin
    residues = np.arange(min(step, num_frames), dtype=np.int64)
    lengths = (num_frames - residues + step - 1) // step  # frames in each residue class
    tiles = (lengths + core - 1) // core  # windows per class
    tile_class = np.repeat(residues, tiles)  # (W,)
    tile_number = np.arange(tiles.sum(), dtype=np.int64) - np.repeat(np.cumsum(tiles) - tiles, tiles)
    # position p of window (class r, number i) reads class element i * core - margin + p; frames beyond the
    # sequence are clipped to its first / last frame, exactly as the per-frame protocol's centred windows
    element = tile_number[:, None] * core - margin + np.arange(window, dtype=np.int64)[None, :]
    index = np.clip(tile_class[:, None] + element * step, 0, num_frames - 1)

    frames = np.arange(num_frames, dtype=np.int64)
    frame_class, frame_element = frames % step, frames // step
    first_tile = np.cumsum(tiles) - tiles  # row of each class's first window
    owned_rows = first_tile[frame_class] + frame_element // core
    owned_positions = margin + frame_element % core
    return Tiling(index=index, owned_rows=owned_rows, owned_positions=owned_positions)


def stitch(predictions: torch.Tensor | np.ndarray, tiling: Tiling) -> torch.Tensor | np.ndarray:
    """``(num_windows, window, ...)`` predictions of a tiling -> ``(num_frames, ...)`` in frame order."""
    if predictions.shape[:2] != tiling.index.shape:
        raise ValueError(
            f"predictions: expected leading shape {tiling.index.shape}, got {tuple(predictions.shape[:2])}"
        )
    if isinstance(predictions, torch.Tensor):
        rows = torch.from_numpy(tiling.owned_rows)
        return predictions[rows, torch.from_numpy(tiling.owned_positions)]
    return predictions[tiling.owned_rows, tiling.owned_positions]


def batch_slices(num_windows: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``batch_size`` windows."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
    for begin in range(0, num_windows, batch_size):
        yield slice(begin, min(begin + batch_size, num_windows))


def run_windows(
    predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    sequence: torch.Tensor,
    hidden: torch.Tensor,
    index: np.ndarray,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Gather the windows ``index`` of ``sequence (N, J, C)`` / ``hidden (N, J)`` batch by batch and run ``predict``.

    ``predict(windows (B, T, J, C), masks (B, T, J))`` returns a tensor with a leading batch axis; the results are
    concatenated on the CPU in float32. ``progress`` gets the number of windows finished after every batch.
    """
    rows = torch.from_numpy(np.ascontiguousarray(index))
    outputs = []
    for part in batch_slices(rows.shape[0], batch_size):
        frames = rows[part]
        windows = sequence[frames].to(device=device, dtype=dtype)
        outputs.append(predict(windows, hidden[frames].to(device)).float().cpu())
        if progress is not None:
            progress(frames.shape[0])
    return torch.cat(outputs, dim=0)


def flip_windows(windows: torch.Tensor, masks: torch.Tensor, skeleton: Skeleton) -> tuple[torch.Tensor, torch.Tensor]:
    """Flip test-time augmentation: append the mirrored windows (x negated, left/right swapped) and their masks."""
    flipped_masks = masks[..., list(skeleton.flip_permutation)]
    return torch.cat([windows, flip_poses(windows, skeleton)], dim=0), torch.cat([masks, flipped_masks], dim=0)


def merge_flipped(poses: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """Average the predictions of :func:`flip_windows`' two halves (the second mirrored back)."""
    half = poses.shape[0] // 2
    return (poses[:half] + flip_poses(poses[half:], skeleton)) / 2


def predict_flip_tested(
    predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    windows: torch.Tensor,
    masks: torch.Tensor,
    flip_test: bool,
) -> torch.Tensor:
    """``predict(windows (B, T, J, C), masks (B, T, J)) -> (B, ..., J, 3)``, or with ``flip_test`` the average of its
    predictions for the windows and for their mirror images (one batch of ``2 B``; :func:`flip_windows`,
    :func:`merge_flipped`). The joint order is the model's for ``J`` joints."""
    if not flip_test:
        return predict(windows, masks)
    skeleton = model_skeleton(windows.shape[-2])
    return merge_flipped(predict(*flip_windows(windows, masks, skeleton)), skeleton)
