"""The default models that travel with the package: ``pipeline("pose-lifting")`` and ``mpm-hf lift`` without a model.

The weights and configs of the shipped lifting and completion models (a few MB each) are package data under
``mpm_hf/default_models/<lifting|completion>/``: they load offline, from any folder, after ``pip install``. The
same files (with the model card, remote code and evaluation results) are in the repository's ``pretrained/``
folders, the ones pushed to the Hub.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DEFAULT_MODEL_FOLDERS", "PARTIAL_2D_COMPLETION_FOLDER", "default_model_path"]

DEFAULT_MODEL_FOLDERS = {"pose-lifting": "lifting", "pose-completion": "completion"}
"""Pipeline task -> folder of ``mpm_hf/default_models``."""

PARTIAL_2D_COMPLETION_FOLDER = "completion-2d"
"""Folder of ``mpm_hf/default_models`` of the completion model fine-tuned for partial 2D input (the release's
separate partial 2D->3D setting); the ``"pose-completion"`` default serves partial 3D (and 2D)."""


def default_model_path(task: str, modality: str | None = None) -> Path | None:
    """The packaged default model folder of ``task`` (``"pose-lifting"`` / ``"pose-completion"``), or None when
    this installation has none (e.g. a source checkout before the models were trained). ``modality="2d"`` with
    ``"pose-completion"``: the model fine-tuned for partial 2D input where one is packaged, else the default."""
    if task not in DEFAULT_MODEL_FOLDERS:
        raise ValueError(f"task: expected one of {sorted(DEFAULT_MODEL_FOLDERS)}, got {task!r}")
    if modality not in (None, "2d", "3d"):
        raise ValueError(f"modality: expected '2d', '3d' or None, got {modality!r}")
    root = Path(str(resources.files("mpm_hf"))) / "default_models"
    partial_2d = root / PARTIAL_2D_COMPLETION_FOLDER
    if task == "pose-completion" and modality == "2d" and (partial_2d / "config.json").is_file():
        return partial_2d
    folder = root / DEFAULT_MODEL_FOLDERS[task]
    return folder if (folder / "config.json").is_file() else None
