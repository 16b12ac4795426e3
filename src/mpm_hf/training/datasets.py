"""Corpora named on the command line -> training windows (``PoseWindows``), and evaluation sequences."""

from __future__ import annotations

import argparse

from ..data.synthetic import synthetic_sequences
from ..data.windows import MixedPoseWindows, PoseWindows
from ..keypoints import model_skeleton
from .arguments import resolve_downsample

CORPORA = ("h36m", "3dhp", "amass", "synthetic")


def load_sequences(name: str, args: argparse.Namespace, split: str = "train") -> list[dict]:
    """Per-sequence dicts (``keypoints_2d``, ``poses_3d``, ``valid`` ...) of one corpus."""
    if name == "h36m":
        from ..data.h36m import load_h36m_arrays

        return load_h36m_arrays(args.data_dir, subjects=tuple(args.subjects), keypoints=args.keypoints)
    if name == "3dhp":
        from ..data.mpi_inf_3dhp import load_mpi_inf_3dhp_arrays

        return load_mpi_inf_3dhp_arrays(getattr(args, "data_dir_3dhp", None) or args.data_dir, split=split)
    if name == "amass":
        from ..data.amass import load_amass_arrays

        return load_amass_arrays(
            getattr(args, "data_dir_amass", None) or args.data_dir,
            body_model_path=getattr(args, "body_model", None),
            joint_regressor=getattr(args, "joint_regressor", None),
        )
    if name == "synthetic":
        return synthetic_sequences(num_sequences=8, num_frames=400, seed=0 if split == "train" else 1)
    raise ValueError(f"--dataset: expected names among {CORPORA}, got {name!r}")


def build_windows(args: argparse.Namespace, num_frames: int, split: str = "train") -> PoseWindows | MixedPoseWindows:
    """Windows of ``num_frames`` over every corpus in ``args.dataset`` (mixed when several)."""
    downsample = resolve_downsample(args)  # one tds for the run: the model's config records it
    parts = []
    for name in args.dataset:
        sequences = load_sequences(name, args, split)
        if not sequences:
            raise ValueError(f"--dataset {name}: no sequences found in {args.data_dir}")
        parts.append(
            PoseWindows(
                keypoints_2d=[s["keypoints_2d"] for s in sequences],
                poses_3d=[s["poses_3d"] for s in sequences],
                valid=[s["valid"] for s in sequences],
                num_frames=num_frames,
                stride=args.window_stride,
                downsample=downsample,
                flip_augment=args.flip_augment,
                skeleton=model_skeleton(sequences[0]["keypoints_2d"].shape[1]),
            )
        )
    return parts[0] if len(parts) == 1 else MixedPoseWindows(parts)
