"""Mask samplers for masked pose modeling and named body parts for pose completion.

Two kinds of mask, both boolean with ``True`` meaning *masked*:

- ``spatial_mask (batch, frames, joints)``: the joint's coordinates are replaced by the learned spatial mask token
  before the encoder (also how missing detections are fed at inference).
- ``temporal_mask (batch, frames)``: the frame is dropped from the encoder (MAE style) and comes back as the learned
  temporal mask token before the decoder. Every row masks the same number of frames.

All samplers are vectorised and take an optional ``torch.Generator`` so that a seeded run is reproducible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from .keypoints import model_skeleton

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


def _rank_mask(scores: torch.Tensor, num_masked: int) -> torch.Tensor:
    """``True`` at the ``num_masked`` smallest scores of the last axis (exactly that many per row)."""
    if num_masked <= 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    ranks = scores.argsort(dim=-1).argsort(dim=-1)
    return ranks < num_masked


def sample_spatial_mask(
    batch_size: int,
    num_frames: int,
    num_joints: int,
    num_masked: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Random joints per frame: ``(batch, frames, joints)`` with exactly ``num_masked`` joints masked per frame."""
    if not 0 <= num_masked < num_joints:
        raise ValueError(f"num_masked: expected an integer in [0, {num_joints}), got {num_masked}")
    scores = torch.rand(batch_size, num_frames, num_joints, generator=generator, device=device)
    return _rank_mask(scores, num_masked)


def sample_tube_mask(
    batch_size: int,
    num_frames: int,
    num_joints: int,
    num_masked: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The same random joints in every frame of a window: ``(batch, frames, joints)``."""
    if not 0 <= num_masked < num_joints:
        raise ValueError(f"num_masked: expected an integer in [0, {num_joints}), got {num_masked}")
    scores = torch.rand(batch_size, 1, num_joints, generator=generator, device=device)
    return _rank_mask(scores, num_masked).expand(batch_size, num_frames, num_joints)


def sample_temporal_mask(
    batch_size: int,
    num_frames: int,
    num_masked: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Random whole frames: ``(batch, frames)`` with exactly ``num_masked`` frames masked per row."""
    if not 0 <= num_masked < num_frames:
        raise ValueError(f"num_masked: expected an integer in [0, {num_frames}), got {num_masked}")
    scores = torch.rand(batch_size, num_frames, generator=generator, device=device)
    return _rank_mask(scores, num_masked)


def sample_masks(
    strategy: str,
    batch_size: int,
    num_frames: int,
    num_joints: int,
    num_masked_joints: int,
    num_masked_frames: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spatial_mask (B, T, J), temporal_mask (B, T))`` for a stage-I strategy.

    ``spatio_temporal``: random joints per frame and random frames; ``spatial``: tube masking (the same joints in
    every frame, no frames dropped); ``temporal``: whole frames only.
    """
    no_joints = torch.zeros(batch_size, num_frames, num_joints, dtype=torch.bool, device=device)
    no_frames = torch.zeros(batch_size, num_frames, dtype=torch.bool, device=device)
    if strategy == "spatio_temporal":
        spatial = sample_spatial_mask(batch_size, num_frames, num_joints, num_masked_joints, generator, device)
        temporal = sample_temporal_mask(batch_size, num_frames, num_masked_frames, generator, device)
        return spatial, temporal
    if strategy == "spatial":
        return sample_tube_mask(batch_size, num_frames, num_joints, num_masked_joints, generator, device), no_frames
    if strategy == "temporal":
        return no_joints, sample_temporal_mask(batch_size, num_frames, num_masked_frames, generator, device)
    raise ValueError(f"strategy: expected one of ('spatio_temporal', 'spatial', 'temporal'), got {strategy!r}")


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
