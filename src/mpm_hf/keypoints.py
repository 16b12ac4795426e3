"""Skeletons (joint orders) and conversions between keypoint formats.

This module is the one place that knows joint orders. Every corpus loader, the flip augmentation and
the visualisation code ask it for joint names, parents and left/right pairs instead of hard-coding
indices.

The model works in the Human3.6M 17-joint order (:data:`H36M_17`)::

     0 pelvis        5 left_knee    10 head (top)       15 right_elbow
     1 right_hip     6 left_ankle   11 left_shoulder    16 right_wrist
     2 right_knee    7 spine        12 left_elbow
     3 right_ankle   8 thorax       13 left_wrist
     4 left_hip      9 neck_nose    14 right_shoulder

:func:`convert_keypoints` maps detector outputs (COCO-17, Halpe-26, MPII-16, OpenPose BODY_25 and COCO-18,
MediaPipe Pose-33) and other corpora (Human3.6M-32, MPI-INF-3DHP) onto it; :func:`flip_poses` mirrors poses for
flip augmentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "Skeleton",
    "H36M_17",
    "H36M_32",
    "MPII_16",
    "COCO_17",
    "HALPE_26",
    "BODY_25",
    "COCO_18",
    "MEDIAPIPE_33",
    "MPI_INF_3DHP_17",
    "MPI_INF_3DHP_16",
    "model_skeleton",
    "SKELETONS",
    "H36M_32_TO_17",
    "get_skeleton",
    "convert_keypoints",
    "flip_poses",
]


@dataclass(frozen=True)
class Skeleton:
    """A joint order: names, kinematic tree and left/right mirror pairs.

    Args:
        name: Short name, the key of :data:`SKELETONS`.
        joint_names: One name per joint, in storage order.
        parents: Parent index of each joint, ``-1`` for the root.
        left_joints: Indices of the joints on the subject's left side.
        right_joints: Indices of their mirrors: ``right_joints[i]`` mirrors ``left_joints[i]``.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    left_joints: tuple[int, ...]
    right_joints: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(set(self.joint_names)) != n:
            raise ValueError(f"Skeleton {self.name!r}: joint names are not unique")
        if len(self.parents) != n:
            raise ValueError(f"Skeleton {self.name!r}: {len(self.parents)} parents for {n} joints")
        if any(p < -1 or p >= n or p == i for i, p in enumerate(self.parents)):
            raise ValueError(f"Skeleton {self.name!r}: parent indices must be -1 or another joint")
        if len(self.left_joints) != len(self.right_joints):
            raise ValueError(
                f"Skeleton {self.name!r}: {len(self.left_joints)} left joints but "
                f"{len(self.right_joints)} right joints"
            )
        sided = self.left_joints + self.right_joints
        if len(set(sided)) != len(sided) or any(not 0 <= j < n for j in sided):
            raise ValueError(f"Skeleton {self.name!r}: left/right joints must be distinct valid indices")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def flip_permutation(self) -> tuple[int, ...]:
        """``perm`` such that ``poses[..., perm, :]`` swaps every left joint with its right mirror."""
        perm = list(range(self.num_joints))
        for left, right in zip(self.left_joints, self.right_joints, strict=True):
            perm[left], perm[right] = right, left
        return tuple(perm)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """``(child, parent)`` pairs of the kinematic tree, in joint order."""
        return tuple((child, parent) for child, parent in enumerate(self.parents) if parent >= 0)

    def index(self, joint_name: str) -> int:
        """Index of ``joint_name``; ``ValueError`` listing the joints when it is unknown."""
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise ValueError(
                f"Skeleton {self.name!r} has no joint {joint_name!r}; joints: {list(self.joint_names)}"
            ) from None


H36M_17 = Skeleton(
    name="h36m",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "spine", "thorax", "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist",
        "right_shoulder", "right_elbow", "right_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left_joints=(4, 5, 6, 11, 12, 13),
    right_joints=(1, 2, 3, 14, 15, 16),
)  # fmt: skip

# The full motion-capture skeleton of Human3.6M as stored in VideoPose3D's data_3d_h36m.npz.
# "*_end" joints are the mocap "Site" end effectors.
H36M_32 = Skeleton(
    name="h36m32",
    joint_names=(
        "pelvis", "right_hip", "right_knee", "right_ankle", "right_toe", "right_toe_end",
        "left_hip", "left_knee", "left_ankle", "left_toe", "left_toe_end",
        "spine_lower", "spine", "thorax", "neck_nose", "head",
        "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_thumb", "left_thumb_end",
        "left_hand", "left_hand_end",
        "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_thumb",
        "right_thumb_end", "right_hand", "right_hand_end",
    ),
    parents=(
        -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22,
        12, 24, 25, 26, 27, 28, 27, 30,
    ),
    left_joints=(6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23),
    right_joints=(1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31),
)  # fmt: skip

#: Indices of the 17 used joints in the 32-joint Human3.6M skeleton, in H36M-17 order.
H36M_32_TO_17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

# MPII order, as written by Stacked-Hourglass detectors (VideoPose3D's data_2d_h36m_sh_*.npz).
MPII_16 = Skeleton(
    name="mpii",
    joint_names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    ),
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14),
    left_joints=(3, 4, 5, 13, 14, 15),
    right_joints=(2, 1, 0, 12, 11, 10),
)  # fmt: skip

COCO_17 = Skeleton(
    name="coco",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    left_joints=(1, 3, 5, 7, 9, 11, 13, 15),
    right_joints=(2, 4, 6, 8, 10, 12, 14, 16),
)  # fmt: skip

# Halpe full-body 26 (AlphaPose): COCO-17 followed by head top, neck, mid-hip and six foot points.
HALPE_26 = Skeleton(
    name="halpe",
    joint_names=COCO_17.joint_names + (
        "head_top", "neck", "mid_hip",
        "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
    ),
    parents=(
        18, 0, 0, 1, 2, 18, 18, 5, 6, 7, 8, 19, 19, 11, 12, 13, 14,
        18, 19, -1, 15, 16, 15, 16, 15, 16,
    ),
    left_joints=COCO_17.left_joints + (20, 22, 24),
    right_joints=COCO_17.right_joints + (21, 23, 25),
)  # fmt: skip

# OpenPose BODY_25 (``--model_pose BODY_25``, OpenPose's default): nose, neck, arms, mid-hip, legs, face, feet.
BODY_25 = Skeleton(
    name="body25",
    joint_names=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "mid_hip",
        "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
        "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    ),
    parents=(1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16, 14, 14, 14, 11, 11, 11),
    left_joints=(5, 6, 7, 12, 13, 14, 16, 18, 19, 20, 21),
    right_joints=(2, 3, 4, 9, 10, 11, 15, 17, 22, 23, 24),
)  # fmt: skip

# OpenPose COCO-18 (``--model_pose COCO``): BODY_25 without mid-hip and feet, and ordered differently.
COCO_18 = Skeleton(
    name="coco18",
    joint_names=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    parents=(1, -1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
    left_joints=(5, 6, 7, 11, 12, 13, 15, 17),
    right_joints=(2, 3, 4, 8, 9, 10, 14, 16),
)  # fmt: skip

# MediaPipe Pose (BlazePose) 33 landmarks. MediaPipe's "mouth_left"/"mouth_right" are named "left_mouth"/
# "right_mouth" here so that every mirror pair reads left_*/right_*.
MEDIAPIPE_33 = Skeleton(
    name="mediapipe33",
    joint_names=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
        "left_ear", "right_ear", "left_mouth", "right_mouth",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
        "left_heel", "right_heel", "left_foot_index", "right_foot_index",
    ),
    parents=(
        -1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0,
        0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
        11, 12, 23, 24, 25, 26, 27, 28, 27, 28,
    ),
    left_joints=(1, 2, 3, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31),
    right_joints=(4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32),
)  # fmt: skip

# The 17-joint annotation of the MPI-INF-3DHP test set (``univ_annot3``), the order the P-STMO /
# MotionBERT pre-processed 3DHP files use. Every joint has an H36M-17 counterpart (see the
# conversion table in convert_keypoints): "head" is the head centre (~ H36M neck/nose) and
# "head_top" the H36M head; the root (pelvis) is joint 14.
MPI_INF_3DHP_17 = Skeleton(
    name="3dhp",
    joint_names=(
        "head_top", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle",
        "left_hip", "left_knee", "left_ankle", "pelvis", "spine", "head",
    ),
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    left_joints=(5, 6, 7, 11, 12, 13),
    right_joints=(2, 3, 4, 8, 9, 10),
)  # fmt: skip

# H36M-17 without the neck/nose joint (16-joint models trained for 3DHP / AMASS).
MPI_INF_3DHP_16 = Skeleton(
    name="3dhp16",
    joint_names=H36M_17.joint_names[:9] + H36M_17.joint_names[10:],
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14),
    left_joints=(4, 5, 6, 10, 11, 12),
    right_joints=(1, 2, 3, 13, 14, 15),
)  # fmt: skip

SKELETONS: dict[str, Skeleton] = {
    s.name: s
    for s in (
        H36M_17, H36M_32, MPII_16, COCO_17, HALPE_26, BODY_25, COCO_18, MEDIAPIPE_33, MPI_INF_3DHP_17,
        MPI_INF_3DHP_16,
    )
}  # fmt: skip


def model_skeleton(num_joints: int) -> Skeleton:
    """The joint order of an MPM model with ``num_joints`` joints: Human3.6M-17, or ``3dhp16`` (Human3.6M-17
    without neck_nose, the 16-joint models of MPI-INF-3DHP / AMASS)."""
    if num_joints == 17:
        return H36M_17
    if num_joints == 16:
        return MPI_INF_3DHP_16
    raise ValueError(f"num_joints: expected 17 (Human3.6M) or 16 (3DHP / AMASS) for a joint order, got {num_joints}")


def get_skeleton(name: str | Skeleton) -> Skeleton:
    """The :class:`Skeleton` called ``name`` (a key of :data:`SKELETONS`); a Skeleton is returned as is."""
    if isinstance(name, Skeleton):
        return name
    try:
        return SKELETONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown skeleton {name!r}; known skeletons: {sorted(SKELETONS)}") from None


# --- Conversion rules to H36M-17 -------------------------------------------------------------------
# One rule per H36M-17 joint, built from these kinds:
#   ("copy", i)          source joint i
#   ("mean", (i, j, ..)) mean of the source joints (valid only if all are valid)
#   ("spine",)           midpoint of the converted pelvis and thorax
#   ("face_head", (nose, left_eye, right_eye, left_ear, right_ear))
#                        head top estimated from the face as the field does for COCO (see _face_head)
#   ("missing",)         the source has no such joint: NaN, invalid
_COPY_FROM_32 = tuple(("copy", i) for i in H36M_32_TO_17)
_LIMBS = (  # H36M-17 joints that every detector format has under the same name
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)  # fmt: skip


def _detector_rules(skeleton: Skeleton) -> tuple[tuple, ...]:
    """H36M-17 rules for a detector format, by joint name: limbs copied, pelvis = mid-hips, thorax =
    mid-shoulders, neck/nose = nose, head = the head top where the format has one, else the face estimate."""
    index = skeleton.index
    rules: list[tuple] = [("missing",)] * 17
    for name in _LIMBS:
        rules[H36M_17.index(name)] = ("copy", index(name))
    rules[0] = ("mean", (index("left_hip"), index("right_hip")))
    rules[7] = ("spine",)
    rules[8] = ("mean", (index("left_shoulder"), index("right_shoulder")))
    rules[9] = ("copy", index("nose"))
    if "head_top" in skeleton.joint_names:
        rules[10] = ("copy", index("head_top"))
    else:
        face = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
        rules[10] = ("face_head", tuple(index(name) for name in face))
    return tuple(rules)


_TO_H36M_RULES: dict[str, tuple[tuple, ...]] = {
    "h36m": tuple(("copy", i) for i in range(17)),
    "h36m32": _COPY_FROM_32,
    "mpii": (
        ("mean", (2, 3)), ("copy", 2), ("copy", 1), ("copy", 0), ("copy", 3), ("copy", 4), ("copy", 5),
        ("spine",), ("mean", (12, 13)), ("missing",), ("copy", 9),
        ("copy", 13), ("copy", 14), ("copy", 15), ("copy", 12), ("copy", 11), ("copy", 10),
    ),
    "coco": _detector_rules(COCO_17),
    "halpe": _detector_rules(HALPE_26),
    "body25": _detector_rules(BODY_25),
    "coco18": _detector_rules(COCO_18),
    "mediapipe33": _detector_rules(MEDIAPIPE_33),
    "3dhp": tuple(("copy", i) for i in (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)),
    "3dhp16": tuple(("copy", i) for i in range(9)) + (("missing",),) + tuple(
        ("copy", i) for i in range(9, 16)
    ),
}  # fmt: skip


def _is_valid_source(keypoints: np.ndarray, confidence: np.ndarray | None, threshold: float) -> np.ndarray:
    valid = np.isfinite(keypoints).all(axis=-1)
    if confidence is not None:
        valid &= np.asarray(confidence) > threshold
    return valid


def _apply_rules(kp: np.ndarray, ok: np.ndarray, rules: Sequence[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Apply H36M-17 conversion ``rules`` to source points ``kp`` (..., J, C) with validity ``ok``."""
    out = np.full(kp.shape[:-2] + (len(rules), kp.shape[-1]), np.nan, dtype=np.float32)
    valid = np.zeros(kp.shape[:-2] + (len(rules),), dtype=bool)
    deferred = []
    for j, rule in enumerate(rules):
        kind = rule[0]
        if kind == "copy":
            out[..., j, :] = kp[..., rule[1], :]
            valid[..., j] = ok[..., rule[1]]
        elif kind == "mean":
            out[..., j, :] = kp[..., list(rule[1]), :].mean(axis=-2)
            valid[..., j] = ok[..., list(rule[1])].all(axis=-1)
        elif kind == "face_head":
            out[..., j, :], valid[..., j] = _face_head(kp, ok, *rule[1])
        elif kind == "spine":
            deferred.append(j)
        elif kind != "missing":
            raise AssertionError(f"unknown conversion rule {rule}")
    for j in deferred:  # the spine depends on the already converted pelvis (0) and thorax (8)
        out[..., j, :] = 0.5 * (out[..., 0, :] + out[..., 8, :])
        valid[..., j] = valid[..., 0] & valid[..., 8]
    out[~valid] = np.nan
    return out, valid


def _face_head(
    kp: np.ndarray, ok: np.ndarray, nose: int, left_eye: int, right_eye: int, left_ear: int, right_ear: int
) -> tuple[np.ndarray, np.ndarray]:
    """Head top from face points, the estimate VideoPose3D/MHFormer in-the-wild demos use for COCO.

    x = mean x of the (valid) eyes and ears; every other coordinate = 2 * mid-eyes - nose, i.e. the
    nose reflected through the eyes (in image coordinates: as far above the eyes as the nose is below).
    Needs the nose and both eyes; the ears only refine x. Arguments after ``ok`` are joint indices of the source.
    """
    eyes, face = [left_eye, right_eye], [left_eye, right_eye, left_ear, right_ear]
    head = 2.0 * kp[..., eyes, :].mean(axis=-2) - kp[..., nose, :]
    face_ok = ok[..., face]
    face_x = np.where(face_ok, kp[..., face, 0], 0.0).sum(axis=-1) / np.maximum(face_ok.sum(axis=-1), 1)
    head[..., 0] = face_x
    return head, ok[..., nose] & ok[..., left_eye] & ok[..., right_eye]


def convert_keypoints(
    keypoints: Any,
    source: str | Skeleton,
    target: str | Skeleton = "h36m",
    confidence: Any = None,
    confidence_threshold: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Convert keypoints from the ``source`` joint order to the ``target`` one.

    A source joint is *invalid* when any of its coordinates is NaN/inf or, when ``confidence``
    (shape ``(..., J_src)``) is given, when its confidence is not above ``confidence_threshold``.
    A target joint derived from invalid source joints, or that the source cannot provide, is NaN
    and marked invalid. Units are kept (pixels, normalised screen coordinates or metres).

    Rules to H36M-17 (``target="h36m"``); "mid(a, b)" is the mean of a and b:

    ==============  ===========  ===================  ===================  =================  ===========
    H36M-17 joint   H36M-32      MPII-16              COCO-17, BODY_25,    Halpe-26           3DHP-17
                                                      COCO-18, MediaPipe
    ==============  ===========  ===================  ===================  =================  ===========
    pelvis          0            mid(hips)            mid(hips)            mid(hips)          pelvis
    hips/knees/     1,2,3,       same joints          same joints          same joints        same joints
    ankles          6,7,8
    spine           12           mid(pelvis, thorax)  mid(pelvis, thorax)  mid(pelvis,        spine
                                                                           thorax)
    thorax          13           mid(shoulders)       mid(shoulders)       mid(shoulders)     neck
    neck_nose       14           missing              nose                 nose               head
    head            15           head_top             face estimate (*)    head_top           head_top
    shoulders/      17,18,19,    same joints          same joints          same joints        same joints
    elbows/wrists   25,26,27
    ==============  ===========  ===================  ===================  =================  ===========

    (*) COCO-17, OpenPose BODY_25 / COCO-18 and MediaPipe Pose-33 have no head top: x = mean x of
    the eyes and ears, the other coordinates = 2 * mid(eyes) - nose (the nose reflected through the
    eyes), as in the VideoPose3D/MHFormer in-the-wild demos; MediaPipe's eyes are its eye centres
    (2, 5), its ears 7, 8. "3dhp16" is H36M-17 without neck_nose (missing after conversion).

    The mid-hip/mid-shoulder rules are used even where the source has its own pelvis/thorax/neck
    point (MPII, Halpe, BODY_25's mid_hip and neck, COCO-18's neck), so that every detector format
    is treated alike. On Human3.6M S9 with the Stacked-Hourglass MPII detections they are also
    slightly closer to the ground truth than MPII's own pelvis and thorax (10.4 vs 10.6 px and
    11.3 vs 11.6 px on average).

    Other targets: the source is converted to H36M-17 first, then every target joint whose own
    H36M-17 rule is a plain copy is taken from there (e.g. ``"3dhp16"``, ``"3dhp"``, the 17 used
    joints of ``"h36m32"``, or the limbs of ``"mpii"``); the others are missing.

    Args:
        keypoints: ``(..., J_src, C)`` array-like, ``C`` = 2 or 3.
        source: Source skeleton name or :class:`Skeleton`.
        target: Target skeleton name or :class:`Skeleton`.
        confidence: Optional ``(..., J_src)`` detector scores.
        confidence_threshold: Scores ``<=`` this make a joint invalid.

    Returns:
        ``(converted, valid)``: float32 ``(..., J_tgt, C)`` with NaN at invalid joints, and bool
        ``(..., J_tgt)``.
    """
    src, tgt = get_skeleton(source), get_skeleton(target)
    if isinstance(keypoints, torch.Tensor):
        keypoints = keypoints.detach().cpu().numpy()
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.ndim < 2 or kp.shape[-1] not in (2, 3):
        raise ValueError(f"keypoints must have shape (..., J, 2 or 3), got {kp.shape}")
    if kp.shape[-2] != src.num_joints:
        raise ValueError(
            f"keypoints have {kp.shape[-2]} joints but skeleton {src.name!r} has {src.num_joints}"
        )
    if confidence is not None:
        if isinstance(confidence, torch.Tensor):
            confidence = confidence.detach().cpu().numpy()
        confidence = np.asarray(confidence)
        if confidence.shape != kp.shape[:-1]:
            raise ValueError(f"confidence must have shape {kp.shape[:-1]}, got {confidence.shape}")
    ok = _is_valid_source(kp, confidence, confidence_threshold)
    if src.name not in _TO_H36M_RULES or tgt.name not in _TO_H36M_RULES:
        raise ValueError(f"No conversion rules for skeletons {src.name!r} -> {tgt.name!r}")

    if src.name == tgt.name:
        out = np.where(ok[..., None], kp, np.nan).astype(np.float32)
        return out, ok
    h36m, h36m_valid = _apply_rules(kp, ok, _TO_H36M_RULES[src.name])
    if tgt.name == "h36m":
        return h36m, h36m_valid
    out = np.full(kp.shape[:-2] + (tgt.num_joints, kp.shape[-1]), np.nan, dtype=np.float32)
    valid = np.zeros(kp.shape[:-2] + (tgt.num_joints,), dtype=bool)
    for h36m_index, rule in enumerate(_TO_H36M_RULES[tgt.name]):
        if rule[0] == "copy":
            out[..., rule[1], :] = h36m[..., h36m_index, :]
            valid[..., rule[1]] = h36m_valid[..., h36m_index]
    return out, valid


def flip_poses(poses: Any, skeleton: str | Skeleton = "h36m") -> Any:
    """Mirror poses: negate x (coordinate 0) and swap every left joint with its right mirror.

    Valid for 2D normalised screen coordinates (x is centred on the image) and 3D camera
    coordinates (metres). Returns a new array of the same type (numpy or torch); flipping twice
    gives the input back.

    Args:
        poses: ``(..., J, C)`` numpy array or torch tensor.
        skeleton: Joint order of ``poses``.
    """
    skel = get_skeleton(skeleton)
    if poses.shape[-2] != skel.num_joints:
        raise ValueError(
            f"poses have {poses.shape[-2]} joints but skeleton {skel.name!r} has {skel.num_joints}"
        )
    perm = list(skel.flip_permutation)
    if isinstance(poses, torch.Tensor):
        flipped = poses[..., perm, :].clone()
    else:
        flipped = np.asarray(poses)[..., perm, :].copy()
    flipped[..., 0] = -flipped[..., 0]
    return flipped
