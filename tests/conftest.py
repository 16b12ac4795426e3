"""Shared pytest fixtures: seeded RNG, the shared real-data folder (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.hub_fixtures import hub_env, hub_server  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """The licensed real-data folder: ``$MPM_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    env = os.environ.get("MPM_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


@pytest.fixture
def shared_data_dir() -> Path:
    root = shared_data_root()
    if not (root / "h36m").is_dir():
        pytest.skip(f"shared real data not found at {root}")
    return root


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    np.random.seed(0)
    yield
