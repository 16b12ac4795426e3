"""Corpora by name: which loader reads ``h36m``, ``3dhp``, ``amass`` and ``synthetic``, and each one's paper tds.

The names are those of ``--dataset`` in ``examples/`` (training and evaluation alike); a corpus's loader is imported
only when that corpus is asked for. Every loader returns per-sequence dicts with ``keypoints_2d (frames, joints, 2)``
in normalised screen coordinates, ``poses_3d (frames, joints, 3)`` in metres (root-relative) and ``valid (frames,
joints)``, plus what the corpus has (``root_trajectory``, ``action``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

CORPORA = ("h36m", "3dhp", "amass", "synthetic")

# The paper's temporal downsampling (tds) per corpus: Human3.6M at 50 fps takes every 2nd frame, MPI-INF-3DHP
# every frame; AMASS is resampled to 50 fps by its loader and the synthetic corpus imitates Human3.6M.
CORPUS_DOWNSAMPLE = {"h36m": 2, "3dhp": 1, "amass": 2, "synthetic": 2}

# Frame rate (frames per second) of each corpus as its loader returns it; a model records its corpora's rate
# (``MPMConfig.fps``) so that other rates are lifted at the frame spacing it was trained on. MPI-INF-3DHP mixes
# 25 and 50 fps sequences: unknown.
CORPUS_FPS = {"h36m": 50.0, "3dhp": None, "amass": 50.0, "synthetic": 50.0}


# Corpora whose 2D is their 3D projected through the camera (training windows may then be re-projected through
# virtual cameras); Human3.6M's is only for its "gt" source.
PROJECTED_2D_CORPORA = ("amass", "synthetic", "3dhp")


def corpora_fps(names: Sequence[str]) -> float | None:
    """The frame rate shared by the corpora ``names``, or None when one is unknown or they differ."""
    rates = {CORPUS_FPS.get(name) for name in names}
    return rates.pop() if len(rates) == 1 else None


def load_corpus(
    name: str,
    data_dir: str | os.PathLike,
    split: str = "train",
    subjects: Sequence[str] | None = None,
    keypoints: str | os.PathLike = "gt",
    body_model: str | os.PathLike | None = None,
    joint_regressor: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """The sequences of one corpus, as its loader returns them.

    Args:
        name: One of ``CORPORA``.
        data_dir: Folder of the corpus files (for ``amass``: the AMASS ``.npz`` files, searched recursively).
        split: ``"train"`` or ``"test"`` (MPI-INF-3DHP's files and the synthetic corpus's seed; Human3.6M's split
            is its ``subjects``).
        subjects: Human3.6M subjects (default: the protocol's training or test subjects for ``split``).
        keypoints: Human3.6M 2D source: ``gt`` (projected), a detector name (``sh_pt_mpii``, ``cpn_ft_h36m_dbb``)
            or a 2D file.
        body_model, joint_regressor: AMASS's SMPL-H model and vertex -> joint regressor
            (``mpm_hf.data.amass.load_amass_arrays``).
    """
    if name == "h36m":
        from .h36m import TEST_SUBJECTS, TRAIN_SUBJECTS, load_h36m_arrays

        if subjects is None:
            subjects = TRAIN_SUBJECTS if split == "train" else TEST_SUBJECTS
        return load_h36m_arrays(data_dir, subjects=tuple(subjects), keypoints=keypoints)
    if name == "3dhp":
        from .mpi_inf_3dhp import load_mpi_inf_3dhp_arrays

        return load_mpi_inf_3dhp_arrays(data_dir, split=split)
    if name == "amass":
        from .amass import load_amass_arrays

        return load_amass_arrays(data_dir, body_model_path=body_model, joint_regressor=joint_regressor)
    if name == "synthetic":
        from .synthetic import synthetic_sequences

        return synthetic_sequences(num_sequences=8, num_frames=400, seed=0 if split == "train" else 1)
    raise ValueError(f"--dataset: expected names among {CORPORA}, got {name!r}")
