"""Corpora named on the command line -> training windows (``PoseWindows``), and evaluation sequences."""

from __future__ import annotations

import argparse

from ..data.synthetic import synthetic_sequences
from ..data.windows import MixedPoseWindows, PoseWindows
from ..keypoints import model_skeleton
from .arguments import resolve_downsample

CORPORA = ("h36m", "3dhp", "amass", "synthetic")


def _keypoint_sources(args: argparse.Namespace) -> list[str]:
    sources = args.keypoints
    return [sources] if isinstance(sources, str) else list(sources)


def load_sequences(
    name: str, args: argparse.Namespace, split: str = "train", keypoints: str | None = None
) -> list[dict]:
    """Per-sequence dicts (``keypoints_2d``, ``poses_3d``, ``valid`` ...) of one corpus (``keypoints``: the
    Human3.6M 2D source, default the first of ``--keypoints``)."""
    if name == "h36m":
        from ..data.h36m import load_h36m_arrays

        return load_h36m_arrays(args.data_dir, subjects=tuple(args.subjects),
                                keypoints=keypoints or _keypoint_sources(args)[0])
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
    """Windows of ``num_frames`` over every corpus in ``args.dataset`` (mixed when several); Human3.6M gives one
    window set per 2D source of ``--keypoints`` (``gt,sh_pt_mpii``: every frame once with projected and once with
    detected 2D). Windows carry the root trajectory where the corpus has one (for virtual cameras)."""
    downsample = resolve_downsample(args)  # one tds for the run: the model's config records it
    parts = []
    for name in args.dataset:
        for source in _keypoint_sources(args) if name == "h36m" else [None]:
            sequences = load_sequences(name, args, split, keypoints=source)
            if not sequences:
                raise ValueError(f"--dataset {name}: no sequences found in {args.data_dir}")
            with_root = all("root_trajectory" in s for s in sequences)
            parts.append(
                PoseWindows(
                    keypoints_2d=[s["keypoints_2d"] for s in sequences],
                    poses_3d=[s["poses_3d"] for s in sequences],
                    valid=[s["valid"] for s in sequences],
                    root_trajectory=[s["root_trajectory"] for s in sequences] if with_root else None,
                    projected_2d=source == "gt",
                    num_frames=num_frames,
                    stride=args.window_stride,
                    downsample=downsample,
                    flip_augment=args.flip_augment,
                    skeleton=model_skeleton(sequences[0]["keypoints_2d"].shape[1]),
                )
            )
    if len({tuple(sorted(p.arrays)) for p in parts}) > 1:  # e.g. Human3.6M with AMASS: drop what not all have
        for part in parts:
            part.arrays.pop("root_trajectory", None)
    return parts[0] if len(parts) == 1 else MixedPoseWindows(parts)
