"""Checks on what is read from disk before anything is published: checkpoint folders and JSON files.

Both raise ``FileNotFoundError`` / ``ValueError`` whose message starts with the path (after the command-line flag
it came from, when given), so that the scripts can print it as a one-line error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..configuration_mpm import MPMConfig

__all__ = ["WEIGHT_FILES", "read_json_file", "read_model_folder_config"]

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
"""One of these marks a ``save_pretrained`` folder as holding weights (a single file, or shards with an index)."""


def read_model_folder_config(folder: str | Path) -> MPMConfig:
    """The ``MPMConfig`` of a ``save_pretrained`` folder, checked before anything is uploaded.

    Raises ``FileNotFoundError`` when the folder, its ``config.json`` or its weights are missing, and ``ValueError``
    when the config is not JSON, is not an MPM config (``model_type``) or has invalid values.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (expected the output of save_pretrained)")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{folder}: no config.json (expected the output of save_pretrained)")
    try:
        values = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_file}: not valid JSON ({error})") from error
    if not isinstance(values, dict):
        raise ValueError(f"{config_file}: expected a JSON object, got {type(values).__name__}")
    model_type = values.get("model_type")
    if model_type != MPMConfig.model_type:
        raise ValueError(
            f"{config_file}: model_type {model_type!r}, expected {MPMConfig.model_type!r} (an mpm-hf checkpoint)"
        )
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise FileNotFoundError(f"{folder}: no model.safetensors (expected the output of save_pretrained)")
    return MPMConfig.from_dict(values)


def read_json_file(path: str | Path, label: str | None = None) -> Any:
    """The parsed JSON of ``path``; ``FileNotFoundError`` / ``ValueError`` name the file (after ``label``, e.g. the
    command-line flag it came from)."""
    path = Path(path)
    where = f"{label} {path}" if label else str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{where}: file not found")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{where}: not valid JSON ({error})") from error
