"""Step functions: one batch of windows -> (loss, logged values), for each MPM training stage.

A batch is the dict that ``mpm_hf.data.windows.PoseWindows`` yields: ``keypoints_2d (B, T, J, 2)`` normalised
screen coordinates, ``poses_3d (B, T, J, 3)`` metres root-relative, ``valid (B, T, J)`` bool.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..masking import BODY_PARTS, resolve_joints, sample_tube_mask


@dataclass
class DetectorNoise:
    """Detector-like corruption of clean 2D keypoints, applied on the fly (vectorised, seeded by the step).

    Attributes:
        std: standard deviation of Gaussian jitter in normalised screen units (0.01 ~ 5 px on a 1000 px image).
        outlier_prob: probability that a joint gets a large error (``outlier_std``) instead, as detectors do on
            occluded limbs.
        outlier_std: standard deviation of those large errors.
        drop_prob: probability that a joint is missing in a frame (then fed as a masked joint).
        tube_drop_prob: probability that a window misses 1..``tube_drop_max_joints`` joints in *every* frame, as a
            detector that lacks a joint does (MPII has no neck/nose). Without it a model learns to fill a missing
            joint from neighbouring frames only, and fails when a joint is absent from the whole window.
        tube_drop_max_joints: the most joints a tube drop hides.
    """

    std: float = 0.0
    outlier_prob: float = 0.0
    outlier_std: float = 0.05
    drop_prob: float = 0.0
    tube_drop_prob: float = 0.0
    tube_drop_max_joints: int = 2

    @property
    def active(self) -> bool:
        return self.std > 0 or self.outlier_prob > 0 or self.drop_prob > 0 or self.tube_drop_prob > 0

    def __call__(
        self, keypoints: torch.Tensor, valid: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``keypoints (B, T, J, 2)``, ``valid (B, T, J)`` -> corrupted keypoints and the new valid flags."""
        if not self.active:
            return keypoints, valid
        device = keypoints.device
        noise = torch.randn(keypoints.shape, generator=generator, device=device) * self.std
        if self.outlier_prob > 0:
            outlier = torch.rand(valid.shape, generator=generator, device=device) < self.outlier_prob
            large = torch.randn(keypoints.shape, generator=generator, device=device) * self.outlier_std
            noise = torch.where(outlier[..., None], large, noise)
        if self.drop_prob > 0:
            dropped = torch.rand(valid.shape, generator=generator, device=device) < self.drop_prob
            valid = valid & ~dropped
        if self.tube_drop_prob > 0:
            batch_size, _, num_joints = valid.shape
            chosen = torch.rand(batch_size, generator=generator, device=device) < self.tube_drop_prob
            counts = torch.randint(1, self.tube_drop_max_joints + 1, (batch_size,), generator=generator, device=device)
            ranks = torch.rand(batch_size, num_joints, generator=generator, device=device).argsort(-1).argsort(-1)
            hidden = (ranks < counts[:, None]) & chosen[:, None]
            valid = valid & ~hidden[:, None, :]
        return keypoints + noise.to(keypoints.dtype), valid


def _missing(batch: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    """Joints without a usable value: non-finite coordinates, and for the 2D the detections flagged invalid."""
    poses = batch[key]
    missing = ~torch.isfinite(poses).all(dim=-1)
    if "valid" in batch and key == "keypoints_2d":
        missing = missing | ~batch["valid"].bool()
    return missing


class PretrainStep:
    """Stage I: masked 2D modelling + masked 3D modelling (+ masked 2D->3D lifting with ``masked_lift``).

    ``unpaired`` (the release's choice) draws the 3D clip of each batch item from another window of the batch, so
    the 2D and 3D branches never see the same motion in one item.
    """

    def __init__(self, noise: DetectorNoise | None = None, masked_lift: bool = False, unpaired: bool = True):
        self.noise = noise or DetectorNoise()
        self.masked_lift = masked_lift
        self.unpaired = unpaired

    def __call__(self, model, batch, generator):
        clean, poses_3d = batch["keypoints_2d"], batch["poses_3d"]
        missing = _missing(batch, "keypoints_2d")
        keypoints, valid = self.noise(clean, ~missing, generator)
        targets_3d = poses_3d
        if self.unpaired:
            high = max(poses_3d.shape[0], 2)
            shift = int(torch.randint(1, high, (1,), generator=generator, device=generator.device))
            poses_3d = torch.roll(poses_3d, shifts=shift, dims=0)
        spatial_2d, temporal_2d = _sample_stage_one_masks(model, keypoints, generator)
        output = model(
            keypoints_2d=torch.where(valid[..., None], keypoints, torch.zeros_like(keypoints)),
            poses_3d=poses_3d,
            lift_labels=targets_3d if self.masked_lift else None,
            # the clean 2D is the target: dropped joints are reconstructed, missing detections are not scored
            labels_2d=torch.where(missing[..., None], torch.zeros_like(clean), clean),
            valid_2d=~missing,
            spatial_mask_2d=spatial_2d | ~valid,
            temporal_mask_2d=temporal_2d,
            generator=generator,
        )
        logs = {"loss_2d": output.loss_2d, "loss_3d": output.loss_3d}
        if output.loss_lift is not None:
            logs["loss_lift"] = output.loss_lift
        return output.loss, logs


def _sample_stage_one_masks(model, poses: torch.Tensor, generator: torch.Generator):
    unwrapped = model.module if hasattr(model, "module") else model
    return unwrapped._sample_masks(poses, generator)


class LiftingStep:
    """Stage II lifting: centre-frame + all-frame MPJPE; missing / dropped joints go in as masked joints."""

    def __init__(self, noise: DetectorNoise | None = None):
        self.noise = noise or DetectorNoise()

    def __call__(self, model, batch, generator):
        keypoints = batch["keypoints_2d"]
        missing = _missing(batch, "keypoints_2d")
        keypoints, valid = self.noise(keypoints, ~missing, generator)
        keypoints = torch.where(valid[..., None], keypoints, torch.zeros_like(keypoints))
        output = model(poses=keypoints, spatial_mask=~valid, labels=batch["poses_3d"])
        return output.loss, {"loss_centre": output.loss_centre, "loss_sequence": output.loss_sequence}


class CompletionStep:
    """Stage II completion: tube masks (the same joints hidden in every frame) on 2D (``modality="2d"``, partial
    2D->3D) or 3D input (``"3d"``, partial 3D->3D); ``occluded`` names body parts to always hide instead of random
    joints."""

    def __init__(self, modality: str = "3d", num_masked: int = 5, occluded: tuple[str, ...] = ()):
        if modality not in ("2d", "3d"):
            raise ValueError(f"modality: expected '2d' or '3d', got {modality!r}")
        unknown = [part for part in occluded if part not in BODY_PARTS]
        if unknown:
            raise ValueError(f"occluded: expected body parts among {sorted(BODY_PARTS)}, got {unknown}")
        self.modality = modality
        self.num_masked = num_masked
        self.occluded = tuple(occluded)

    def __call__(self, model, batch, generator):
        key = "keypoints_2d" if self.modality == "2d" else "poses_3d"
        poses = batch[key]
        batch_size, num_frames, num_joints, _ = poses.shape
        if self.occluded:
            choice = torch.randint(len(self.occluded), (batch_size,), generator=generator, device=poses.device)
            mask = torch.zeros(batch_size, num_frames, num_joints, dtype=torch.bool, device=poses.device)
            for index, part in enumerate(self.occluded):
                rows = choice == index
                mask[rows[:, None, None].expand_as(mask) & _part_columns(part, mask)] = True
        else:
            mask = sample_tube_mask(batch_size, num_frames, num_joints, self.num_masked, generator, poses.device)
        mask = mask | _missing(batch, key)
        poses = torch.where(mask[..., None], torch.zeros_like(poses), poses)
        output = model(poses=poses, spatial_mask=mask, labels=batch["poses_3d"])
        return output.loss, {}


def _part_columns(part: str, like: torch.Tensor) -> torch.Tensor:
    columns = torch.zeros(like.shape[-1], dtype=torch.bool, device=like.device)
    columns[resolve_joints(part, like.shape[-1])] = True
    return columns.expand_as(like)
