"""The checkpoints shipped in pretrained/ (and packaged as the defaults) load, run, match the library's code and are
as accurate as their cards say."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from mpm_hf import MPMForPoseLifting
from mpm_hf.auto import HUB_PIPELINE_FILE, HUB_PIPELINE_SOURCE
from mpm_hf.checksums import sha256_file
from mpm_hf.defaults import DEFAULT_MODEL_FOLDERS, PARTIAL_2D_COMPLETION_FOLDER, default_model_path

from .conftest import REPO_ROOT
from .test_modeling_idioms import _needed_python_files

PRETRAINED = REPO_ROOT / "pretrained"
FOLDERS = sorted(path for path in PRETRAINED.iterdir() if (path / "config.json").is_file())
LIFTING = [path for path in FOLDERS if json.loads((path / "config.json").read_text())["architectures"] == [
    "MPMForPoseLifting"]]
SHIPPED = next(path for path in LIFTING if path.name == "mpm-h36m-27f-lifting") if any(
    path.name == "mpm-h36m-27f-lifting" for path in LIFTING) else LIFTING[0]


def test_shipped_model_loads_and_lifts_a_generated_sequence():
    from transformers import pipeline

    from mpm_hf.data.synthetic import synthetic_sequences

    model = MPMForPoseLifting.from_pretrained(SHIPPED).eval()
    assert model.config.num_frames == 27 and model.config.downsample == 2
    sequence = synthetic_sequences(num_sequences=1, num_frames=60, seed=3)[0]
    result = pipeline("pose-lifting", model=model)(sequence["keypoints_2d"], normalized=True)
    poses = result["poses_3d"]
    assert poses.shape == (60, 17, 3) and np.isfinite(poses).all()
    assert (poses[:, 0] == 0).all()
    # a human-sized skeleton: thigh bones (hip-knee) of 0.3-0.6 m
    thigh = np.linalg.norm(poses[:, 2] - poses[:, 1], axis=-1)
    assert 0.25 < float(np.median(thigh)) < 0.65


@pytest.mark.shared_data
@pytest.mark.parametrize("folder", LIFTING, ids=lambda path: path.name)
def test_shipped_lifting_accuracy_on_s9_matches_its_card(shared_data_dir, folder):
    from mpm_hf.data.h36m import load_h36m_arrays
    from mpm_hf.evaluation import evaluate_lifting

    torch.manual_seed(0)
    model = MPMForPoseLifting.from_pretrained(folder).eval()
    sequences = load_h36m_arrays(shared_data_dir / "h36m", subjects=("S9",), keypoints="gt", actions=("Walking",))
    report = evaluate_lifting(model, sequences, frame_step=20, progress=False)
    card = next(result for result in json.loads((folder / "eval_results.json").read_text())
                if result.get("keypoints") == "gt" and result.get("mode", "per_frame") == "per_frame"
                and "per_action" in result)
    assert report["num_frames"] > 500
    # every 20th frame of Walking against the card's Walking figure (all its frames)
    assert abs(report["mpjpe"] - card["per_action"]["Walking"]["mpjpe"]) < 1.5


@pytest.mark.parametrize(("task", "modality"), [*((task, None) for task in sorted(DEFAULT_MODEL_FOLDERS)),
                                                ("pose-completion", "2d")])
def test_packaged_defaults_are_the_shipped_folders(task, modality):
    packaged = default_model_path(task, modality)
    if packaged is None:
        pytest.skip(f"no packaged default {task} model")
    head = {"pose-lifting": "MPMForPoseLifting", "pose-completion": "MPMForPoseCompletion"}[task]
    (shipped,) = [path for path in FOLDERS
                  if json.loads((path / "config.json").read_text())["architectures"] == [head]
                  and sha256_file(path / "model.safetensors") == sha256_file(packaged / "model.safetensors")]
    for name in ("config.json", "checksums.json"):  # the same files, so the same checksums verify both
        assert (packaged / name).read_text() == (shipped / name).read_text(), name


def test_the_partial_2d_completion_default_falls_back_to_the_completion_default():
    default = default_model_path("pose-completion")
    partial_2d = default_model_path("pose-completion", "2d")
    if default is None:
        pytest.skip("no packaged default pose-completion model")
    assert partial_2d.name in (PARTIAL_2D_COMPLETION_FOLDER, default.name)
    assert partial_2d.name == PARTIAL_2D_COMPLETION_FOLDER or not (
        default.parent / PARTIAL_2D_COMPLETION_FOLDER / "config.json").is_file()
    assert default_model_path("pose-completion", "3d") == default == default_model_path("pose-completion")
    assert default_model_path("pose-lifting", "2d") == default_model_path("pose-lifting")
    with pytest.raises(ValueError, match="modality: expected '2d', '3d' or None, got '2D'"):
        default_model_path("pose-completion", "2D")


def test_ship_model_script_writes_weights_card_and_results(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("ship_model", REPO_ROOT / "scripts" / "ship_model.py")
    ship_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship_model)
    from mpm_hf import MPMConfig

    torch.manual_seed(0)
    run = tmp_path / "run"
    MPMForPoseLifting(MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                num_hidden_layers=1)).save_pretrained(run)
    report = {"task": "lifting", "dataset": "h36m", "subjects": "S9", "keypoints": "gt", "mode": "per_frame",
              "flip_test": False, "frame_step": 1, "num_frames": 100, "mpjpe": 55.55, "p_mpjpe": 40.25}
    (tmp_path / "gt.json").write_text(json.dumps(report))
    (tmp_path / "training.json").write_text(json.dumps({"stage II": "12 steps on synthetic data"}))
    out = tmp_path / "shipped"
    out.mkdir()
    (out / "pytorch_model.bin").write_bytes(b"stale")
    argv = [str(run), str(out), "--results", str(tmp_path / "gt.json"), "--training", str(tmp_path / "training.json")]
    assert ship_model.main(argv) == 0
    assert not (out / "pytorch_model.bin").exists() and (out / "checksums.json").is_file()
    card = (out / "README.md").read_text()
    assert "55.55" in card and "12 steps on synthetic data" in card and "name: shipped" in card
    assert json.loads((out / "eval_results.json").read_text()) == [report]
    torch.testing.assert_close(MPMForPoseLifting.from_pretrained(out).state_dict(),
                               MPMForPoseLifting.from_pretrained(run).state_dict())
    assert "- human3.6m" in card and "AMASS" not in card  # the default training corpus
    assert ship_model.main([*argv, "--datasets", "h36m,amass"]) == 0
    assert "- amass" in (out / "README.md").read_text()
    assert ship_model.main([str(tmp_path / "nowhere"), str(out)]) == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert ship_model.main([str(run), str(out), "--results", str(tmp_path / "bad.json")]) == 2


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda path: path.name)
def test_shipped_remote_code_is_the_library_code(folder):
    # `trust_remote_code=True` users run the .py files the config names (auto_map, custom_pipelines) and what they
    # import: they must be the library as it is, and the folder holds no others. To refresh them:
    # <Head>.from_pretrained(folder).save_pretrained(folder) (the weights file stays byte for byte)
    needed = _needed_python_files(folder)
    assert {"configuration_mpm.py", "modeling_mpm.py"} <= needed
    assert {path.name for path in folder.glob("*.py")} == needed
    library = REPO_ROOT / "src" / "mpm_hf"
    source = {name: library / name for name in needed} | {HUB_PIPELINE_FILE: HUB_PIPELINE_SOURCE}
    stale = [name for name in sorted(needed) if (folder / name).read_text() != source[name].read_text()]
    assert not stale, f"{folder} has stale copies of {stale}"


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda path: path.name)
def test_shipped_config_declares_what_its_head_saves_today(tmp_path, folder):
    # no stale auto_map entry (another head, a class the folder's code does not define) and the head's pipeline
    import mpm_hf

    shipped = json.loads((folder / "config.json").read_text())
    (architecture,) = shipped["architectures"]
    getattr(mpm_hf, architecture)(mpm_hf.MPMConfig.from_pretrained(folder)).save_pretrained(tmp_path)
    fresh = json.loads((tmp_path / "config.json").read_text())
    assert shipped["auto_map"] == fresh["auto_map"]
    assert shipped.get("custom_pipelines") == fresh.get("custom_pipelines")
    defined = set(re.findall(r"^class (\w+)\(", (folder / "modeling_mpm.py").read_text(), flags=re.MULTILINE))
    defined |= set(re.findall(r"^class (\w+)\(", (folder / "configuration_mpm.py").read_text(), flags=re.MULTILINE))
    assert {reference.split(".")[1] for reference in shipped["auto_map"].values()} <= defined
