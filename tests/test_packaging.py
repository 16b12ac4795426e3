"""The package as users get it: a wheel built from the sources, installed into a folder, used away from the checkout.

The wheel is built and installed offline (``pip --no-index``, no build isolation) into a temporary folder; fresh
interpreters started with ``-S`` (so the editable install's ``.pth`` never puts ``src/`` on the path) import
``mpm_hf`` from there and the dependencies from this environment's site-packages, in a working directory outside
the repository. Anything read relative to the checkout (the card template used to be) fails here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from packaging.requirements import Requirement

from mpm_hf import MPMConfig, MPMForPoseLifting

from .conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # build + install + two fresh interpreters importing torch: ~15 s

REPORT = {"task": "lifting", "dataset": "h36m", "subjects": "S9,S11", "keypoints": "gt", "mpjpe": 41.234,
          "p_mpjpe": 33.5, "mode": "per_frame", "flip_test": True}

_CARD_SCRIPT = """
import json, sys
from pathlib import Path
import mpm_hf
from mpm_hf.hub import TEMPLATE, generate_model_card, read_json_file, read_model_folder_config

folder = Path(sys.argv[1])
config = read_model_folder_config(folder)
card = generate_model_card(config, repo_id="tester/mpm-tiny", results=read_json_file(folder / "eval_results.json"),
                           datasets=("h36m", "amass"))
print(json.dumps({"package": mpm_hf.__file__, "template": str(TEMPLATE), "path": sys.path, "card": card}))
"""


def _pip(*args: str, cwd: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args, "--no-index", "--disable-pip-version-check"],
                          capture_output=True, text=True, timeout=120, cwd=cwd)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """The wheel built from a copy of the sources (the checkout stays clean) and the folder it is installed in."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    source.mkdir()
    shutil.copy2(REPO_ROOT / "pyproject.toml", source)
    shutil.copy2(REPO_ROOT / "README.md", source)
    shutil.copytree(REPO_ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(root / "dist"), str(source), cwd=root)
    (wheel,) = (root / "dist").glob("mpm_hf-*.whl")
    _pip("install", "--no-deps", "--target", str(root / "target"), str(wheel), cwd=root)
    return {"root": root, "wheel": wheel, "target": root / "target"}


def _run_installed(installed: dict[str, Path], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -S *args`` seeing the installed wheel and this environment's dependencies, nothing of the checkout."""
    dependencies = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PYTHONPATH=os.pathsep.join([str(installed["target"]), *dependencies]), PYTHONNOUSERSITE="1",
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-S", *args], env=env, capture_output=True, text=True, timeout=180,
                          cwd=cwd)


@pytest.fixture(scope="module")
def model_folder(installed) -> Path:
    """A tiny ``save_pretrained`` lifting model with an evaluation report, outside the repository."""
    folder = installed["root"] / "model"
    config = MPMConfig(num_frames=27, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                       num_hidden_layers=1)
    torch.manual_seed(0)
    MPMForPoseLifting(config).save_pretrained(folder)
    (folder / "eval_results.json").write_text(json.dumps([REPORT]))
    return folder


def test_wheel_holds_the_card_template_and_declares_the_cli_and_satisfied_floors(installed):
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = set(wheel.namelist())
        (dist_info,) = {name.split("/")[0] for name in names if name.split("/")[0].endswith(".dist-info")}
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
        wheel_metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
    assert {"mpm_hf/hub/model_card_template.md", "mpm_hf/py.typed", "mpm_hf/hub/card.py"} <= names
    assert not any(name.startswith(("tests/", "scripts/")) or name == "MODEL_CARD.md" for name in names)
    assert "mpm-hf = mpm_hf.cli:main" in entry_points
    assert (installed["target"] / "bin" / "mpm-hf").is_file()

    # Every runtime floor is met by the environment the tests run in: no floor is above what is tested.
    requirements = [Requirement(text) for text in wheel_metadata.get_all("Requires-Dist")]
    runtime = [req for req in requirements if req.marker is None]
    assert {req.name for req in runtime} >= {"torch", "transformers", "datasets", "huggingface-hub"}
    for req in runtime:
        installed_version = metadata.version(req.name)
        assert req.specifier.contains(installed_version, prereleases=True), (req, installed_version)
    assert all(req.specifier for req in runtime), "every dependency declares a floor"


def test_cli_info_runs_from_the_installed_wheel_outside_the_checkout(installed, model_folder, tmp_path):
    assert not tmp_path.is_relative_to(REPO_ROOT)
    done = _run_installed(installed, tmp_path, "-m", "mpm_hf.cli", "info", "--model", str(model_folder))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "mpm-hf 0.1.0"
    assert "  architecture: MPMForPoseLifting" in lines and "  num_frames: 27" in lines
    num_parameters = sum(p.numel() for p in MPMForPoseLifting.from_pretrained(model_folder).parameters())
    assert f"  parameters: {num_parameters:,} ({num_parameters / 1e6:.2f} M)" in lines


def test_model_card_from_the_installed_wheel_has_the_hub_metadata(installed, model_folder, tmp_path):
    done = _run_installed(installed, tmp_path, "-c", _CARD_SCRIPT, str(model_folder))
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    target = installed["target"].resolve()
    assert Path(out["package"]).resolve().is_relative_to(target)  # the wheel's mpm_hf, not the checkout's
    assert Path(out["template"]).resolve().is_relative_to(target)
    checkout = {REPO_ROOT, REPO_ROOT / "src"}
    assert not checkout & {Path(entry).resolve() for entry in out["path"] if entry}

    card = ModelCard(out["card"])
    data = card.data
    assert data.library_name == "transformers" and data.pipeline_tag == "keypoint-detection"
    assert data.tags[:4] == ["custom_code", "mpm", "mpm-hf", "pose-estimation"] and "3d-human-pose" in data.tags
    assert data.license == "other" and data.license_name == "academic-non-commercial"
    assert data.datasets == ["human3.6m", "amass"]
    assert data.model_name == "mpm-tiny"
    results = {(r.task_type, r.dataset_type, r.dataset_config, r.dataset_split, r.metric_type, r.metric_config):
               r.metric_value for r in data.eval_results}
    assert results == {
        ("pose-lifting", "human3.6m", "gt", "S9,S11", "mpjpe", "per_frame, flip test"): 41.23,
        ("pose-lifting", "human3.6m", "gt", "S9,S11", "p-mpjpe", "per_frame, flip test"): 33.5,
    }
    assert "| Frames per window | 27 " in card.text and "| 41.23 |" in card.text
    assert 'pipeline("pose-lifting", model="tester/mpm-tiny")' in card.text and "arXiv:2306.17201" in card.text
    assert re.search(r"\{\{\s*\w+\s*\}\}", card.text) is None  # every placeholder filled


_DEFAULT_MODEL_SCRIPT = r"""
import json, sys
import numpy as np
import mpm_hf
from transformers import pipeline
from mpm_hf.data.synthetic import synthetic_sequences

keypoints = synthetic_sequences(num_sequences=1, num_frames=40, seed=3)[0]["keypoints_2d"] * 500 + 640
lifted = pipeline("pose-lifting")(keypoints)["poses_3d"]
completed = pipeline("pose-completion")(synthetic_sequences(1, 40, seed=4)[0]["poses_3d"], occluded_joints="left_arm")
print(json.dumps({"package": mpm_hf.__file__, "lifted": list(lifted.shape), "finite": bool(np.isfinite(lifted).all()),
                  "completed": list(completed["poses_3d"].shape)}))
"""


@pytest.mark.skipif(not (REPO_ROOT / "src" / "mpm_hf" / "default_models" / "lifting" / "config.json").is_file(),
                    reason="this checkout has no packaged default models")
def test_the_default_models_travel_with_the_wheel(installed, tmp_path):
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = set(wheel.namelist())
    for task in ("lifting", "completion"):
        assert {f"mpm_hf/default_models/{task}/{name}" for name in ("config.json", "model.safetensors",
                                                                    "checksums.json")} <= names
    # offline (HF_HUB_OFFLINE=1), from a folder outside the checkout, no model named: the packaged defaults
    done = _run_installed(installed, tmp_path, "-c", _DEFAULT_MODEL_SCRIPT)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(out["package"]).resolve().is_relative_to(installed["target"].resolve())
    assert out["lifted"] == [40, 17, 3] and out["finite"] and out["completed"] == [40, 17, 3]
