"""``mpm_hf.data.corpora``: the loader and arguments each corpus name gets, for training and evaluation alike."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mpm_hf.data import amass, h36m, mpi_inf_3dhp
from mpm_hf.data.corpora import CORPORA, CORPUS_DOWNSAMPLE, load_corpus
from mpm_hf.data.synthetic import synthetic_sequences
from mpm_hf.training.arguments import CommaSeparated


def test_the_synthetic_corpus_has_distinct_train_and_test_sequences():
    train, test = load_corpus("synthetic", "unused"), load_corpus("synthetic", "unused", split="test")
    expected = synthetic_sequences(num_sequences=8, num_frames=400, seed=1)
    assert len(train) == len(test) == 8
    np.testing.assert_array_equal(test[0]["poses_3d"], expected[0]["poses_3d"])
    assert not np.allclose(train[0]["poses_3d"], test[0]["poses_3d"])


def test_each_corpus_name_reaches_its_loader_with_the_split_subjects_and_keypoints(monkeypatch):
    calls = []

    def record(name):
        def loader(*args, **kwargs):
            calls.append((name, args, kwargs))
            return []
        return loader

    monkeypatch.setattr(h36m, "load_h36m_arrays", record("h36m"))
    monkeypatch.setattr(mpi_inf_3dhp, "load_mpi_inf_3dhp_arrays", record("3dhp"))
    monkeypatch.setattr(amass, "load_amass_arrays", record("amass"))
    load_corpus("h36m", "data", split="test")  # the protocol's test subjects
    load_corpus("h36m", "data", subjects=["S1"], keypoints="sh_pt_mpii")
    load_corpus("3dhp", "data3dhp", split="test", subjects=["S1"])  # its split is its files: subjects unused
    load_corpus("amass", "amass", body_model="smplh", joint_regressor="j.npy")
    assert calls == [
        ("h36m", ("data",), {"subjects": ("S9", "S11"), "keypoints": "gt"}),
        ("h36m", ("data",), {"subjects": ("S1",), "keypoints": "sh_pt_mpii"}),
        ("3dhp", ("data3dhp",), {"split": "test"}),
        ("amass", ("amass",), {"body_model_path": "smplh", "joint_regressor": "j.npy"}),
    ]
    assert set(CORPUS_DOWNSAMPLE) == set(CORPORA)


def test_an_unknown_corpus_name_is_an_error():
    with pytest.raises(ValueError, match=re.escape(f"--dataset: expected names among {CORPORA}, got 'coco'")):
        load_corpus("coco", "data")


def test_models_record_the_frame_rate_of_their_corpora():
    from mpm_hf.data.corpora import corpora_fps

    assert corpora_fps(["h36m"]) == 50.0 and corpora_fps(["h36m", "amass"]) == 50.0
    assert corpora_fps(["3dhp"]) is None and corpora_fps(["h36m", "3dhp"]) is None


def test_fine_tuning_records_the_frame_rate_of_its_own_corpora(tmp_path):
    import torch

    from mpm_hf import MPMConfig, MPMForPoseLifting
    from mpm_hf.training.arguments import DataArguments, ModelArguments, build_model

    folder = tmp_path / "stage1"
    torch.manual_seed(0)
    MPMForPoseLifting(MPMConfig(num_frames=9, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                num_hidden_layers=1, fps=50.0, downsample=2)).save_pretrained(folder)
    model = build_model(MPMForPoseLifting, ModelArguments(), DataArguments(dataset=CommaSeparated("3dhp")),
                        init_from=str(folder))
    assert model.config.downsample == 1 and model.config.fps is None  # 3DHP's rate is unknown, not 50


def test_virtual_cameras_need_a_corpus_with_projected_2d_and_a_root():
    from mpm_hf.training.arguments import DataArguments
    from mpm_hf.training.datasets import build_windows

    arguments = DataArguments(dataset=CommaSeparated("synthetic"), virtual_camera_prob=0.5)
    with pytest.raises(ValueError, match="--virtual-camera-prob"):
        build_windows(arguments, num_frames=9)
