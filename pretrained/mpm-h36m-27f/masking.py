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

# Human3.6M-17 joint indices of the body parts the paper occludes in its completion tables.
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "right_leg": (1, 2, 3),
    "left_leg": (4, 5, 6),
    "left_arm": (11, 12, 13),
    "right_arm": (14, 15, 16),
    "legs": (1, 2, 3, 4, 5, 6),
    "arms": (11, 12, 13, 14, 15, 16),
    "left_arm_left_leg": (4, 5, 6, 11, 12, 13),
    "right_arm_right_leg": (1, 2, 3, 14, 15, 16),
    "torso": (7, 8),
    "head": (9, 10),
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
    """Joint indices from body-part names (see ``BODY_PARTS``) and/or joint indices, sorted and unique."""
    if isinstance(parts, (str, int)):
        parts = [parts]
    joints: set[int] = set()
    for part in parts:
        if isinstance(part, str):
            if part not in BODY_PARTS:
                raise ValueError(f"occluded body part: expected one of {sorted(BODY_PARTS)}, got {part!r}")
            joints.update(BODY_PARTS[part])
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
