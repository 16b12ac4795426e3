"""Person tracks from per-frame detections: grouping by the file's track ids, or linking frame to frame.

Detector files list detections per frame; the lifter needs one person over time. :func:`assemble_tracks`
turns a flat list of detections (the frame index, keypoints and box of each) into frame-aligned per-person
arrays ``(persons, frames, joints, 2)``:

- when the file gives track ids (AlphaPose ``idx``, MMPose ``track_id``, OpenPose ``person_id``) and no id
  repeats within a frame, detections are grouped by id;
- otherwise :func:`link_detections` links them frame to frame: per pair of frames a similarity between the
  live tracks and the new detections (box IoU, or a keypoint similarity where the boxes barely overlap) is
  maximised with :func:`scipy.optimize.linear_sum_assignment`; a detection with no similar enough track
  starts a new one, and a track survives ``max_gap`` frames without a match.

Coordinates are whatever the detector wrote (pixels, or normalised image units); boxes are
``(x1, y1, x2, y2)`` in the same units.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["Tracks", "keypoint_boxes", "box_iou", "keypoint_similarity", "link_detections", "assemble_tracks"]

MIN_SIMILARITY = 0.3
"""A detection joins a track only when their similarity (IoU or keypoint similarity) is at least this."""
MAX_GAP = 5
"""A track missing from up to this many consecutive frames can still be continued."""
KEYPOINT_SIGMA = 0.15
"""Spread of the keypoint similarity, as a fraction of the box diagonal (see :func:`keypoint_similarity`)."""


class Tracks(NamedTuple):
    """Frame-aligned detections of each person.

    Attributes:
        keypoints: float32 ``(persons, frames, joints, 2)``, NaN where the person was not detected.
        scores: float32 ``(persons, frames, joints)``, 0 where the person was not detected.
        track_ids: One id per person: the file's id when grouped by id, else the linker's ``0, 1, ...``.
        linked: True when the tracks come from :func:`link_detections`, False when from the file's ids.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    track_ids: list
    linked: bool


def keypoint_boxes(keypoints: np.ndarray) -> np.ndarray:
    """``(x1, y1, x2, y2)`` bounding boxes ``(..., 4)`` of the finite points of ``keypoints (..., joints, 2)``;
    NaN where a detection has no finite point."""
    finite = np.isfinite(keypoints).all(axis=-1, keepdims=True)
    low = np.where(finite, keypoints, np.inf).min(axis=-2)
    high = np.where(finite, keypoints, -np.inf).max(axis=-2)
    boxes = np.concatenate([low, high], axis=-1)
    boxes[~finite.any(axis=(-2, -1))] = np.nan
    return boxes


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union ``(A, B)`` of ``(A, 4)`` and ``(B, 4)`` boxes ``(x1, y1, x2, y2)``; 0 where either
    box has no area or is NaN."""
    a, b = boxes_a[:, None, :], boxes_b[None, :, :]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    intersection = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = intersection / union
    return np.where(np.isfinite(iou) & (union > 0), iou, 0.0)


def keypoint_similarity(
    keypoints_a: np.ndarray,
    boxes_a: np.ndarray,
    keypoints_b: np.ndarray,
    boxes_b: np.ndarray,
    sigma: float = KEYPOINT_SIGMA,
    min_diagonal: float = 0.0,
) -> np.ndarray:
    """OKS-like similarity ``(A, B)`` in [0, 1] of ``(A, joints, 2)`` and ``(B, joints, 2)`` keypoints.

    The mean over the joints finite in both of ``exp(-d**2 / (2 * (sigma * diagonal)**2))``, ``d`` the joint's
    distance and ``diagonal`` the larger diagonal of the two boxes ``(A, 4)`` / ``(B, 4)``, at least
    ``min_diagonal``; 0 for pairs without a common joint. Unlike IoU it still ranks detections whose boxes are
    degenerate (a single visible joint) or have moved past each other during a gap.
    """
    distance = np.linalg.norm(keypoints_a[:, None] - keypoints_b[None, :], axis=-1)  # (A, B, joints)
    common = np.isfinite(distance)
    diagonal_a = np.hypot(boxes_a[:, 2] - boxes_a[:, 0], boxes_a[:, 3] - boxes_a[:, 1])
    diagonal_b = np.hypot(boxes_b[:, 2] - boxes_b[:, 0], boxes_b[:, 3] - boxes_b[:, 1])
    scale = np.maximum(np.fmax(diagonal_a[:, None], diagonal_b[None, :]), max(min_diagonal, 1e-6)) * sigma
    per_joint = np.exp(-0.5 * (np.where(common, distance, 0.0) / scale[..., None]) ** 2)
    count = common.sum(axis=-1)
    return np.where(count > 0, (per_joint * common).sum(axis=-1) / np.maximum(count, 1), 0.0)


def link_detections(
    frame_index: np.ndarray,
    keypoints: np.ndarray,
    boxes: np.ndarray | None = None,
    min_similarity: float = MIN_SIMILARITY,
    max_gap: int = MAX_GAP,
    keypoint_sigma: float = KEYPOINT_SIGMA,
) -> np.ndarray:
    """Link detections into tracks frame by frame; returns the track index ``(detections,)`` of each detection.

    Tracks are numbered in order of first appearance. In each frame, the tracks seen within the last
    ``max_gap + 1`` frames are matched to the frame's detections by maximising the summed similarity
    (Hungarian algorithm); the similarity of a pair is the larger of the IoU of the track's last box with the
    detection's box and :func:`keypoint_similarity` of their keypoints (its scale at least the median box diagonal
    of the sequence, so that detections of a joint or two are compared at a person's scale). Matches below
    ``min_similarity`` are refused; every unmatched detection starts a new track.

    Args:
        frame_index: int ``(detections,)`` frame of each detection.
        keypoints: ``(detections, joints, 2)`` with NaN at missing joints; every detection needs a finite joint.
        boxes: Optional ``(detections, 4)`` ``(x1, y1, x2, y2)`` boxes from the file (NaN rows: none); a
            detection without one uses the bounding box of its keypoints.
        min_similarity: Least similarity for a detection to continue a track.
        max_gap: Frames a track may go unmatched and still be continued.
        keypoint_sigma: See :func:`keypoint_similarity`.
    """
    frame_index = np.asarray(frame_index, dtype=np.int64)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    num_detections = len(frame_index)
    if keypoints.shape[:1] != (num_detections,) or keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(
            f"keypoints: expected shape ({num_detections}, joints, 2) for {num_detections} detections, "
            f"got {keypoints.shape}"
        )
    if max_gap < 0:
        raise ValueError(f"max_gap: expected a number of frames >= 0, got {max_gap}")
    own_boxes = keypoint_boxes(keypoints)
    if boxes is not None:
        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.shape != (num_detections, 4):
            raise ValueError(f"boxes: expected shape ({num_detections}, 4), got {boxes.shape}")
        own_boxes = np.where(np.isfinite(boxes).all(axis=-1, keepdims=True), boxes, own_boxes)
    if np.isnan(own_boxes).any():
        raise ValueError("keypoints: every detection needs at least one finite joint to be linked")
    diagonals = np.hypot(own_boxes[:, 2] - own_boxes[:, 0], own_boxes[:, 3] - own_boxes[:, 1])
    typical_diagonal = float(np.median(diagonals[diagonals > 0])) if (diagonals > 0).any() else 0.0

    track_of = np.full(num_detections, -1, dtype=np.int64)
    if num_detections == 0:
        return track_of
    # Per-track state, preallocated: there are never more tracks than detections.
    last_frame = np.empty(num_detections, dtype=np.int64)
    last_box = np.empty((num_detections, 4))
    last_keypoints = np.empty_like(keypoints)
    num_tracks = 0
    order = np.argsort(frame_index, kind="stable")
    frames, starts = np.unique(frame_index[order], return_index=True)
    for frame, detections in zip(frames, np.split(order, starts[1:]), strict=True):
        live = np.flatnonzero(frame - last_frame[:num_tracks] <= max_gap + 1)
        if live.size:
            similarity = np.maximum(
                box_iou(last_box[live], own_boxes[detections]),
                keypoint_similarity(
                    last_keypoints[live], last_box[live], keypoints[detections], own_boxes[detections],
                    keypoint_sigma, typical_diagonal,
                ),
            )  # fmt: skip
            rows, cols = linear_sum_assignment(similarity, maximize=True)
            accepted = similarity[rows, cols] >= min_similarity
            track_of[detections[cols[accepted]]] = live[rows[accepted]]
        new = detections[track_of[detections] < 0]
        track_of[new] = np.arange(num_tracks, num_tracks + len(new))
        num_tracks += len(new)
        tracks = track_of[detections]
        last_frame[tracks] = frame
        last_box[tracks] = own_boxes[detections]
        last_keypoints[tracks] = keypoints[detections]
    return track_of


def _group_by_ids(
    frame_index: np.ndarray, track_ids: Sequence[Hashable], num_frames: int
) -> tuple[np.ndarray, list] | None:
    """Track index of each detection and the distinct ids (first-appearance order), or None when an id repeats
    within a frame."""
    index: dict[Hashable, int] = {}
    track_of = np.fromiter((index.setdefault(i, len(index)) for i in track_ids), np.int64, len(track_ids))
    slots = track_of * num_frames + frame_index
    if len(np.unique(slots)) < len(slots):
        return None
    return track_of, list(index)


def assemble_tracks(
    frame_index: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    num_frames: int,
    boxes: np.ndarray | None = None,
    track_ids: Sequence[Hashable] | None = None,
    min_similarity: float = MIN_SIMILARITY,
    max_gap: int = MAX_GAP,
    source: str = "detections",
) -> Tracks:
    """Frame-aligned per-person arrays from flat detections.

    Args:
        frame_index: int ``(detections,)`` frame of each detection, in ``[0, num_frames)``.
        keypoints: ``(detections, joints, 2)``, NaN at missing joints; detections without any finite joint
            carry nothing and are dropped.
        scores: ``(detections, joints)``.
        num_frames: Frames of the output (frames without detections stay all-missing).
        boxes: Optional ``(detections, 4)`` boxes from the file, see :func:`link_detections`.
        track_ids: Optional ``(detections,)`` ids from the file. Used when no id repeats within a frame;
            otherwise a warning is given and the detections are linked.
        min_similarity, max_gap: See :func:`link_detections`.
        source: What the detections are (a file name), for the warning.

    Returns:
        :class:`Tracks`, persons in order of first appearance.
    """
    frame_index = np.asarray(frame_index, dtype=np.int64)
    keypoints = np.asarray(keypoints, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or keypoints.shape[0] != len(frame_index):
        raise ValueError(
            f"keypoints: expected shape ({len(frame_index)}, joints, 2) for {len(frame_index)} detections, "
            f"got {keypoints.shape}"
        )
    if frame_index.size and not (0 <= frame_index.min() and frame_index.max() < num_frames):
        raise ValueError(
            f"frame_index: expected frames in [0, {num_frames}), got {frame_index.min()}..{frame_index.max()}"
        )
    if scores.shape != keypoints.shape[:-1]:
        raise ValueError(f"scores: expected shape {keypoints.shape[:-1]}, got {scores.shape}")
    keep = np.isfinite(keypoints).all(axis=-1).any(axis=-1)
    frame_index, keypoints, scores = frame_index[keep], keypoints[keep], scores[keep]
    boxes = None if boxes is None else np.asarray(boxes)[keep]
    ids = None if track_ids is None else [i for i, k in zip(track_ids, keep, strict=True) if k]

    grouped = None if ids is None else _group_by_ids(frame_index, ids, num_frames)
    if ids is not None and grouped is None:
        warnings.warn(
            f"{source}: track ids repeat within a frame, so they do not identify persons; linking detections "
            "by box overlap instead",
            stacklevel=3,
        )
    if grouped is not None:
        track_of, person_ids = grouped
    else:
        track_of = link_detections(frame_index, keypoints, boxes, min_similarity, max_gap)
        person_ids = list(range(int(track_of.max()) + 1 if track_of.size else 0))
    num_joints = keypoints.shape[1]
    out_keypoints = np.full((len(person_ids), num_frames, num_joints, 2), np.nan, dtype=np.float32)
    out_scores = np.zeros((len(person_ids), num_frames, num_joints), dtype=np.float32)
    out_keypoints[track_of, frame_index] = keypoints
    out_scores[track_of, frame_index] = scores
    return Tracks(out_keypoints, out_scores, person_ids, linked=grouped is None)
