"""The default models that travel with the package: ``pipeline("pose-lifting")`` and ``mpm-hf lift`` without a model.

The weights and configs of the shipped lifting and completion models (a few MB each) are package data under
``mpm_hf/default_models/<lifting|completion>/``: they load offline, from any folder, after ``pip install``. The
same files (with the model card, remote code and evaluation results) are in the repository's ``pretrained/``
folders, the ones pushed to the Hub.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["DEFAULT_MODEL_FOLDERS", "default_model_path"]

DEFAULT_MODEL_FOLDERS = {"pose-lifting": "lifting", "pose-completion": "completion"}
"""Pipeline task -> folder of ``mpm_hf/default_models``."""


def default_model_path(task: str) -> Path | None:
    """The packaged default model folder of ``task`` (``"pose-lifting"`` / ``"pose-completion"``), or None when
    this installation has none (e.g. a source checkout before the models were trained)."""
    if task not in DEFAULT_MODEL_FOLDERS:
        raise ValueError(f"task: expected one of {sorted(DEFAULT_MODEL_FOLDERS)}, got {task!r}")
    folder = Path(str(resources.files("mpm_hf"))) / "default_models" / DEFAULT_MODEL_FOLDERS[task]
    return folder if (folder / "config.json").is_file() else None
