"""Corpora named on the command line -> training windows (``PoseWindows``), read by ``mpm_hf.data.corpora``."""

from __future__ import annotations

from ..data.corpora import PROJECTED_2D_CORPORA, load_corpus
from ..data.windows import MixedPoseWindows, PoseWindows
from ..keypoints import model_skeleton
from .arguments import DataArguments, resolve_downsample


def build_windows(
    data_args: DataArguments, num_frames: int, split: str = "train"
) -> PoseWindows | MixedPoseWindows:
    """Windows of ``num_frames`` over every corpus in ``--dataset`` (mixed when several); Human3.6M gives one window
    set per 2D source of ``--keypoints`` (``gt,sh_pt_mpii``: every frame once with projected and once with detected
    2D). Windows carry the root trajectory where the corpus has one (for virtual cameras)."""
    downsample = resolve_downsample(data_args)  # one tds for the run: the model's config records it
    parts = []
    for name in data_args.dataset:
        for source in data_args.keypoints if name == "h36m" else [None]:
            sequences = load_corpus(name, data_args.data_dir, split, subjects=data_args.subjects,
                                    keypoints=source or data_args.keypoints[0])
            if not sequences:
                raise ValueError(f"--dataset {name}: no sequences found in {data_args.data_dir}")
            with_root = all("root_trajectory" in s for s in sequences)
            parts.append(
                PoseWindows(
                    keypoints_2d=[s["keypoints_2d"] for s in sequences],
                    poses_3d=[s["poses_3d"] for s in sequences],
                    valid=[s["valid"] for s in sequences],
                    root_trajectory=[s["root_trajectory"] for s in sequences] if with_root else None,
                    # Human3.6M's 2D is the projection only for "gt"; the other corpora's 2D is their 3D projected
                    projected_2d=with_root and (source == "gt" if name == "h36m" else name in PROJECTED_2D_CORPORA),
                    num_frames=num_frames,
                    stride=data_args.window_stride,
                    downsample=downsample,
                    flip_augment=data_args.flip_augment,
                    skeleton=model_skeleton(sequences[0]["keypoints_2d"].shape[1]),
                )
            )
    if len({tuple(sorted(p.arrays)) for p in parts}) > 1:  # e.g. Human3.6M with AMASS: drop what not all have
        for part in parts:
            part.arrays.pop("root_trajectory", None)
            part.projected_2d = False
    if data_args.virtual_camera_prob > 0 and not any(part.projected_2d for part in parts):
        raise ValueError(
            f"--virtual-camera-prob {data_args.virtual_camera_prob}: no window set of --dataset "
            f"{','.join(data_args.dataset)} (--keypoints {','.join(data_args.keypoints)}) has ground-truth 2D with a "
            "root trajectory to re-project; use --keypoints gt or --virtual-camera-prob 0"
        )
    return parts[0] if len(parts) == 1 else MixedPoseWindows(parts)
