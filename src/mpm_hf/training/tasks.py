"""Step functions: one batch of windows -> (loss, logged values), for each MPM training stage.

A batch is the dict that ``mpm_hf.data.windows.PoseWindows`` yields: ``keypoints_2d (B, T, J, 2)`` normalised
screen coordinates, ``poses_3d (B, T, J, 3)`` metres root-relative, ``valid (B, T, J)`` bool, and optionally
``root_trajectory (B, T, 3)`` metres and ``projected_2d (B,)`` bool.
"""

from __future__ import annotations

import math
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


def random_rotations(
    batch_size: int,
    max_yaw: float,
    pitch: tuple[float, float],
    generator: torch.Generator,
    device: torch.device,
) -> torch.Tensor:
    """``(batch, 3, 3)`` rotations of camera-coordinate poses: a yaw about the camera's vertical (y) axis, uniform
    in ``[-max_yaw, max_yaw]`` radians, then a pitch about its x axis, uniform in ``pitch = (low, high)`` radians.

    The yaw turns the subject about its own vertical axis; the pitch then moves the camera up or down around it:
    a positive pitch is a camera looking down at the subject (its head turns toward the camera). Pitching first
    would tilt the subject sideways once the yaw turns it (a camera with roll).
    """
    low, high = pitch
    yaw = (torch.rand(batch_size, generator=generator, device=device) * 2 - 1) * max_yaw
    pitch_angle = low + (high - low) * torch.rand(batch_size, generator=generator, device=device)
    zeros, ones = torch.zeros_like(yaw), torch.ones_like(yaw)
    cos, sin = pitch_angle.cos(), pitch_angle.sin()
    about_y = torch.stack([yaw.cos(), zeros, yaw.sin(), zeros, ones, zeros, -yaw.sin(), zeros, yaw.cos()], -1)
    about_x = torch.stack([ones, zeros, zeros, zeros, cos, -sin, zeros, sin, cos], -1)
    return about_x.view(-1, 3, 3) @ about_y.view(-1, 3, 3)


@dataclass
class VirtualCameras:
    """Ground-truth windows seen through random virtual cameras: new 2D-3D pairs from every 3D window.

    A fraction ``prob`` of the windows whose 2D is an exact projection (``projected_2d``) is rotated about its
    centre-frame pelvis (yaw about the camera's vertical axis up to ``max_yaw``, then a pitch in ``pitch`` radians:
    positive looks down at the subject, see :func:`random_rotations`),
    placed at a depth drawn from ``distance`` (metres) and a screen offset up to ``max_offset`` (in units of the
    depth), and projected through a pinhole camera of focal length drawn from ``focal`` (normalised screen units:
    Human3.6M's cameras are about 2.3; the principal point at the image centre). The window's 3D labels turn with
    it. Detector windows are left alone (their 2D belongs to the real camera). Needs ``root_trajectory`` in the
    batch.
    """

    prob: float = 0.0
    max_yaw: float = math.pi
    pitch: tuple[float, float] = (-0.35, 0.35)
    distance: tuple[float, float] = (2.5, 8.0)
    max_offset: float = 0.25
    focal: tuple[float, float] = (1.2, 3.5)

    def __post_init__(self) -> None:
        low, high = self.pitch
        if not -math.pi / 2 <= low <= high <= math.pi / 2:
            raise ValueError(f"VirtualCameras.pitch: expected -pi/2 <= low <= high <= pi/2 radians, got {self.pitch}")

    @property
    def active(self) -> bool:
        return self.prob > 0

    def __call__(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
        if not self.active:
            return batch
        if "root_trajectory" not in batch:
            raise ValueError("VirtualCameras: the batch has no root_trajectory (windows built without it)")
        poses, root = batch["poses_3d"], batch["root_trajectory"]
        batch_size, num_frames = poses.shape[:2]
        device = poses.device
        chosen = torch.rand(batch_size, generator=generator, device=device) < self.prob
        if "projected_2d" in batch:
            chosen = chosen & batch["projected_2d"].to(device)
        if not chosen.any():
            return batch
        rotation = random_rotations(batch_size, self.max_yaw, self.pitch, generator, device)
        turned = poses @ rotation[:, None].transpose(-1, -2)  # root-relative, so the pelvis stays at 0
        trajectory = (root - root[:, num_frames // 2 : num_frames // 2 + 1]) @ rotation.transpose(-1, -2)

        def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
            return low + (high - low) * torch.rand(batch_size, *shape, generator=generator, device=device)

        depth = uniform(*self.distance)
        offset = uniform(-self.max_offset, self.max_offset, 2) * depth[:, None]
        pivot = torch.cat([offset, depth[:, None]], dim=-1)  # (B, 3) centre-frame pelvis in the virtual camera
        absolute = turned + (trajectory + pivot[:, None])[:, :, None]
        projected = uniform(*self.focal)[:, None, None, None] * absolute[..., :2] / absolute[..., 2:].clamp(min=0.1)

        out = dict(batch)
        rows = chosen[:, None, None, None]
        out["poses_3d"] = torch.where(rows, turned, poses)
        out["keypoints_2d"] = torch.where(rows, projected.to(batch["keypoints_2d"].dtype), batch["keypoints_2d"])
        out["root_trajectory"] = torch.where(chosen[:, None, None], trajectory + pivot[:, None], root)
        return out


def _missing(batch: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    """Joints without a usable value: non-finite coordinates, and for the 2D the detections flagged invalid."""
    poses = batch[key]
    missing = ~torch.isfinite(poses).all(dim=-1)
    if "valid" in batch and key == "keypoints_2d":
        missing = missing | ~batch["valid"].bool()
    return missing


class PretrainStep:
    """Stage I: masked 2D modelling + masked 3D modelling (+ masked 2D->3D lifting with ``masked_lift``); masked 2D
    modelling alone with ``use_3d=False`` (the 2D-only arm of the paper's Table 6).

    ``unpaired`` (the release's choice) draws the 3D clip of each batch item from another window of the batch, so
    the 2D and 3D branches never see the same motion in one item.
    """

    def __init__(
        self,
        noise: DetectorNoise | None = None,
        masked_lift: bool = False,
        unpaired: bool = True,
        cameras: VirtualCameras | None = None,
        rotate_3d: bool = False,
        use_3d: bool = True,
    ):
        if masked_lift and not use_3d:
            raise ValueError("masked_lift: expected use_3d=True (lifting needs the 3D branch), got use_3d=False")
        self.noise = noise or DetectorNoise()
        self.masked_lift = masked_lift
        self.unpaired = unpaired
        self.cameras = cameras or VirtualCameras()
        self.rotate_3d = rotate_3d
        self.use_3d = use_3d

    def __call__(self, model, batch, generator):
        batch = self.cameras(batch, generator)
        clean, poses_3d = batch["keypoints_2d"], batch["poses_3d"]
        missing = _missing(batch, "keypoints_2d")
        keypoints, valid = self.noise(clean, ~missing, generator)
        targets_3d = poses_3d
        if self.unpaired:
            high = max(poses_3d.shape[0], 2)
            shift = int(torch.randint(1, high, (1,), generator=generator, device=generator.device))
            poses_3d = torch.roll(poses_3d, shifts=shift, dims=0)
        if self.rotate_3d:  # 3D needs no detector: every rotation of a 3D clip is a new sample
            rotation = random_rotations(poses_3d.shape[0], math.pi, self.cameras.pitch, generator,
                                        poses_3d.device)
            poses_3d = poses_3d @ rotation[:, None].transpose(-1, -2)
        spatial_2d, temporal_2d = _sample_stage_one_masks(model, keypoints, generator)
        output = model(
            keypoints_2d=torch.where(valid[..., None], keypoints, torch.zeros_like(keypoints)),
            poses_3d=poses_3d if self.use_3d else None,
            lift_labels=targets_3d if self.masked_lift else None,
            # the clean 2D is the target: dropped joints are reconstructed, missing detections are not scored
            labels_2d=torch.where(missing[..., None], torch.zeros_like(clean), clean),
            valid_2d=~missing,
            spatial_mask_2d=spatial_2d | ~valid,
            temporal_mask_2d=temporal_2d,
            generator=generator,
        )
        logs = {"loss_2d": output.loss_2d}
        if output.loss_3d is not None:
            logs["loss_3d"] = output.loss_3d
        if output.loss_lift is not None:
            logs["loss_lift"] = output.loss_lift
        return output.loss, logs


def _sample_stage_one_masks(model, poses: torch.Tensor, generator: torch.Generator):
    unwrapped = model.module if hasattr(model, "module") else model
    return unwrapped._sample_masks(poses, generator)


class LiftingStep:
    """Stage II lifting: centre-frame + all-frame MPJPE; missing / dropped joints go in as masked joints."""

    def __init__(self, noise: DetectorNoise | None = None, cameras: VirtualCameras | None = None):
        self.noise = noise or DetectorNoise()
        self.cameras = cameras or VirtualCameras()

    def __call__(self, model, batch, generator):
        batch = self.cameras(batch, generator)
        keypoints = batch["keypoints_2d"]
        missing = _missing(batch, "keypoints_2d")
        keypoints, valid = self.noise(keypoints, ~missing, generator)
        keypoints = torch.where(valid[..., None], keypoints, torch.zeros_like(keypoints))
        output = model(poses=keypoints, spatial_mask=~valid, labels=batch["poses_3d"])
        return output.loss, {"loss_centre": output.loss_centre, "loss_sequence": output.loss_sequence}


# Body-part masks of the paper's completion tables (Table 3: both legs, both arms, a leg and an arm of one side;
# Table 4: each limb), drawn by CompletionStep's ``part_prob``.
COMPLETION_PARTS = ("right_leg", "left_leg", "left_arm", "right_arm", "legs", "arms", "left_arm_left_leg",
                    "right_arm_right_leg")


class CompletionStep:
    """Stage II completion: tube masks (the same joints hidden in every frame) on 2D (``modality="2d"``, partial
    2D->3D), 3D (``"3d"``, partial 3D->3D) or both (``"both"``: the first half of every batch as 2D, the second
    as 3D, one loss averaged over the two, so one model serves both tasks).

    Hidden joints per window: with ``occluded``, one of those body parts; otherwise, with probability
    ``part_prob`` one of :data:`COMPLETION_PARTS`, else ``1 .. num_masked`` random joints other than the pelvis
    (a uniform count per window; ``fixed_count=True`` hides exactly ``num_masked``, the release's setting).
    ``part_weights`` (``{part: weight}``, the parts not named weighing 1) makes some parts more frequent than
    others, e.g. ``{"legs": 3}`` for the hardest of the paper's 2D->3D settings; uniform when omitted.
    ``cameras`` re-projects ground-truth 2D windows through virtual cameras first (see :class:`VirtualCameras`).
    """

    def __init__(
        self,
        modality: str = "3d",
        num_masked: int = 5,
        occluded: tuple[str, ...] = (),
        part_prob: float = 0.0,
        fixed_count: bool = True,
        cameras: VirtualCameras | None = None,
        part_weights: dict[str, float] | None = None,
    ):
        if modality not in ("2d", "3d", "both"):
            raise ValueError(f"modality: expected '2d', '3d' or 'both', got {modality!r}")
        unknown = [part for part in occluded if part not in BODY_PARTS]
        if unknown:
            raise ValueError(f"occluded: expected body parts among {sorted(BODY_PARTS)}, got {unknown}")
        if not 0 <= part_prob <= 1:
            raise ValueError(f"part_prob: expected a probability in [0, 1], got {part_prob}")
        self.part_weights = None
        if part_weights:
            unknown = sorted(set(part_weights) - set(COMPLETION_PARTS))
            if unknown:
                raise ValueError(f"part_weights: expected parts among {list(COMPLETION_PARTS)}, got {unknown}")
            weights = [float(part_weights.get(part, 1.0)) for part in COMPLETION_PARTS]
            if min(weights) < 0 or sum(weights) <= 0 or not all(math.isfinite(w) for w in weights):
                raise ValueError(f"part_weights: expected finite weights >= 0 with a positive sum, got {part_weights}")
            self.part_weights = torch.tensor(weights)
        self.modality = modality
        self.num_masked = num_masked
        self.occluded = tuple(occluded)
        self.part_prob = part_prob
        self.fixed_count = fixed_count
        self.cameras = cameras or VirtualCameras()

    def _hidden(self, batch_size: int, num_frames: int, num_joints: int, generator, device) -> torch.Tensor:
        """``(batch, frames, joints)`` tube mask."""
        if self.occluded:
            return _part_masks(self.occluded, batch_size, num_frames, num_joints, generator, device)
        if self.fixed_count:
            mask = sample_tube_mask(batch_size, num_frames, num_joints, self.num_masked, generator, device)
        else:
            counts = torch.randint(1, self.num_masked + 1, (batch_size, 1), generator=generator, device=device)
            scores = torch.rand(batch_size, num_joints, generator=generator, device=device)
            scores[:, 0] = 2.0  # never the pelvis: the root of every 3D pose
            ranks = scores.argsort(dim=-1).argsort(dim=-1)
            mask = (ranks < counts)[:, None, :].expand(batch_size, num_frames, num_joints)
        if self.part_prob > 0:
            parts = _part_masks(COMPLETION_PARTS, batch_size, num_frames, num_joints, generator, device,
                                weights=self.part_weights)
            use_parts = torch.rand(batch_size, generator=generator, device=device) < self.part_prob
            mask = torch.where(use_parts[:, None, None], parts, mask)
        return mask

    def _loss(self, model, batch, key: str, rows: slice, generator):
        poses = batch[key][rows]
        batch_size, num_frames, num_joints, _ = poses.shape
        mask = self._hidden(batch_size, num_frames, num_joints, generator, poses.device)
        missing = _missing(batch, key)[rows]
        mask = mask | missing
        poses = torch.where(mask[..., None], torch.zeros_like(poses), poses)
        return model(poses=poses, spatial_mask=mask, labels=batch["poses_3d"][rows]).loss

    def __call__(self, model, batch, generator):
        batch = self.cameras(batch, generator)
        if self.modality != "both":
            key = "keypoints_2d" if self.modality == "2d" else "poses_3d"
            return self._loss(model, batch, key, slice(None), generator), {}
        half = max(batch["poses_3d"].shape[0] // 2, 1)
        loss_2d = self._loss(model, batch, "keypoints_2d", slice(0, half), generator)
        loss_3d = self._loss(model, batch, "poses_3d", slice(half, None), generator)
        return (loss_2d + loss_3d) / 2, {"loss_2d_to_3d": loss_2d, "loss_3d_to_3d": loss_3d}


def _part_masks(parts: tuple[str, ...], batch_size: int, num_frames: int, num_joints: int, generator, device,
                weights: torch.Tensor | None = None):
    """One of ``parts`` per window (uniformly, or in proportion to ``weights``), hidden in every frame:
    ``(batch, frames, joints)``."""
    table = torch.zeros(len(parts), num_joints, dtype=torch.bool, device=device)
    for index, part in enumerate(parts):
        table[index, resolve_joints(part, num_joints)] = True
    if weights is None:
        choice = torch.randint(len(parts), (batch_size,), generator=generator, device=device)
    else:
        choice = torch.multinomial(weights.to(device), batch_size, replacement=True, generator=generator)
    return table[choice][:, None, :].expand(batch_size, num_frames, num_joints)
