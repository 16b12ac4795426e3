"""Evaluation metrics for 3D human pose: MPJPE, P-MPJPE, N-MPJPE, MPJVE, PCK and AUC.

Every metric accepts numpy arrays or torch tensors of shape ``(..., J, 3)`` (``J`` joints, any number of
leading batch/frame dimensions) and returns the same kind: numpy in, numpy out; torch in, torch out (on the
input's device, differentiable where the operation allows). Mixing the two converts the numpy side to torch.

The functions are **unit-agnostic**: the result has the unit of the inputs. Our datasets store poses in
metres, while papers report millimetres, so callers multiply by 1000 (``1000 * mpjpe(pred, target)``), or
pass millimetre inputs. PCK/AUC thresholds must be given in the unit of the inputs (their defaults are in
metres).

Aggregation follows the Human3.6M convention of the MPM paper (Table 1): errors are averaged over the
frames of each action (sub-actions such as "Walking 1" and "Walking 2" merged), then over the 15 actions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)
Reduce = Literal["mean", "none", "per_joint"]

H36M_ACTIONS: tuple[str, ...] = (
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Photo",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkDog",
    "Walking",
    "WalkTogether",
)
"""Human3.6M's 15 canonical action names, in the column order of the paper's tables."""

_ACTION_ALIASES: dict[str, str] = {
    **{name.lower(): name for name in H36M_ACTIONS},
    "direction": "Directions",
    "discuss": "Discussion",
    "eat": "Eating",
    "greet": "Greeting",
    "phone": "Phoning",
    "takingphoto": "Photo",
    "takephoto": "Photo",
    "pose": "Posing",
    "purchase": "Purchases",
    "sit": "Sitting",
    "sitdown": "SittingDown",
    "smoke": "Smoking",
    "wait": "Waiting",
    "walkingdog": "WalkDog",
    "walk": "Walking",
    "walkingtogether": "WalkTogether",
}

# A camera id glued to the name ("Walking 1.54138969") and a sub-action number ("Walking 1", "Eating_2").
_CAMERA_SUFFIX = re.compile(r"\.\d+$")
_SUBACTION_SUFFIX = re.compile(r"[\s_\-]*\d+$")


# --------------------------------------------------------------------------------------------------------
# numpy / torch dispatch
# --------------------------------------------------------------------------------------------------------


def _as_float(x: object, like: torch.Tensor | None) -> np.ndarray | torch.Tensor:
    """``x`` as a floating array of the requested kind (torch on ``like``'s device when ``like`` is given)."""
    if like is not None:
        x = torch.as_tensor(x, device=like.device)
        return x if x.is_floating_point() else x.to(torch.get_default_dtype())
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def _pair(pred: Array, target: Array, min_joints: int = 1) -> tuple[Array, Array]:
    """Both inputs as the same kind of floating array, with equal ``(..., J, D)`` shapes."""
    like = next((a for a in (pred, target) if isinstance(a, torch.Tensor)), None)
    pred, target = _as_float(pred, like), _as_float(target, like)
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(
            f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if pred.ndim < 2 or pred.shape[-2] < min_joints:
        raise ValueError(
            f"expected poses of shape (..., J, D) with J >= {min_joints}, got {tuple(pred.shape)}"
        )
    return pred, target


def _weights(valid: object | None, shape: tuple[int, ...], like: Array) -> Array | None:
    """``valid`` as float weights broadcast to ``shape`` (the ``(..., J)`` error shape), or None."""
    if valid is None:
        return None
    if isinstance(like, torch.Tensor):
        w = torch.as_tensor(valid, device=like.device).to(like.dtype)
        return torch.broadcast_to(w, shape)
    return np.broadcast_to(np.asarray(valid, dtype=like.dtype), shape)


def _norm(x: Array) -> Array:
    if isinstance(x, torch.Tensor):
        return torch.linalg.vector_norm(x, dim=-1)
    return np.linalg.norm(x, axis=-1)


def _where(cond: Array, x: Array, y: float | Array) -> Array:
    return torch.where(cond, x, y) if isinstance(cond, torch.Tensor) else np.where(cond, x, y)


def _reduce(values: Array, weights: Array | None, reduce: Reduce) -> Array:
    """Average per-joint ``values`` of shape ``(..., J)``, optionally weighted by ``weights``.

    ``"mean"``: one number; ``"none"``: one per pose ``(...)``; ``"per_joint"``: one per joint ``(J,)``.
    Poses (or joints) without any valid entry come out as NaN.
    """
    if reduce not in ("mean", "none", "per_joint"):
        raise ValueError(f"reduce must be 'mean', 'none' or 'per_joint', got {reduce!r}")
    num_joints = values.shape[-1]
    if weights is None:
        if reduce == "mean":
            return values.mean()
        if reduce == "none":
            return values.mean(axis=-1)
        return values.reshape(-1, num_joints).mean(axis=0)
    # Invalid joints may hold NaN (missing ground truth): zero them rather than let 0 * NaN leak through.
    weighted = _where(weights > 0, values * weights, 0.0)
    if reduce == "mean":
        numerator, denominator = weighted.sum(), weights.sum()
    elif reduce == "none":
        numerator, denominator = weighted.sum(axis=-1), weights.sum(axis=-1)
    else:
        numerator = weighted.reshape(-1, num_joints).sum(axis=0)
        denominator = weights.reshape(-1, num_joints).sum(axis=0)
    if isinstance(numerator, torch.Tensor):
        return numerator / denominator
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


# --------------------------------------------------------------------------------------------------------
# Position errors
# --------------------------------------------------------------------------------------------------------


def joint_errors(pred: Array, target: Array) -> Array:
    """Euclidean distance of every joint, ``(..., J, D) -> (..., J)``, in the unit of the inputs."""
    pred, target = _pair(pred, target)
    return _norm(pred - target)


def mpjpe(pred: Array, target: Array, valid: Array | None = None, reduce: Reduce = "mean") -> Array:
    """Mean per-joint position error (protocol #1): the mean Euclidean distance between joints.

    Args:
        pred: predicted poses ``(..., J, 3)`` (metres or millimetres; the result has the same unit).
        target: ground-truth poses ``(..., J, 3)``.
        valid: optional boolean mask or non-negative weights broadcastable to ``(..., J)``; joints with
            weight 0 are ignored (they may hold NaN).
        reduce: ``"mean"`` a scalar over every joint of every pose; ``"none"`` one error per pose
            ``(...)``; ``"per_joint"`` one error per joint ``(J,)`` averaged over all poses.

    Returns:
        The error, as the same kind of array as the inputs.
    """
    errors = joint_errors(pred, target)
    return _reduce(errors, _weights(valid, tuple(errors.shape), errors), reduce)


def procrustes_transform(
    pred: Array, target: Array, valid: Array | None = None
) -> tuple[Array, Array, Array]:
    """The similarity transform that best maps ``pred`` onto ``target`` in the least-squares sense.

    Solved for every pose of the batch at once by SVD (Umeyama's method), in float64. The rotation is
    proper: when the best orthogonal map is a reflection (``det < 0``), the sign of the last singular
    vector is flipped, so a mirrored prediction is not "corrected" by the alignment.

    Args:
        pred: predicted poses ``(..., J, D)``.
        target: ground-truth poses ``(..., J, D)``.
        valid: optional mask/weights ``(..., J)``; only joints with positive weight are fitted.

    Returns:
        ``(scale (...), rotation (..., D, D), translation (..., D))`` in float64, acting on row vectors:
        ``aligned = scale * pred @ rotation + translation``.
    """
    pred, target = _pair(pred, target, min_joints=2)
    is_torch = isinstance(pred, torch.Tensor)
    p = pred.double() if is_torch else pred.astype(np.float64)
    t = target.double() if is_torch else target.astype(np.float64)
    w = _weights(valid, tuple(p.shape[:-1]), p)
    if w is None:
        w = torch.ones_like(p[..., 0]) if is_torch else np.ones_like(p[..., 0])
    fitted = (w > 0)[..., None]
    p, t = _where(fitted, p, 0.0), _where(fitted, t, 0.0)

    total = w.sum(axis=-1)[..., None]
    mean_p = (w[..., None] * p).sum(axis=-2) / total
    mean_t = (w[..., None] * t).sum(axis=-2) / total
    p0 = _where(fitted, p - mean_p[..., None, :], 0.0)
    t0 = _where(fitted, t - mean_t[..., None, :], 0.0)

    einsum = torch.einsum if is_torch else np.einsum
    covariance = einsum("...ji,...j,...jk->...ik", p0, w, t0)
    linalg = torch.linalg if is_torch else np.linalg
    u, singular, vh = linalg.svd(covariance)
    # Flipping the last singular direction turns an improper (reflecting) solution into the best rotation.
    sign_fix = torch.ones_like(singular) if is_torch else np.ones_like(singular)
    sign_fix[..., -1] = _where(linalg.det(u @ vh) < 0, -1.0, 1.0)

    rotation = (u * sign_fix[..., None, :]) @ vh
    spread = (w * (p0**2).sum(axis=-1)).sum(axis=-1)
    # A degenerate prediction (all joints at one point) has no scale to fit: collapse it onto the centroid.
    scale = _where(spread > 0, (singular * sign_fix).sum(axis=-1) / _where(spread > 0, spread, 1.0), 0.0)
    translation = mean_t - scale[..., None] * einsum("...i,...ij->...j", mean_p, rotation)
    return scale, rotation, translation


def procrustes_align(pred: Array, target: Array, valid: Array | None = None) -> Array:
    """``pred`` after the best similarity alignment (scale, rotation, translation) onto ``target``.

    See :func:`procrustes_transform`. Returns the same kind and dtype as ``pred``, shape ``(..., J, D)``;
    joints excluded by ``valid`` are transformed too (but did not influence the fit).
    """
    pred, target = _pair(pred, target, min_joints=2)
    scale, rotation, translation = procrustes_transform(pred, target, valid)
    if isinstance(pred, torch.Tensor):
        aligned = scale[..., None, None] * (pred.double() @ rotation) + translation[..., None, :]
        return aligned.to(pred.dtype)
    aligned = scale[..., None, None] * (pred.astype(np.float64) @ rotation) + translation[..., None, :]
    return aligned.astype(pred.dtype)


def p_mpjpe(pred: Array, target: Array, valid: Array | None = None, reduce: Reduce = "mean") -> Array:
    """MPJPE after Procrustes alignment of each pose (protocol #2, "P-MPJPE" / "PA-MPJPE").

    Each pose ``(J, 3)`` is aligned separately with :func:`procrustes_align`. Arguments and reductions as
    in :func:`mpjpe`; the result has the unit of the inputs.
    """
    pred, target = _pair(pred, target, min_joints=2)
    return mpjpe(procrustes_align(pred, target, valid), target, valid, reduce)


def n_mpjpe(pred: Array, target: Array, valid: Array | None = None, reduce: Reduce = "mean") -> Array:
    """MPJPE after scaling each predicted pose by the least-squares optimal factor (as in VideoPose3D).

    No translation or rotation is fitted, so the inputs should be root-relative. Arguments and reductions
    as in :func:`mpjpe`.
    """
    pred, target = _pair(pred, target)
    weights = _weights(valid, tuple(pred.shape[:-1]), pred)
    dot = (pred * target).sum(axis=-1)
    square = (pred * pred).sum(axis=-1)
    if weights is not None:
        dot, square = _where(weights > 0, dot * weights, 0.0), _where(weights > 0, square * weights, 0.0)
    scale = dot.sum(axis=-1) / square.sum(axis=-1)
    return mpjpe(scale[..., None, None] * pred, target, valid, reduce)


def mpjve(pred: Array, target: Array, valid: Array | None = None, reduce: Reduce = "mean") -> Array:
    """Mean per-joint velocity error: MPJPE of the frame-to-frame displacements.

    Args:
        pred: predicted sequences ``(..., T, J, 3)``; frames are along axis ``-3``, ``T >= 2``.
        target: ground-truth sequences ``(..., T, J, 3)``.
        valid: optional mask ``(..., T, J)``; a velocity counts only when the joint is valid in both
            frames.
        reduce: as in :func:`mpjpe`; ``"none"`` gives one error per frame pair ``(..., T - 1)``.

    Returns:
        The error in input units per frame (multiply by the frame rate for units per second).
    """
    pred, target = _pair(pred, target)
    if pred.ndim < 3 or pred.shape[-3] < 2:
        raise ValueError(f"expected sequences of shape (..., T, J, D) with T >= 2, got {tuple(pred.shape)}")
    if isinstance(pred, torch.Tensor):
        velocity_pred, velocity_target = torch.diff(pred, dim=-3), torch.diff(target, dim=-3)
    else:
        velocity_pred, velocity_target = np.diff(pred, axis=-3), np.diff(target, axis=-3)
    if valid is not None:
        frame_valid = _weights(valid, tuple(pred.shape[:-1]), pred)
        valid = frame_valid[..., 1:, :] * frame_valid[..., :-1, :]
    return mpjpe(velocity_pred, velocity_target, valid, reduce)


# --------------------------------------------------------------------------------------------------------
# MPI-INF-3DHP: PCK and AUC
# --------------------------------------------------------------------------------------------------------


def pck(
    pred: Array,
    target: Array,
    threshold: float = 0.15,
    valid: Array | None = None,
    reduce: Reduce = "mean",
) -> Array:
    """Percentage of correct keypoints (3D PCK, MPI-INF-3DHP): joints closer than ``threshold``, in percent.

    Units: ``threshold`` is in the unit of the inputs; the default 0.15 is the benchmark's 150 mm for
    inputs in metres (pass ``threshold=150`` for millimetre inputs). A joint is correct when its error is
    strictly below the threshold. Reductions and ``valid`` as in :func:`mpjpe`.
    """
    errors = joint_errors(pred, target)
    correct = 100.0 * (errors < threshold)
    correct = correct.to(errors.dtype) if isinstance(errors, torch.Tensor) else correct.astype(errors.dtype)
    return _reduce(correct, _weights(valid, tuple(errors.shape), errors), reduce)


def auc(
    pred: Array,
    target: Array,
    thresholds: Sequence[float] | np.ndarray | None = None,
    valid: Array | None = None,
    reduce: Reduce = "mean",
) -> Array:
    """Area under the PCK curve (MPI-INF-3DHP), in percent: the mean PCK over ``thresholds``.

    Units: ``thresholds`` are in the unit of the inputs; the default ``np.linspace(0, 0.15, 31)`` is the
    benchmark's 0-150 mm in 5 mm steps for inputs in metres (use ``np.linspace(0, 150, 31)`` for mm).
    """
    thresholds = np.linspace(0.0, 0.15, 31) if thresholds is None else np.asarray(thresholds, dtype=float)
    if thresholds.ndim != 1 or thresholds.size == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D sequence, got shape {thresholds.shape}")
    curves = [pck(pred, target, float(threshold), valid, reduce) for threshold in thresholds]
    if isinstance(curves[0], torch.Tensor):
        return torch.stack(curves).mean(dim=0)
    return np.mean(np.stack(curves), axis=0)


# --------------------------------------------------------------------------------------------------------
# Per-action aggregation (Human3.6M tables)
# --------------------------------------------------------------------------------------------------------


def canonical_action(name: str) -> str:
    """Map a Human3.6M action label to one of the 15 canonical names (:data:`H36M_ACTIONS`).

    Strips a camera id (``"Walking 1.54138969"``) and the sub-action number (``"Walking 1"``,
    ``"Eating_2"``), and merges the spellings that vary between subjects and releases: ``"TakingPhoto"``
    -> ``"Photo"``, ``"WalkingDog"`` -> ``"WalkDog"``, case and separators ignored. Labels that are not
    Human3.6M actions come back stripped but otherwise unchanged.
    """
    stripped = _SUBACTION_SUFFIX.sub("", _CAMERA_SUFFIX.sub("", name.strip()))
    key = re.sub(r"[^a-z]", "", stripped.lower())
    return _ACTION_ALIASES.get(key, stripped)


def _ordered_actions(actions: Iterable[str]) -> list[str]:
    """Canonical Human3.6M actions in table order, then any other labels alphabetically."""
    actions = set(actions)
    known = [a for a in H36M_ACTIONS if a in actions]
    return known + sorted(actions.difference(H36M_ACTIONS))


def per_action_table(
    errors_by_action: Mapping[str, object], average_key: str = "Average"
) -> dict[str, float]:
    """Average errors per canonical action, then over actions (the paper's Table 1 layout).

    Args:
        errors_by_action: action label -> per-frame errors (any array-like of any shape; NaN entries are
            ignored). Labels naming the same canonical action (``"Walking 1"``, ``"Walking 2"``) are
            merged by pooling their frames before averaging.
        average_key: the key of the mean over actions.

    Returns:
        ``{action: mean error, ..., average_key: mean of the action means}``, actions in the order of
        :data:`H36M_ACTIONS`; every value a Python float in the unit of the inputs.
    """
    pooled: dict[str, list[np.ndarray]] = {}
    for name, errors in errors_by_action.items():
        if isinstance(errors, torch.Tensor):
            errors = errors.detach().cpu().numpy()
        pooled.setdefault(canonical_action(name), []).append(np.asarray(errors, dtype=np.float64).ravel())
    table: dict[str, float] = {}
    for action in _ordered_actions(pooled):
        frames = np.concatenate(pooled[action])
        frames = frames[np.isfinite(frames)]
        table[action] = float(frames.mean()) if frames.size else float("nan")
    action_means = [value for value in table.values() if np.isfinite(value)]
    table[average_key] = float(np.mean(action_means)) if action_means else float("nan")
    return table


def format_markdown_table(rows: Mapping[str, Mapping[str, float]], precision: int = 1) -> str:
    """Render per-action results as a Markdown table: one row per metric, one column per action.

    Args:
        rows: metric name -> ``{action: value}`` (e.g. ``{"MPJPE": per_action_table(...)}``); columns follow
            the first row's keys, any action missing from a row is printed as "-".
        precision: digits after the decimal point.
    """
    if not rows:
        raise ValueError("format_markdown_table needs at least one row")
    columns: list[str] = []
    for values in rows.values():
        columns.extend(column for column in values if column not in columns)
    lines = [
        "| " + " | ".join(["", *columns]) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    for metric, values in rows.items():
        cells = [f"{values[column]:.{precision}f}" if column in values else "-" for column in columns]
        lines.append("| " + " | ".join([metric, *cells]) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------
# Accumulation over an evaluation run
# --------------------------------------------------------------------------------------------------------


class MetricAccumulator:
    """Collects per-frame MPJPE and P-MPJPE over an evaluation run, with optional action labels.

    ``update`` takes whole batches and stores one error per pose (vectorised); ``summary`` aggregates.

    Args:
        unit_scale: factor turning input units into millimetres for the summary: 1000 for poses in metres
            (the default), 1 for poses already in millimetres.

    Example::

        acc = MetricAccumulator()
        for batch in loader:
            acc.update(model_output, batch["poses_3d"], actions=batch["action"])
        acc.summary()["mpjpe"]  # mm
    """

    def __init__(self, unit_scale: float = 1000.0) -> None:
        self.unit_scale = float(unit_scale)
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self._mpjpe: list[np.ndarray] = []
        self._p_mpjpe: list[np.ndarray] = []
        self._actions: list[np.ndarray] = []
        self._labelled: bool | None = None

    def __len__(self) -> int:
        return sum(errors.size for errors in self._mpjpe)

    def update(
        self,
        pred: Array,
        target: Array,
        actions: str | Sequence[str] | np.ndarray | None = None,
        valid: Array | None = None,
    ) -> None:
        """Add a batch of poses.

        Args:
            pred: predicted poses ``(..., J, 3)``; every pose of the leading dimensions is one frame.
            target: ground-truth poses, same shape.
            actions: one label for the whole batch, or one per pose (flattened leading dimensions), or
                None. Either every update is labelled or none is.
            valid: optional joint mask ``(..., J)``, see :func:`mpjpe`.
        """
        if isinstance(pred, torch.Tensor):
            pred = pred.detach()
        if isinstance(target, torch.Tensor):
            target = target.detach()
        frame_mpjpe = _to_numpy(mpjpe(pred, target, valid, reduce="none")).reshape(-1)
        frame_p_mpjpe = _to_numpy(p_mpjpe(pred, target, valid, reduce="none")).reshape(-1)
        labelled = actions is not None
        if self._labelled is not None and labelled != self._labelled:
            raise ValueError("either label every update with actions or none of them")
        self._labelled = labelled
        if labelled:
            labels = np.asarray(actions, dtype=object).reshape(-1)
            if labels.size == 1:
                labels = np.repeat(labels, frame_mpjpe.size)
            if labels.size != frame_mpjpe.size:
                raise ValueError(f"expected 1 or {frame_mpjpe.size} action labels, got {labels.size}")
            self._actions.append(labels)
        self._mpjpe.append(self.unit_scale * frame_mpjpe)
        self._p_mpjpe.append(self.unit_scale * frame_p_mpjpe)

    def summary(self) -> dict:
        """Aggregate the accumulated errors, in millimetres.

        Returns:
            ``{"mpjpe", "p_mpjpe", "per_action": {action: {"mpjpe", "p_mpjpe"}}, "num_frames"}``. With
            action labels, ``mpjpe``/``p_mpjpe`` are means over actions of the per-action means (the
            Human3.6M protocol) and ``per_action`` lists the canonical actions; without labels they are
            means over frames and ``per_action`` is empty.
        """
        if not self._mpjpe:
            return {"mpjpe": float("nan"), "p_mpjpe": float("nan"), "per_action": {}, "num_frames": 0}
        frame_mpjpe = np.concatenate(self._mpjpe)
        frame_p_mpjpe = np.concatenate(self._p_mpjpe)
        if not self._labelled:
            return {
                "mpjpe": float(np.nanmean(frame_mpjpe)),
                "p_mpjpe": float(np.nanmean(frame_p_mpjpe)),
                "per_action": {},
                "num_frames": int(frame_mpjpe.size),
            }
        labels = np.array([canonical_action(str(a)) for a in np.concatenate(self._actions)], dtype=object)
        by_action = {action: labels == action for action in _ordered_actions(labels)}
        mpjpe_table = per_action_table({a: frame_mpjpe[m] for a, m in by_action.items()})
        p_mpjpe_table = per_action_table({a: frame_p_mpjpe[m] for a, m in by_action.items()})
        return {
            "mpjpe": mpjpe_table["Average"],
            "p_mpjpe": p_mpjpe_table["Average"],
            "per_action": {a: {"mpjpe": mpjpe_table[a], "p_mpjpe": p_mpjpe_table[a]} for a in by_action},
            "num_frames": int(frame_mpjpe.size),
        }

    def markdown(self, precision: int = 1) -> str:
        """The summary as a Markdown table (rows MPJPE and P-MPJPE, one column per action and "Average")."""
        summary = self.summary()
        rows = {}
        for key, title in (("mpjpe", "MPJPE (mm)"), ("p_mpjpe", "P-MPJPE (mm)")):
            row = {action: values[key] for action, values in summary["per_action"].items()}
            row["Average"] = summary[key]
            rows[title] = row
        return format_markdown_table(rows, precision)


def _to_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
