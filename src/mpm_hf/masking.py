"""Masks for MPM: named body parts for pose completion, and the stage-I mask samplers.

Two kinds of mask, both boolean with ``True`` meaning *masked*:

- ``spatial_mask (batch, frames, joints)``: the joint's coordinates are replaced by the learned spatial mask token
  before the encoder (also how missing detections and occluded body parts are fed at inference).
- ``temporal_mask (batch, frames)``: the frame is dropped from the encoder (MAE style) and comes back as the learned
  temporal mask token before the decoder. Every row masks the same number of frames.

The model takes masks as tensors; body-part names (``"left_arm"``, ...) become joint indices here, through the joint
order of the model (``keypoints.model_skeleton``). The samplers (``sample_masks``, ``sample_spatial_mask``,
``sample_tube_mask``, ``sample_temporal_mask``) are defined with the model in ``modeling_mpm``, which draws stage-I
masks itself, so that a saved model folder needs no other file; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from .keypoints import model_skeleton
from .modeling_mpm import sample_masks, sample_spatial_mask, sample_temporal_mask, sample_tube_mask

__all__ = [
    "BODY_PARTS",
    "body_part_mask",
    "resolve_joints",
    "sample_masks",
    "sample_spatial_mask",
    "sample_temporal_mask",
    "sample_tube_mask",
]

# The body parts the paper occludes in its completion tables, by joint name (Human3.6M-17 names); each model's
# joint order (``keypoints.model_skeleton``) turns them into indices.
_LEFT_ARM = ("left_shoulder", "left_elbow", "left_wrist")
_RIGHT_ARM = ("right_shoulder", "right_elbow", "right_wrist")
_LEFT_LEG = ("left_hip", "left_knee", "left_ankle")
_RIGHT_LEG = ("right_hip", "right_knee", "right_ankle")
BODY_PARTS: dict[str, tuple[str, ...]] = {
    "right_leg": _RIGHT_LEG,
    "left_leg": _LEFT_LEG,
    "left_arm": _LEFT_ARM,
    "right_arm": _RIGHT_ARM,
    "legs": _RIGHT_LEG + _LEFT_LEG,
    "arms": _LEFT_ARM + _RIGHT_ARM,
    "left_arm_left_leg": _LEFT_LEG + _LEFT_ARM,
    "right_arm_right_leg": _RIGHT_LEG + _RIGHT_ARM,
    "torso": ("spine", "thorax"),
    "head": ("neck_nose", "head"),
}


def resolve_joints(parts: str | int | Iterable[str | int], num_joints: int = 17) -> list[int]:
    """Joint indices, sorted and unique, from body-part names (see ``BODY_PARTS``) and/or joint indices.

    Names resolve through the joint order of a ``num_joints``-joint model (``keypoints.model_skeleton``: 17 ->
    Human3.6M, 16 -> Human3.6M without neck_nose, where ``"head"`` is the head joint alone).
    """
    if isinstance(parts, (str, int)):
        parts = [parts]
    joints: set[int] = set()
    for part in parts:
        if isinstance(part, str):
            if part not in BODY_PARTS:
                raise ValueError(f"occluded body part: expected one of {sorted(BODY_PARTS)}, got {part!r}")
            names = model_skeleton(num_joints).joint_names
            joints.update(names.index(name) for name in BODY_PARTS[part] if name in names)
        else:
            index = int(part)
            if not 0 <= index < num_joints:
                raise ValueError(f"occluded joint index: expected an integer in [0, {num_joints}), got {index}")
            joints.add(index)
    return sorted(joints)


def body_part_mask(
    parts: str | int | Sequence[str | int],
    batch_size: int,
    num_frames: int,
    num_joints: int = 17,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Tube mask ``(batch, frames, joints)`` hiding named body parts and/or joint indices in every frame."""
    mask = torch.zeros(batch_size, num_frames, num_joints, dtype=torch.bool, device=device)
    mask[..., resolve_joints(parts, num_joints)] = True
    return mask
