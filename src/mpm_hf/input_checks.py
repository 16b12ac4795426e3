"""Checks of the keypoints users give the pipelines, so that no input gives a silently wrong answer.

Every rule either raises ``ValueError`` naming the field, the expected and the actual value (the input cannot be
used as given) or warns with :class:`KeypointWarning`, saying what was assumed (it can). Thresholds are the module
constants below.

2D keypoints, ``(frames, joints, 2)`` in the units the caller declared or that were detected (see
:func:`detect_units`: ``"pixels"`` or ``"normalised"`` screen coordinates, ``x / w * 2 - 1``, ``y / w * 2 - h / w``):

- **absurd values** (:func:`check_magnitudes`): a used coordinate beyond :data:`MAX_MAGNITUDE` is an error that
  names the first such frame and joint (NaN/inf joints are missing, not checked).
- **(0, 0) markers** (:func:`zero_markers`): COCO / OpenPose files write undetected joints as ``(0, 0)``. In pixels
  that is the image corner, where no detector puts a real joint, so such joints are missing by default. In
  normalised coordinates ``(0, 0)`` is the image centre, a real place, so they are kept; two or more joints at
  exactly ``(0, 0)`` in one frame cannot be a body, and a warning suggests ``zero_is_missing=True``.
- **far outside the image** (:func:`far_outside`): a joint more than :data:`FAR_OUTSIDE` image sizes outside the
  canvas (pixels: needs ``image_size``; normalised: ``|x| > 3`` or ``|y| > 3 * MAX_ASPECT_RATIO``, the image's
  aspect being unknown) is missing, with a warning; when more than :data:`MOSTLY_OUTSIDE` of the joints are, the
  units or the image size are wrong and it is an error.
- **image size** (:func:`check_image_size_fits`): pixels with every used value within ``±PIXEL_THRESHOLD`` look
  normalised already (normalising twice); keypoints whose :data:`EXTENT_QUANTILE` quantile lies beyond
  :data:`EXTENT_TOLERANCE` times the width or height say the image size is too small. Both warn.
- **joint order** (:func:`check_joint_order`): the skeleton, converted to Human3.6M-17, must look human: left and
  right limbs of similar length and bones in human proportions (:func:`skeleton_implausibility`). It warns when
  another joint order of the same joint count fits clearly better, or when the declared one is far from human.

3D poses, metres (:func:`check_metric_scale`): a body larger than :data:`MAX_BODY_RADIUS` metres is an error
(millimetres or centimetres), one smaller than :data:`MIN_BODY_RADIUS` warns.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from .keypoints import H36M_17, SKELETONS, Skeleton, convert_keypoints, get_skeleton

__all__ = [
    "KeypointWarning",
    "MAX_MAGNITUDE",
    "PIXEL_THRESHOLD",
    "FAR_OUTSIDE",
    "MOSTLY_OUTSIDE",
    "MAX_ASPECT_RATIO",
    "EXTENT_TOLERANCE",
    "EXTENT_QUANTILE",
    "IMPLAUSIBLE_SKELETON",
    "BETTER_ORDER_MARGIN",
    "UNLIKE_ANY_SKELETON",
    "MAX_BODY_RADIUS",
    "MIN_BODY_RADIUS",
    "detect_units",
    "check_magnitudes",
    "zero_markers",
    "far_outside",
    "check_far_outside",
    "check_image_size_fits",
    "SkeletonFit",
    "skeleton_implausibility",
    "check_joint_order",
    "check_metric_scale",
]


class KeypointWarning(UserWarning):
    """Pipeline input that is usable but suspicious; the message says what was assumed.

    ``warnings.simplefilter("error", KeypointWarning)`` turns every such case into an exception.
    """


MAX_MAGNITUDE = 1e6
"""Largest plausible coordinate: pixels of a 1,000,000-pixel-wide image."""

PIXEL_THRESHOLD = 2.0
"""Keypoints with a coordinate beyond this magnitude are taken for pixels (normalised coordinates lie in about
[-1, 1] for x and [-h/w, h/w] for y)."""

FAR_OUTSIDE = 1.0
"""Joints farther than this many image sizes outside the image are missing (detector failures)."""

MOSTLY_OUTSIDE = 0.5
"""More than this fraction of the used joints far outside the image: the units or the image size are wrong."""

MAX_ASPECT_RATIO = 2.0
"""Largest height / width assumed for normalised input, whose image size is unknown (portrait video is 16 / 9)."""

EXTENT_TOLERANCE = 1.1
"""Keypoints reaching beyond this many widths (heights) of the image make its size look wrong."""

EXTENT_QUANTILE = 0.99
"""The quantile of the x (y) coordinates compared with the image size, so that a few stray joints do not count."""

IMPLAUSIBLE_SKELETON = 0.5
"""Implausibility (:func:`skeleton_implausibility`) above which a better-fitting joint order is reported."""

BETTER_ORDER_MARGIN = 0.15
"""How much lower another joint order's implausibility must be for a warning."""

UNLIKE_ANY_SKELETON = 1.5
"""Implausibility above which the keypoints are reported as unlike a human skeleton in the declared order."""

MAX_BODY_RADIUS = 5.0
"""Metres; a body whose joints lie farther than this from their centre is not in metres."""

MIN_BODY_RADIUS = 0.05
"""Metres; a body smaller than this is probably not in metres either."""

def _first_index(mask: np.ndarray) -> tuple[int, int]:
    frame, joint = np.argwhere(mask)[0]
    return int(frame), int(joint)


def _joint_label(skeleton: Skeleton, joint: int) -> str:
    return f"joint {joint} ({skeleton.joint_names[joint]!r})"


def detect_units(
    points: np.ndarray,
    used: np.ndarray,
    image_size: tuple[float, float] | None,
    normalized: bool,
    accepts_pixels: bool,
) -> str:
    """``"pixels"`` or ``"normalised"``: declared by ``image_size`` / ``normalized``, else detected.

    Without either, keypoints with a used coordinate beyond :data:`PIXEL_THRESHOLD` are pixels, which only a model
    that normalises its windows itself (``accepts_pixels``, ``config.input_normalization="window"``) can take;
    otherwise it is an error asking for the image size.

    Args:
        points: ``(frames, joints, 2)`` keypoints.
        used: ``(frames, joints)`` bool, the joints that are not missing.
        image_size: ``(width, height)`` in pixels, or ``None``.
        normalized: the caller declared normalised screen coordinates.
        accepts_pixels: the model takes pixels without an image size.
    """
    if image_size is not None:
        return "pixels"
    if normalized:
        return "normalised"
    largest = float(np.abs(points[used]).max(initial=0.0))
    if largest <= PIXEL_THRESHOLD:
        return "normalised"
    if accepts_pixels:
        return "pixels"
    raise ValueError(
        f"image_size: the keypoints look like pixels (values up to {largest:.1f}); pass "
        "image_size=(width, height), or normalized=True if they are normalised screen coordinates"
    )


def check_magnitudes(points: np.ndarray, used: np.ndarray, skeleton: Skeleton, field: str = "inputs") -> None:
    """``ValueError`` naming the first frame and joint whose used coordinate is beyond :data:`MAX_MAGNITUDE`.

    Args:
        points: ``(frames, joints, coords)`` in any units.
        used: ``(frames, joints)`` bool, the joints that are not missing.
        skeleton: joint order of ``points``, to name the joint.
    """
    absurd = used & (np.abs(np.where(used[..., None], points, 0.0)) > MAX_MAGNITUDE).any(axis=-1)
    if absurd.any():
        frame, joint = _first_index(absurd)
        raise ValueError(
            f"{field}: expected coordinates within ±{MAX_MAGNITUDE:g}, got {points[frame, joint].tolist()} at frame "
            f"{frame}, {_joint_label(skeleton, joint)} ({int(absurd.sum())} such joints in all); pass NaN for a "
            "missing joint"
        )


def zero_markers(points: np.ndarray, used: np.ndarray, units: str, zero_is_missing: bool | None) -> np.ndarray:
    """``(frames, joints)`` bool: the used joints at exactly ``(0, 0)`` to treat as missing.

    ``zero_is_missing=None`` (the default) means ``True`` for pixels and ``False`` for normalised coordinates, where
    two or more joints at exactly ``(0, 0)`` in one frame warn instead (they look like zero-filled missing joints).
    """
    zeros = used & (points == 0.0).all(axis=-1)
    if zero_is_missing is None:
        if units == "pixels":
            return zeros
        crowded = zeros.sum(axis=-1) >= 2
        if crowded.any():
            warnings.warn(
                f"inputs: {int(zeros[crowded].sum())} joints lie at exactly (0, 0), several in one frame (in "
                f"{int(crowded.sum())} frame(s), first: frame {int(np.argmax(crowded))}); in normalised screen "
                "coordinates that is the image centre, and they look like zero-filled missing joints. They were kept "
                "as real points; pass zero_is_missing=True to treat them as missing",
                KeypointWarning,
                stacklevel=_stacklevel(),
            )
        return np.zeros_like(zeros)
    return zeros if zero_is_missing else np.zeros_like(zeros)


def _canvas(units: str, image_size: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(lower (2,), upper (2,))`` corners of the image in the keypoints' units, or ``None`` when unknown."""
    if units == "pixels":
        if image_size is None:
            return None
        return np.zeros(2), np.asarray(image_size, dtype=np.float64)
    return np.array([-1.0, -MAX_ASPECT_RATIO]), np.array([1.0, MAX_ASPECT_RATIO])


def far_outside(points: np.ndarray, used: np.ndarray, units: str, image_size: tuple[float, float] | None) -> np.ndarray:
    """``(frames, joints)`` bool: used joints more than :data:`FAR_OUTSIDE` image sizes outside the image (all
    ``False`` for pixels without an image size, whose canvas is unknown)."""
    canvas = _canvas(units, image_size)
    if canvas is None:
        return np.zeros(used.shape, dtype=bool)
    lower, upper = canvas
    margin = FAR_OUTSIDE * (upper - lower)
    with np.errstate(invalid="ignore"):
        outside = ((points < lower - margin) | (points > upper + margin)).any(axis=-1)
    return used & outside


def check_far_outside(
    points: np.ndarray,
    used: np.ndarray,
    units: str,
    image_size: tuple[float, float] | None,
    skeleton: Skeleton,
) -> np.ndarray:
    """The joints of :func:`far_outside`, with a warning when there are some; ``ValueError`` when they are more
    than :data:`MOSTLY_OUTSIDE` of the used joints (wrong units or image size)."""
    outside = far_outside(points, used, units, image_size)
    if not outside.any():
        return outside
    share = outside.sum() / max(int(used.sum()), 1)
    largest = float(np.abs(points[outside]).max())
    if share > MOSTLY_OUTSIDE:
        if units == "pixels":
            width, height = image_size
            raise ValueError(
                f"image_size: expected pixels of a {width:g}x{height:g} image, but {share:.0%} of the keypoints lie "
                f"more than {FAR_OUTSIDE:g} image size outside it (values up to {largest:.1f}): the image size or "
                "the units look wrong"
            )
        raise ValueError(
            f"inputs: expected normalised screen coordinates (x in [-1, 1]), but {share:.0%} of the keypoints lie "
            f"more than {FAR_OUTSIDE:g} image size outside the image (values up to {largest:.1f}); if they are "
            "pixels, pass image_size=(width, height) instead of normalized=True"
        )
    frame, joint = _first_index(outside)
    warnings.warn(
        f"inputs: {int(outside.sum())} joints lie more than {FAR_OUTSIDE:g} image size outside the image (first: "
        f"frame {frame}, {_joint_label(skeleton, joint)} at {points[frame, joint].tolist()} {units}); they were "
        "treated as missing",
        KeypointWarning,
        stacklevel=_stacklevel(),
    )
    return outside


def check_image_size_fits(points: np.ndarray, used: np.ndarray, image_size: tuple[float, float]) -> None:
    """Warn when pixel keypoints look normalised already, or reach beyond the image (its size looks too small).

    Args:
        points: ``(frames, joints, 2)`` pixels.
        used: ``(frames, joints)`` bool, the joints that are not missing.
        image_size: ``(width, height)`` the caller gave.
    """
    values = points[used]
    if values.size == 0:
        return
    width, height = image_size
    largest = float(np.abs(values).max())
    if largest <= PIXEL_THRESHOLD:
        warnings.warn(
            f"image_size=({width:g}, {height:g}) was given, but every keypoint lies within ±{PIXEL_THRESHOLD:g} "
            f"(largest |value| {largest:.3g}): they look like normalised screen coordinates already, and normalising "
            "them again puts the whole person in the image's corner. They were treated as pixels; pass "
            "normalized=True (and no image_size) if they are normalised",
            KeypointWarning,
            stacklevel=_stacklevel(),
        )
        return
    reach = np.quantile(values, EXTENT_QUANTILE, axis=0)
    for axis, (name, size) in enumerate((("x", width), ("y", height))):
        if reach[axis] > EXTENT_TOLERANCE * size:
            warnings.warn(
                f"image_size=({width:g}, {height:g}) looks too small: {1 - EXTENT_QUANTILE:.0%} of the keypoints lie "
                f"beyond {name}={reach[axis]:.1f}, more than {EXTENT_TOLERANCE:g} times the image "
                f"{'width' if axis == 0 else 'height'} {size:g}. They were normalised with the given image size; "
                "check it (width first) and that the keypoints belong to that image",
                KeypointWarning,
                stacklevel=_stacklevel(),
            )
            return


# --- Joint order ----------------------------------------------------------------------------------------------

# Bones of the plausibility check, by Human3.6M-17 joint names, and their typical lengths relative to the torso
# (pelvis -> thorax): the mean 3D bone lengths of Human3.6M subject S1, rounded. Left/right pairs come first.
_SIDED_BONES = (
    ("upper arm", ("shoulder", "elbow"), 0.58),
    ("forearm", ("elbow", "wrist"), 0.52),
    ("flank", ("hip", "shoulder"), 0.88),
    ("thigh", ("hip", "knee"), 0.92),
    ("shin", ("knee", "ankle"), 0.94),
)
_CENTRAL_BONES = (
    ("torso", ("pelvis", "thorax"), 1.0),
    ("hip width", ("left_hip", "right_hip"), 0.55),
    ("shoulder width", ("left_shoulder", "right_shoulder"), 0.57),
    ("head", ("thorax", "head"), 0.37),
)
_BONE_NAMES = tuple(name for name, _, _ in _SIDED_BONES for _ in range(2)) + tuple(n for n, _, _ in _CENTRAL_BONES)
_BONE_JOINTS = np.array(
    [
        (H36M_17.index(f"{side}_{a}"), H36M_17.index(f"{side}_{b}"))
        for _, (a, b), _ in _SIDED_BONES
        for side in ("left", "right")
    ]
    + [(H36M_17.index(a), H36M_17.index(b)) for _, (a, b), _ in _CENTRAL_BONES]
)
_LOG_TYPICAL = np.log([length for _, _, length in _SIDED_BONES for _ in range(2)] + [x for *_, x in _CENTRAL_BONES])
_LENGTH_QUANTILE = 0.9  # of a bone's 2D length over frames: close to its true length, foreshortening shortens


class SkeletonFit:
    """How human a sequence of Human3.6M-17 keypoints looks (see :func:`skeleton_implausibility`).

    Attributes:
        score: ``proportions + asymmetry``; ``nan`` when fewer than 3 bones (or no left/right pair) were seen.
        proportions: mean ``|log|`` ratio of the bones' lengths to human proportions (after the best common scale).
        asymmetry: mean ``|log|`` ratio of left to right limb lengths.
        worst_bone: ``(name, factor)``, the bone farthest from its human proportion.
        worst_pair: ``(name, factor)``, the most unequal left/right pair.
    """

    def __init__(self, log_lengths: np.ndarray):
        seen = np.isfinite(log_lengths)
        self.score = self.proportions = self.asymmetry = math.nan
        self.worst_bone = self.worst_pair = ("", 1.0)
        pairs = log_lengths[: 2 * len(_SIDED_BONES)].reshape(-1, 2)
        pair_seen = np.isfinite(pairs).all(axis=-1)
        if seen.sum() < 3 or not pair_seen.any():
            return
        deviation = np.abs(log_lengths[seen] - np.median(log_lengths[seen]))
        unequal = np.abs(pairs[pair_seen, 0] - pairs[pair_seen, 1])
        self.proportions, self.asymmetry = float(deviation.mean()), float(unequal.mean())
        self.score = self.proportions + self.asymmetry
        worst = int(np.argmax(deviation))
        self.worst_bone = (str(np.asarray(_BONE_NAMES)[seen][worst]), float(np.exp(deviation[worst])))
        pair_names = np.asarray([name for name, _, _ in _SIDED_BONES])[pair_seen]
        self.worst_pair = (str(pair_names[np.argmax(unequal)]), float(np.exp(unequal.max())))

    def describe(self) -> str:
        return (
            f"left/right limb lengths differ by {math.exp(self.asymmetry):.2f}x on average (most: "
            f"{self.worst_pair[0]} {self.worst_pair[1]:.2f}x) and bone lengths depart from human proportions by "
            f"{math.exp(self.proportions):.2f}x on average (most: {self.worst_bone[0]} {self.worst_bone[1]:.2f}x)"
        )


def skeleton_implausibility(poses: np.ndarray) -> SkeletonFit:
    """How far ``poses`` ``(frames, 17, 2 or 3)`` (Human3.6M-17 order, any units, NaN where missing) are from a
    human skeleton.

    Each bone's length is taken as its 90th percentile over the frames (foreshortening only shortens a 2D bone, so
    a high quantile is close to the true length). ``proportions`` is the mean ``|log|`` ratio of these lengths to
    human proportions, after dividing by the median ratio (the scale); ``asymmetry`` is the mean ``|log|`` ratio of
    the left to the right upper arm, forearm, flank, thigh and shin. Both are 0 for a perfect skeleton; on
    Human3.6M (ground-truth projections and Stacked-Hourglass detections, every sequence and camera) their sum
    stays below 0.45 over whole sequences, while the same keypoints declared in another joint order score 0.42 to
    1.2 (median 0.95).
    """
    poses = np.asarray(poses, dtype=np.float64)
    lengths = np.linalg.norm(poses[:, _BONE_JOINTS[:, 0]] - poses[:, _BONE_JOINTS[:, 1]], axis=-1)  # NaN if unseen
    seen = (lengths > 0).any(axis=0)  # a bone of length 0 throughout has no proportion
    typical = np.zeros(len(_BONE_NAMES))
    if seen.any():
        typical[seen] = np.nanquantile(lengths[:, seen], _LENGTH_QUANTILE, axis=0)
    log_lengths = np.full(len(_BONE_NAMES), np.nan)
    positive = typical > 0
    log_lengths[positive] = np.log(typical[positive]) - _LOG_TYPICAL[positive]
    return SkeletonFit(log_lengths)


def check_joint_order(points: np.ndarray, keypoint_format: str, candidates: Sequence[str] | None = None) -> None:
    """Warn when ``points`` do not look like a human skeleton in the ``keypoint_format`` joint order.

    Two rules on :func:`skeleton_implausibility` of the Human3.6M-17 conversion: another joint order with the same
    number of joints (``candidates``, default every known one) fits better by :data:`BETTER_ORDER_MARGIN` while the
    declared one scores above :data:`IMPLAUSIBLE_SKELETON` (say, Human3.6M keypoints declared ``"coco"``); or the
    declared order scores above :data:`UNLIKE_ANY_SKELETON`. On Human3.6M (ground-truth projections, Stacked-Hourglass
    detections) it warns on 0.6 % of single real frames, 0.15-0.4 % of 27-frame windows and none of the 243-frame
    windows or whole sequences; the same keypoints declared "coco" (Human3.6M order) or "mpii" (Human3.6M without
    the neck) warn in 96-100 % of the cases.

    Args:
        points: ``(frames, joints, 2 or 3)`` in the ``keypoint_format`` order, NaN where missing.
        keypoint_format: the declared joint order.
        candidates: the other joint orders to compare with.
    """
    num_joints = points.shape[-2]
    if candidates is None:
        candidates = [name for name, skeleton in SKELETONS.items() if skeleton.num_joints == num_joints]
    fits = {
        name: skeleton_implausibility(convert_keypoints(points, name)[0])
        for name in dict.fromkeys([keypoint_format, *candidates])
        if get_skeleton(name).num_joints == num_joints
    }
    declared = fits[keypoint_format]
    if not math.isfinite(declared.score) or declared.score <= IMPLAUSIBLE_SKELETON:
        return
    others = {name: fit.score for name, fit in fits.items() if name != keypoint_format and math.isfinite(fit.score)}
    best = min(others, key=others.get, default=None)
    if best is not None and declared.score - others[best] > BETTER_ORDER_MARGIN:
        verdict = (
            f"they fit the {best!r} joint order better (implausibility {others[best]:.2f} vs {declared.score:.2f})"
        )
    elif declared.score > UNLIKE_ANY_SKELETON:
        verdict = f"they do not look like a human skeleton (implausibility {declared.score:.2f})"
    else:
        return
    warnings.warn(
        f"keypoint_format={keypoint_format!r}: after conversion to Human3.6M-17, {declared.describe()}; {verdict}. "
        f"Check the joint order of the input; it was used as {keypoint_format!r}",
        KeypointWarning,
        stacklevel=_stacklevel(),
    )


def check_metric_scale(poses: np.ndarray, used: np.ndarray) -> None:
    """3D poses ``(frames, joints, 3)`` must be metres: ``ValueError`` when the body is larger than
    :data:`MAX_BODY_RADIUS`, a warning when smaller than :data:`MIN_BODY_RADIUS`.

    The body's size is the median over frames (with at least two used joints) of the largest distance of a used
    joint from the frame's mean joint, about 0.5-1 m for a person.
    """
    counted = used.sum(axis=-1) >= 2
    if not counted.any():
        return
    inside = used[counted][..., None]
    frames = np.where(inside, poses[counted], 0.0)
    centre = frames.sum(axis=1, keepdims=True) / inside.sum(axis=1, keepdims=True)
    distances = np.where(used[counted], np.linalg.norm(frames - centre, axis=-1), 0.0)
    radius = float(np.median(distances.max(axis=-1)))
    if radius > MAX_BODY_RADIUS:
        raise ValueError(
            f"inputs: expected 3D poses in metres (a body reaches about 0.5-1 m from its centre), got joints "
            f"{radius:.4g} from it (median over frames); convert millimetres (/ 1000) or centimetres (/ 100) to metres"
        )
    if radius < MIN_BODY_RADIUS:
        warnings.warn(
            f"inputs: the joints lie only {radius:.3g} from the body's centre (median over frames), expected about "
            "0.5-1 m: the poses do not look like metres. They were used as metres",
            KeypointWarning,
            stacklevel=_stacklevel(),
        )


def _stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the user's call, the first frame above ``mpm_hf`` and
    ``transformers``' pipeline machinery (the warning then says where the input came from)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("mpm_hf", "transformers")):
        frame, level = frame.f_back, level + 1
    return level
